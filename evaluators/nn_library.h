#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/json.h"
#include "evaluators/objective.h"
#include "spaces/search_space.h"

namespace nasforge {

// Strategy types, forward-declared so that evaluators/ does not include strategies/ headers.
class Sampler;
struct RlOptions;
struct DifferentiableOptions;
struct DifferentiableResult;
struct CellSkeleton;
struct TrainConfig;

/// Entry points into the libtorch code. That code is built as its own shared library (libnasforge_nn.so, from
/// every nn/ folder) and loaded on first use, so commands that train nothing (trials, best, ask, tell, ...)
/// start in milliseconds instead of loading libtorch's ~300 shared libraries first.
struct NnApi {
  int version = 0;  ///< kNnApiVersion of the library; a mismatch means a stale build.
  /// The `train` objective (see make_train_objective).
  std::unique_ptr<Objective> (*make_train_objective)(SectionReader& options, const SearchSpace& space,
                                                      std::size_t n_objectives, const std::string& base_dir) = nullptr;
  /// See evaluate_bundle.
  Json (*evaluate_bundle)(const std::string& dir, const std::string& device, int threads) = nullptr;
  /// The `rl` strategy's controller sampler (strategies/nn/rl_controller.h).
  std::unique_ptr<Sampler> (*make_rl_sampler)(const RlOptions& options, const SearchSpace& space) = nullptr;
  /// One `darts`/`gdas` supernet search on the train objective's data (strategies/nn/differentiable_search.h).
  DifferentiableResult (*run_differentiable_search)(const DifferentiableOptions& options, const CellSkeleton& cell,
                                                    const TrainConfig& train,
                                                    const std::function<void(const std::string&)>& progress) = nullptr;
};

/// Bumped whenever NnApi changes.
inline constexpr int kNnApiVersion = 2;
/// The exported C symbol returning the library's NnApi.
inline constexpr const char* kNnApiSymbol = "nasforge_nn_api";

/// The libtorch entry points: already linked into this process (tests), else loaded from libnasforge_nn.so next
/// to the executable (or $NASFORGE_NN_LIBRARY). ConfigError naming `needed_for` and the paths tried when this
/// build has no libtorch support.
const NnApi& nn_api(const std::string& needed_for);

}  // namespace nasforge
