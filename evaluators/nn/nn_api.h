#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"
#include "evaluators/objective.h"
#include "spaces/net_graph.h"
#include "spaces/search_space.h"

namespace nasforge {

/// The libtorch implementation behind make_train_objective (reached through evaluator_nn_api()).
std::unique_ptr<Objective> make_train_objective_nn(SectionReader& options, const SearchSpace& space,
                                                   std::size_t n_objectives, const std::string& base_dir);

/// The libtorch implementation behind evaluate_bundle (reached through evaluator_nn_api()).
Json evaluate_bundle_nn(const std::string& dir, const std::string& device, int threads);

/// The libtorch implementation behind measure_latencies (reached through evaluator_nn_api()).
std::vector<double> measure_latencies_nn(const std::vector<NetGraph>& graphs, int runs, int warmup, int threads,
                                         bool progress);

}  // namespace nasforge
