#pragma once

#include <cstdint>

#include "evaluators/compression/compression_config.h"
#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/nn/trainer.h"

namespace nasforge {

/// Weight sharing: clusters each conv/linear layer's (unpruned) weights into o.clusters centroids by 1-d k-means
/// (after folding BatchNorm, so shared values stay shared on the device), records c.clusters, snaps weights to
/// their centroids, then fine-tunes the centroids o.finetune_epochs. Returns the fine-tuning result.
TrainResult cluster_weights(CompressedNet& c, const ClusterOptions& o, const TrainData& data,
                            const TrainHyperparams& base, std::int64_t eval_batch_size, std::uint64_t seed,
                            const TrainHooks& hooks);

}  // namespace nasforge
