#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace nasforge {

/// Shape of one sample (the batch dimension excluded): channels x height x width; a feature vector is C x 1 x 1.
struct Shape {
  std::int64_t c = 0;  ///< Channels (or features).
  std::int64_t h = 1;  ///< Height.
  std::int64_t w = 1;  ///< Width.
  /// c * h * w.
  std::int64_t numel() const { return c * h * w; }
  /// "CxHxW".
  std::string to_string() const;
  /// Component-wise equality.
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
  /// Component-wise inequality.
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

/// What one node of a NetGraph computes.
enum class OpKind {
  kInput,          ///< The network input (always node 0).
  kConv,           ///< 2-d convolution, optionally followed by BatchNorm and an activation.
  kLinear,         ///< Fully connected layer over the flattened input, optionally followed by an activation.
  kActivation,     ///< An elementwise activation on its own (e.g. the ReLU that starts NAS-Bench-201's ReLU-Conv-BN).
  kBatchNorm,      ///< BatchNorm2d on its own (e.g. before a classifier head).
  kAvgPool,        ///< Average pooling, padding not counted in the average.
  kMaxPool,        ///< Max pooling.
  kGlobalAvgPool,  ///< Mean over height and width: C x H x W -> C x 1 x 1.
  kAdd,            ///< Elementwise sum of two or more inputs of equal shape.
  kMul,            ///< inputs[0] * inputs[1], the second broadcast over H x W (squeeze-excitation gating).
  kDropout,        ///< Dropout with probability `dropout` during training.
};

/// Elementwise non-linearities a node can apply.
enum class Activation {
  kNone,
  kReLU,
  kReLU6,
  kHardSwish,
  kSigmoid,
  kHardSigmoid,
  kZero,  ///< 0 * x: NAS-Bench-201's `none` edge as its reference code computes it (cell `edges: all`).
};

/// "conv", "linear", ... (the names used in JSON).
const char* to_string(OpKind kind);
/// "none", "relu", "relu6", "hswish", "sigmoid", "hsigmoid", "zero".
const char* to_string(Activation act);
/// Inverse of to_string(Activation); ValueError listing the valid names.
Activation parse_activation(const std::string& name);

/// One node: an operation on the outputs of earlier nodes. Fields that do not apply to `kind` keep defaults.
struct NetNode {
  OpKind kind = OpKind::kInput;      ///< The operation.
  std::vector<int> inputs;           ///< Indices of earlier nodes (empty only for kInput).
  Shape out;                         ///< Output shape, computed when the node is added.
  std::int64_t out_channels = 0;     ///< kConv / kLinear: output channels or features.
  int kernel = 1;                    ///< kConv / pools: square kernel size.
  int stride = 1;                    ///< kConv / pools: stride.
  int padding = 0;                   ///< kConv / pools: zero padding on each side.
  int groups = 1;                    ///< kConv: groups (== input channels for a depthwise conv).
  bool bias = false;                 ///< kConv / kLinear: whether the layer has a bias.
  bool batch_norm = false;           ///< kConv: followed by BatchNorm2d (affine, with running statistics).
  Activation act = Activation::kNone;  ///< kConv / kLinear / kActivation: applied last.
  double dropout = 0;                ///< kDropout: drop probability.
  std::string name;                  ///< Readable, unique within the graph, e.g. "s1.b0.dw"; used for weights.
};

/// A network as a list of nodes in execution order (a DAG: every input index is smaller than the node's own).
/// It is the one description that the module builder, the cost model and compression stages all read, so
/// MACs and memory are counted on exactly the network that is trained. Builders check shapes as nodes are
/// added and throw InvalidArchitecture on a mismatch (e.g. a stride that shrinks the image below 1 pixel).
class NetGraph {
 public:
  /// A graph holding only its input node (index 0) of shape `input`; `num_classes` is recorded for the head.
  NetGraph(Shape input, int num_classes);

  /// Convolution with "same" padding ((kernel-1)/2), then BatchNorm if `batch_norm`, then `act`.
  int conv(int from, std::int64_t out_channels, int kernel, int stride, int groups, bool batch_norm,
           Activation act, const std::string& name, bool bias = false);
  /// Fully connected layer over the flattened input.
  int linear(int from, std::int64_t out_features, bool bias, Activation act, const std::string& name);
  /// A standalone activation.
  int activation(int from, Activation act, const std::string& name);
  /// A standalone BatchNorm2d.
  int batch_norm(int from, const std::string& name);
  /// Average pooling (count_include_pad = false).
  int avg_pool(int from, int kernel, int stride, int padding, const std::string& name);
  /// Max pooling.
  int max_pool(int from, int kernel, int stride, int padding, const std::string& name);
  /// Global average pooling to C x 1 x 1.
  int global_avg_pool(int from, const std::string& name);
  /// Elementwise sum; all inputs must have the same shape. One input returns it unchanged (no node added).
  int add(const std::vector<int>& from, const std::string& name);
  /// x * gate with gate of shape C x 1 x 1 broadcast over x's H x W.
  int mul(int x, int gate, const std::string& name);
  /// Dropout with probability p (0 adds no node and returns `from`).
  int dropout(int from, double p, const std::string& name);

  /// Marks the node whose output is the network output (the logits); defaults to the last node.
  void set_output(int node);
  /// The output node's index.
  int output() const;
  /// Input sample shape.
  const Shape& input_shape() const { return nodes_.front().out; }
  /// Number of classes the head predicts.
  int num_classes() const { return num_classes_; }
  /// All nodes in execution order.
  const std::vector<NetNode>& nodes() const { return nodes_; }
  /// Mutable access for compression stages that rewrite layers (e.g. remove channels) and then call
  /// recompute_shapes().
  std::vector<NetNode>& mutable_nodes() { return nodes_; }
  /// Re-derives every node's output shape from its inputs; InvalidArchitecture on a mismatch.
  void recompute_shapes();
  /// For each node, the index of the last node that reads it (the output node reads itself: nodes().size()).
  std::vector<int> last_use() const;

  /// A JSON object {input:[c,h,w], num_classes, output, nodes:[...]} that from_json reads back exactly.
  Json to_json() const;
  /// Inverse of to_json; DataError naming the bad field.
  static NetGraph from_json(const Json& j);

 private:
  int push(NetNode node);
  int pool(OpKind kind, int from, int kernel, int stride, int padding, const std::string& name);
  Shape infer(const NetNode& node) const;

  std::vector<NetNode> nodes_;
  int num_classes_ = 0;
  int output_ = -1;
};

}  // namespace nasforge
