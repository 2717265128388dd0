#pragma once

#include <cstdint>
#include <memory>

#include "core/config.h"
#include "spaces/search_space.h"
#include "strategies/pruner.h"
#include "strategies/sampler.h"

namespace nasforge {

// Factories of the registered strategies. Each declares its own option keys on `options` (the registry has
// already declared `name` and calls finish() afterwards, so undeclared keys are rejected).

/// `random`: independent uniform / log-uniform sampling.
std::unique_ptr<Sampler> make_random_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                             const StrategyEnv& env);
/// `grid`: every combination of discrete values exactly once across all workers.
std::unique_ptr<Sampler> make_grid_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                           const StrategyEnv& env);
/// `tpe`: tree-structured Parzen estimator (independent or multivariate, constant liar, multi-objective).
std::unique_ptr<Sampler> make_tpe_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                          const StrategyEnv& env);
/// `gp`: Gaussian-process BO (keys n_startup_trials, n_candidates, constant_liar).
std::unique_ptr<Sampler> make_gp_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                         const StrategyEnv& env);
/// `evolution`: regularized (aging) evolution (keys population_size, sample_size).
std::unique_ptr<Sampler> make_evolution_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                                const StrategyEnv& env);

/// `rl`: an LSTM controller trained with REINFORCE (Zoph & Le 2017); the controller lives in libnasforge_nn.so.
std::unique_ptr<Sampler> make_rl_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                         const StrategyEnv& env);
/// `darts`: differentiable architecture search (Liu et al. 2019) on a weight-sharing supernet of the cell space.
std::unique_ptr<Sampler> make_darts_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                            const StrategyEnv& env);
/// `gdas`: DARTS with one Gumbel-softmax-sampled op per edge (Dong & Yang 2019).
std::unique_ptr<Sampler> make_gdas_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                           const StrategyEnv& env);

/// `none`: never prunes.
std::unique_ptr<Pruner> make_nop_pruner(SectionReader& options);
/// `median`: prunes below the median of earlier trials at the same step.
std::unique_ptr<Pruner> make_median_pruner(SectionReader& options);
/// `percentile`: prunes outside the best percentile of earlier trials at the same step.
std::unique_ptr<Pruner> make_percentile_pruner(SectionReader& options);
/// `asha`: asynchronous successive halving.
std::unique_ptr<Pruner> make_asha_pruner(SectionReader& options);
/// `hyperband`: several ASHA brackets with different minimum resources.
std::unique_ptr<Pruner> make_hyperband_pruner(SectionReader& options);
/// `patient`: wraps another pruner and prunes only after `patience` steps without improvement.
std::unique_ptr<Pruner> make_patient_pruner(SectionReader& options);

}  // namespace nasforge
