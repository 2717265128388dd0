#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "evaluators/cost/compressed_size.h"
#include "evaluators/nn/trainer.h"
#include "spaces/nn/graph_module.h"

namespace nasforge {

/// Weight sharing of one layer: each weight element is its cluster's centroid.
struct ClusterState {
  torch::Tensor assignment;  ///< int64, the weight's shape: cluster index per element (== k for pruned weights).
  std::int64_t k = 0;        ///< Clusters (centroids) of the layer.
  bool zero_slot = false;    ///< True when pruned weights use a reserved, fixed zero centroid at index k.
};

/// A trained network on its way to deployment: the graph and module, and what compression steps left on them.
/// Steps rewrite it in place; the trained original is never modified.
struct CompressedNet {
  NetGraph graph;                        ///< Current graph (channel pruning shrinks it; folding drops BatchNorm).
  GraphNet net{nullptr};                 ///< Module built from `graph`, on the training device.
  bool folded = false;                   ///< BatchNorm of convs folded into their weight and bias.
  std::map<int, torch::Tensor> masks;    ///< Conv/linear node -> float 0/1 mask of its weight (unstructured pruning).
  std::map<int, ClusterState> clusters;  ///< Conv/linear node -> weight sharing.
  int weight_bits = 32;                  ///< Stored bits per weight: 32 or 16 (float), 2..16 (integer).
  bool weight_float = true;              ///< Float storage (fp32/fp16) rather than integers with a scale.
  bool per_channel = false;              ///< Integer weights have one scale per output channel.
  bool activations_quantized = false;    ///< Activations run through fake quantization (static or QAT).

  /// `graph` with no module yet (see from()).
  explicit CompressedNet(NetGraph g) : graph(std::move(g)) {}

  /// An independent copy of `net` (same graph, cloned parameters and buffers, same device).
  static CompressedNet from(GraphNet& net);
  /// Conv and linear nodes, in graph order.
  std::vector<int> weight_nodes() const;
  /// The weight parameter of conv/linear node `node`.
  torch::Tensor weight(int node) const;
  /// Storage of every conv/linear layer under the current masks, clusters and bit width.
  std::vector<LayerStorage> storage() const;
  /// fp32 values stored besides conv/linear layers (BatchNorm that is not folded).
  std::int64_t extra_float_params() const;
  /// Fraction of conv/linear weight elements that are zero.
  double sparsity() const;
};

/// Folds each conv's BatchNorm into its weight and bias (w * gamma / sqrt(var + eps), (b - mean) * gamma /
/// sqrt(var + eps) + beta): the graph's convs lose batch_norm and gain a bias. Outputs are unchanged in eval mode
/// up to rounding; standalone BatchNorm nodes stay. A no-op when already folded. Keeps masks and clusters.
void fold_batch_norm(CompressedNet& c);

/// Re-imposes masks (pruned weights back to zero) and weight sharing (each centroid becomes the mean of its
/// weights, then every weight its centroid), without gradients. Called after every fine-tuning step.
void enforce_constraints(CompressedNet& c);

/// What every compression step shares besides its own options: the trial's data and training setup.
struct StepContext {
  const TrainData& data;         ///< The training and validation tensors.
  const TrainHyperparams& base;  ///< The trial's hyperparameters, which fine-tunings start from.
  std::int64_t eval_batch_size;  ///< Batch size of validation passes.
  std::uint64_t seed;            ///< Seed of the fine-tunings' data order.
  TrainHooks hooks;              ///< stop_requested and the (distillation) loss; after_step runs after each step.
};

/// Fine-tunes `c.net` for `epochs` with ctx.base's optimizer and hyperparameters but `lr` (cosine, no warm-up,
/// no early stopping), re-imposing constraints after every step; ctx.hooks.stop_requested is honoured. The best
/// epoch (validation accuracy) is kept. epochs == 0 returns at once.
TrainResult finetune(CompressedNet& c, std::int64_t epochs, double lr, const StepContext& ctx);

}  // namespace nasforge
