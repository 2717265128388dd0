#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/nn_module.h"
#include "evaluators/train_config.h"
#include "spaces/search_space.h"

namespace nasforge {

class Sampler;
struct RlOptions;
struct DifferentiableOptions;
struct DifferentiableResult;
struct CellSkeleton;

/// The strategies' entry points into the libtorch module (core/nn_module.h), implemented in strategies/nn/.
struct StrategyNnApi : NnTable {
  /// The `rl` strategy's controller sampler (strategies/nn/rl_controller.h).
  std::unique_ptr<Sampler> (*make_rl_sampler)(const RlOptions& options, const SearchSpace& space) = nullptr;
  /// One `darts`/`gdas` supernet search on the train objective's data (strategies/nn/differentiable_search.h).
  DifferentiableResult (*run_differentiable_search)(const DifferentiableOptions& options, const CellSkeleton& cell,
                                                    const TrainConfig& train,
                                                    const std::function<void(const std::string&)>& progress) = nullptr;
};

/// Bumped whenever StrategyNnApi changes.
inline constexpr int kStrategyNnApiVersion = 1;
/// The C function of the module returning its StrategyNnApi (defined in strategies/nn/nn_api.cc).
inline constexpr const char* kStrategyNnApiSymbol = "nasforge_strategy_nn_api";

/// The strategies' libtorch entry points, resolved once per process; ConfigError naming `needed_for` when this build
/// has no libtorch code (see nn_module_symbol).
const StrategyNnApi& strategy_nn_api(const std::string& needed_for);

}  // namespace nasforge
