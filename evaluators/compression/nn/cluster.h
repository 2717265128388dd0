#pragma once

#include <cstdint>

#include "evaluators/compression/cluster_step.h"
#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/nn/trainer.h"

namespace nasforge {

/// Weight sharing: clusters each conv/linear layer's (unpruned) weights into o.clusters centroids by 1-d k-means
/// (after folding BatchNorm, so shared values stay shared on the device), records c.clusters, snaps weights to
/// their centroids (k-means seeded by ctx.seed), then fine-tunes the centroids o.finetune_epochs. Returns the
/// fine-tuning result.
TrainResult cluster_weights(CompressedNet& c, const ClusterOptions& o, const StepContext& ctx);

}  // namespace nasforge
