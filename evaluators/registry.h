#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "evaluators/objective.h"

namespace nasforge {

// Factories of the registered objective kinds. Each declares its own keys on `options` (the registry has
// already declared `kind` and calls finish() afterwards).

/// `function`: built-in synthetic test functions (branin, hartmann6, rosenbrock, ackley, noisy variants).
std::unique_ptr<Objective> make_function_objective(SectionReader& options, const SearchSpace& space,
                                                   std::size_t n_objectives, const std::string& base_dir);
/// `tabular`: looks configurations up in a CSV table (NAS-Bench-201, HPOLib), one random seed column per query.
std::unique_ptr<Objective> make_tabular_objective(SectionReader& options, const SearchSpace& space,
                                                  std::size_t n_objectives, const std::string& base_dir);
/// `command`: runs a user program with the parameters substituted and parses its output.
std::unique_ptr<Objective> make_command_objective(SectionReader& options, const SearchSpace& space,
                                                  std::size_t n_objectives, const std::string& base_dir);
/// `train`: trains the architecture space's network for the trial with libtorch (evaluators/nn/train_objective.cc,
/// reached through evaluator_nn_api()); ConfigError when this build has no libtorch code.
std::unique_ptr<Objective> make_train_objective(SectionReader& options, const SearchSpace& space,
                                                std::size_t n_objectives, const std::string& base_dir);

}  // namespace nasforge
