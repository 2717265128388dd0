#pragma once

#include <cstdint>

#include "evaluators/compression/clustering.h"
#include "evaluators/compression/compression_step.h"
#include "evaluators/setting.h"

namespace nasforge {

/// Weight sharing (`cluster:` step).
struct ClusterOptions {
  std::int64_t clusters = 16;               ///< Centroids per layer.
  ClusterInit init = ClusterInit::kLinear;  ///< Initial centroids.
  std::int64_t finetune_epochs = 0;         ///< Epochs fine-tuning the centroids (0 = none).
  double lr = 0.01;                         ///< Peak learning rate of that fine-tuning.

  /// The options of a `cluster` step's resolved values; ValueError for the values of another step.
  static ClusterOptions from(const SettingValues& values);
};

/// The `cluster` row of step_types().
StepType cluster_step();

}  // namespace nasforge
