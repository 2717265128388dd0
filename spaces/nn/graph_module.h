#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "spaces/net_graph.h"

namespace nasforge {

/// Rewrites what a GraphNet computes without changing its modules: compression stages install one to
/// fake-quantize weights and activations. Both methods run inside forward(), so they see autograd.
class NodeTransform {
 public:
  virtual ~NodeTransform() = default;
  /// The weight the conv or linear node `node` computes with (default: `w` unchanged).
  virtual torch::Tensor weight(int node, const torch::Tensor& w) { return w; }
  /// Replaces node `node`'s output (after its activation); node 0 is the network input. Default: unchanged.
  virtual torch::Tensor output(int node, torch::Tensor y) { return y; }
};

/// A torch module that runs a NetGraph: one submodule per layer node, named after the node, executed in
/// graph order. Intermediate outputs are released right after their last use, so training memory follows
/// the same live-set rule the cost model counts.
class GraphNetImpl : public torch::nn::Module {
 public:
  /// Builds fresh (randomly initialised) layers for `graph`.
  explicit GraphNetImpl(NetGraph graph);
  /// Logits [N, num_classes] for a batch [N, C, H, W].
  torch::Tensor forward(const torch::Tensor& x);
  /// The graph this module was built from.
  const NetGraph& graph() const { return graph_; }
  /// Node `node`'s convolution (kConv), or a null holder.
  torch::nn::Conv2d conv(int node) const { return convs_.at(static_cast<std::size_t>(node)); }
  /// Node `node`'s BatchNorm (a kConv with batch_norm, or a kBatchNorm), or a null holder.
  torch::nn::BatchNorm2d bn(int node) const { return bns_.at(static_cast<std::size_t>(node)); }
  /// Node `node`'s linear layer (kLinear), or a null holder.
  torch::nn::Linear linear(int node) const { return linears_.at(static_cast<std::size_t>(node)); }
  /// Installs `t` (null removes it); forward() then routes weights and node outputs through it.
  void set_transform(std::shared_ptr<NodeTransform> t) { transform_ = std::move(t); }
  /// The installed transform, or null.
  const std::shared_ptr<NodeTransform>& transform() const { return transform_; }

 private:
  NetGraph graph_;
  std::vector<int> last_use_;
  // Per node, the modules holding its weights; null holders for nodes without weights (add, pools, ...).
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<torch::nn::BatchNorm2d> bns_;
  std::vector<torch::nn::Linear> linears_;
  std::shared_ptr<NodeTransform> transform_;
};

/// Module holder for GraphNetImpl (libtorch's TORCH_MODULE idiom).
TORCH_MODULE(GraphNet);

/// Seeds libtorch's global generator; every module built afterwards starts from the same weights.
void seed_torch(std::uint64_t seed);

}  // namespace nasforge
