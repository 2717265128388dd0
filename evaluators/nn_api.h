#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"
#include "core/nn_module.h"
#include "evaluators/objective.h"
#include "spaces/net_graph.h"
#include "spaces/search_space.h"

namespace nasforge {

/// The evaluators' entry points into the libtorch module (core/nn_module.h), implemented in evaluators/nn/.
struct EvaluatorNnApi : NnTable {
  /// The `train` objective (see make_train_objective).
  std::unique_ptr<Objective> (*make_train_objective)(SectionReader& options, const SearchSpace& space,
                                                      std::size_t n_objectives, const std::string& base_dir) = nullptr;
  /// See evaluate_bundle.
  Json (*evaluate_bundle)(const std::string& dir, const std::string& device, int threads) = nullptr;
  /// Median batch-1 CPU latency in ms of each graph with random weights after `warmup` untimed passes, on
  /// `threads` torch threads; with `progress`, one line per network on stderr (nasforge profile).
  std::vector<double> (*measure_latencies)(const std::vector<NetGraph>& graphs, int runs, int warmup, int threads,
                                           bool progress) = nullptr;
};

/// Bumped whenever EvaluatorNnApi changes.
inline constexpr int kEvaluatorNnApiVersion = 4;
/// The C function of the module returning its EvaluatorNnApi (defined in evaluators/nn/nn_api.cc).
inline constexpr const char* kEvaluatorNnApiSymbol = "nasforge_evaluator_nn_api";

/// The evaluators' libtorch entry points, resolved once per process; ConfigError naming `needed_for` when this build
/// has no libtorch code (see nn_module_symbol).
const EvaluatorNnApi& evaluator_nn_api(const std::string& needed_for);

}  // namespace nasforge
