#pragma once

#include <cstdint>

#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/compression/prune_step.h"
#include "evaluators/nn/trainer.h"

namespace nasforge {

/// Unstructured magnitude pruning: zeroes exactly round(sparsity * n) conv/linear weights of smallest magnitude,
/// over all layers at once (`global`) or round(sparsity * n_layer) in each layer, and records the masks in
/// c.masks (weights already masked stay masked). ValueError for sparsity outside [0, 1].
void prune_unstructured(CompressedNet& c, double sparsity, bool global);

/// Structured pruning: in every prunable channel group (see prunable_channel_groups) keeps the
/// max(1, round((1 - sparsity) * C)) output channels of largest L1 or L2 (`norm`) filter norm, where C is the
/// producer's channel count in `original`, and rebuilds c.graph and c.net without the others (BatchNorm,
/// depthwise followers and consumers' input channels sliced accordingly).
void prune_channels(CompressedNet& c, const NetGraph& original, double sparsity, int norm);

/// Runs a whole `prune:` step: o.steps rounds, each pruning to o.target(k) and fine-tuning o.finetune_epochs
/// (round k seeded ctx.seed + k - 1).
TrainResult prune(CompressedNet& c, const PruneOptions& o, const StepContext& ctx);

}  // namespace nasforge
