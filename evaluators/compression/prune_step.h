#pragma once

#include <cstdint>

#include "evaluators/compression/compression_step.h"
#include "evaluators/setting.h"

namespace nasforge {

/// What a `prune` step removes.
enum class PruneStructure {
  kUnstructured,  ///< Individual weights of smallest magnitude (masked to zero).
  kChannel,       ///< Whole output channels (filters) of smallest norm, physically removed.
};

/// How the sparsity target grows over pruning rounds.
enum class PruneSchedule {
  kOneShot,    ///< One round straight to the final sparsity.
  kIterative,  ///< `steps` rounds, the target growing linearly from initial to final sparsity.
  kAgp,        ///< `steps` rounds following Zhu & Gupta's cubic schedule s_f + (s_i - s_f) (1 - k/n)^3.
};

/// Magnitude pruning (`prune:` step).
struct PruneOptions {
  PruneStructure structure = PruneStructure::kUnstructured;  ///< Weights or channels.
  bool global = true;        ///< Unstructured: one magnitude threshold over all layers (false: each layer alone).
  int norm = 1;              ///< Channel: filters ranked by their L1 (1) or L2 (2) norm.
  bool target_macs = false;  ///< Channel: `sparsity` is the fraction of MACs to remove, not of channels.
  double sparsity = 0.5;     ///< Final fraction of weights (unstructured) or of each layer's channels removed.
  PruneSchedule schedule = PruneSchedule::kOneShot;  ///< How the target grows.
  std::int64_t steps = 1;                            ///< Pruning rounds (1 for one-shot).
  double initial_sparsity = 0;                       ///< Target of the schedule's start (iterative, agp).
  std::int64_t finetune_epochs = 1;                  ///< Fine-tuning epochs after each round (0 = none).
  double lr = 0.01;                                  ///< Peak learning rate of the fine-tuning.

  /// The sparsity target after 1-based round `k` of `steps`.
  double target(std::int64_t k) const;
  /// The options of a `prune` step's resolved values; ValueError for the values of another step.
  static PruneOptions from(const SettingValues& values);
};

/// The `prune` row of step_types().
StepType prune_step();

}  // namespace nasforge
