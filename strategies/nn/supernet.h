#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "spaces/net_graph.h"
#include "strategies/differentiable_sampler.h"

namespace nasforge {

/// The candidate ops of one supernet edge (NAS-Bench-201 semantics, BN without affine parameters as in its
/// search phase); forward mixes them with one weight per op (DARTS) or runs only a sampled one (GDAS).
class MixedOpImpl : public torch::nn::Module {
 public:
  /// The ops named in `ops` (NAS-Bench-201 names) on `channels` channels, stride 1.
  MixedOpImpl(std::int64_t channels, const std::vector<std::string>& ops);
  /// sum_k weights[k] * op_k(x); `weights` has one entry per op.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weights);
  /// GDAS: only op `index` is computed, scaled by weights[index] (a straight-through hard weight of value 1).
  torch::Tensor forward_sampled(const torch::Tensor& x, const torch::Tensor& weights, std::int64_t index);
  /// Op `k` alone.
  torch::Tensor forward_op(const torch::Tensor& x, std::int64_t k);
  /// Number of ops.
  std::int64_t size() const { return static_cast<std::int64_t>(ops_.size()); }

 private:
  std::vector<std::string> ops_;
  // One holder per op; null for the parameter-free ops (none, skip_connect, avg_pool_3x3).
  std::vector<torch::nn::Sequential> convs_;
};

/// Module holder for MixedOpImpl.
TORCH_MODULE(MixedOp);

/// One NAS-Bench-201 search cell: 4 nodes, node j = sum over i < j of the mixed op on edge (j, i).
class SearchCellImpl : public torch::nn::Module {
 public:
  /// Six mixed ops of `ops` on `channels` channels.
  SearchCellImpl(std::int64_t channels, const std::vector<std::string>& ops);
  /// The cell output; `weights` is [6, n_ops] in nasbench201_edges() order, `sampled` (GDAS) one op index per
  /// edge or empty for the mixture of all ops.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& weights, const std::vector<std::int64_t>& sampled);
  /// The mixed op of edge `e` (nasbench201_edges() order).
  MixedOp edge(std::size_t e) const { return edges_.at(e); }

 private:
  std::vector<MixedOp> edges_;
};

/// Module holder for SearchCellImpl.
TORCH_MODULE(SearchCell);

/// Per-epoch (or per-step) view of the architecture: weights for forward plus, for GDAS, the sampled ops.
struct ArchSample {
  torch::Tensor weights;              ///< [6, n_ops]: softmax(alpha) (DARTS) or straight-through one-hot (GDAS).
  std::vector<std::int64_t> sampled;  ///< GDAS: the op index of each edge; empty for DARTS.
};

/// The weight-sharing supernet of a `cell` space: the macro skeleton of spaces/cell_space.cc (stem conv3x3-BN,
/// stages of search cells separated by ResNet reduction blocks, BN-ReLU-GAP-linear head) with one set of
/// architecture logits alpha [6 edges x n_ops] shared by every cell, as in NAS-Bench-201's DARTS and GDAS.
class SupernetImpl : public torch::nn::Module {
 public:
  /// ValueError when `input` is too small or odd-sized for the skeleton's reductions.
  SupernetImpl(const CellSkeleton& cell, const Shape& input, int num_classes);
  /// Logits for `x` with the given architecture weights.
  torch::Tensor forward(const torch::Tensor& x, const ArchSample& arch);
  /// DARTS weights softmax(alpha); `detach` cuts the graph to alpha (weight steps need no alpha gradient).
  ArchSample softmax_weights(bool detach) const;
  /// GDAS: Gumbel-softmax per edge with temperature `tau`, hard one-hot forward and soft backward
  /// (straight-through); noise from `gen` (a CPU generator, so runs are reproducible on every device).
  ArchSample gumbel_sample(double tau, at::Generator& gen) const;

  /// The architecture logits [6, n_ops].
  torch::Tensor& alpha() { return alpha_; }
  /// The architecture logits (read-only view of the same tensor).
  const torch::Tensor& alpha() const { return alpha_; }
  /// Every parameter except alpha.
  std::vector<torch::Tensor> weight_parameters() const;
  /// The candidate op names (columns of alpha).
  const std::vector<std::string>& ops() const { return ops_; }

  /// Argmax op per edge as a NAS-Bench-201 arch string (see derive_ops).
  std::string derive(std::int64_t max_skip = -1) const;
  /// MACs of op `k` summed over every cell of the network (pooling, skip and none count 0, as in the cost model).
  double op_macs(std::int64_t k) const { return op_macs_.at(static_cast<std::size_t>(k)); }
  /// Expected MACs of the mixed ops, sum over cells, edges and ops of softmax(alpha) * op MACs (differentiable).
  torch::Tensor expected_macs() const;
  /// The same sum with every edge at its costliest op: the normaliser that makes the cost term scale-free.
  double max_macs() const;

 private:
  std::vector<std::string> ops_;
  torch::Tensor alpha_;
  torch::nn::Sequential stem_{nullptr};
  std::vector<SearchCell> cells_;
  // Reduction block before cell index c (null holder where none): main path and shortcut.
  std::vector<torch::nn::Sequential> reduce_main_;
  std::vector<torch::nn::Sequential> reduce_short_;
  torch::nn::Sequential head_{nullptr};
  std::vector<double> op_macs_;
};

/// Module holder for SupernetImpl.
TORCH_MODULE(Supernet);

/// Argmax op per edge of `probs` [6, n_ops] over `ops`. With max_skip >= 0 at most that many edges (those with
/// the highest skip probability) keep skip_connect, the others their best other op. When the cell's output is
/// then disconnected from its input, `none` is excluded and the argmax taken again.
std::vector<std::string> derive_ops(const torch::Tensor& probs, const std::vector<std::string>& ops,
                                    std::int64_t max_skip = -1);
/// Number of skip_connect edges.
int count_skips(const std::vector<std::string>& ops);
/// The DARTS+ stopping rule: true when the arch string `genotype` has more than `max_skip` skip connections
/// (never when max_skip < 0).
bool collapsed(const std::string& genotype, std::int64_t max_skip);

/// The DARTS+ collapse remedy over a search's per-epoch derived genotypes.
class CollapseGuard {
 public:
  /// max_skip < 0 never stops.
  explicit CollapseGuard(std::int64_t max_skip) : max_skip_(max_skip) {}
  /// Records one epoch's genotype; true when it collapsed (more than max_skip skip connections): stop searching.
  bool observe(const std::string& genotype);
  /// The search's answer: the latest genotype, or after a collapse the one of the epoch before (empty when the
  /// first epoch collapsed already).
  const std::string& result() const { return result_; }
  /// Whether a collapse stopped the search, and at which 1-based epoch (0 when not).
  int collapse_epoch() const { return collapse_epoch_; }

 private:
  std::int64_t max_skip_;
  int epochs_ = 0;
  int collapse_epoch_ = 0;
  std::string result_;
};

/// Gradients of `loss` with respect to `inputs` (graph freed); zeros for inputs it does not depend on.
std::vector<torch::Tensor> grads_of(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs);

/// DARTS architecture gradient of the cross-entropy on the architecture batch (xa, ya) with respect to alpha, at
/// the current `weights` (order 1) or at the weights after one virtual SGD step of rate `xi` with L2 `weight_decay`
/// on the weight batch (xw, yw) (order 2: second-order term by central finite differences of size
/// 0.01 / ||grad||). The weights are left as they were. Returns {gradient, architecture loss}.
std::pair<torch::Tensor, torch::Tensor> darts_alpha_grad(Supernet& net, const std::vector<torch::Tensor>& weights,
                                                         const torch::Tensor& xw, const torch::Tensor& yw,
                                                         const torch::Tensor& xa, const torch::Tensor& ya, double xi,
                                                         double weight_decay, int order);

}  // namespace nasforge
