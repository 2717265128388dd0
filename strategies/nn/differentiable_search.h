#pragma once

#include <functional>
#include <string>

#include "evaluators/train_config.h"
#include "strategies/differentiable_sampler.h"

namespace nasforge {

/// One DARTS or GDAS search: trains a weight-sharing supernet of `cell` on the train objective's data (weights on
/// one part of its training split, architecture on the rest) and derives the argmax genotype (reached through
/// strategy_nn_api()).
DifferentiableResult run_differentiable_search_nn(const DifferentiableOptions& options, const CellSkeleton& cell,
                                                  const TrainConfig& train,
                                                  const std::function<void(const std::string&)>& progress);

}  // namespace nasforge
