#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "spaces/net_graph.h"

namespace nasforge {

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

 private:
  NetGraph graph_;
  std::vector<int> last_use_;
  // Per node, the modules holding its weights; null holders for nodes without weights (add, pools, ...).
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<torch::nn::BatchNorm2d> bns_;
  std::vector<torch::nn::Linear> linears_;
};

/// Module holder for GraphNetImpl (libtorch's TORCH_MODULE idiom).
TORCH_MODULE(GraphNet);

/// Seeds libtorch's global generator; every module built afterwards starts from the same weights.
void seed_torch(std::uint64_t seed);

}  // namespace nasforge
