#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "core/config.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"
#include "strategies/random_sampler.h"
#include "strategies/sampler.h"

namespace nasforge {

/// The value RUNNING trials are assumed to have while the GP proposes the next point (parallel workers).
enum class GpLiar {
  kBest,      ///< The best value seen so far (constant liar, CL-min): EI vanishes around running points.
  kMean,      ///< The mean of the values seen so far.
  kWorst,     ///< The worst value seen so far: pushes proposals furthest away from running points.
  kBeliever,  ///< The GP's own posterior mean there (kriging believer).
  kNone,      ///< Ignore RUNNING trials.
};

/// Options of the `gp` strategy.
struct GpSamplerOptions {
  int n_startup_trials = 10;             ///< Random sampling until this many trials are COMPLETE.
  int n_candidates = 1000;               ///< Random points scored by log EI before the local search.
  int n_local_starts = 5;                ///< Best-scoring candidates the local search starts from.
  int n_local_steps = 60;                ///< (1+1)-evolution-strategy steps per local search.
  GpLiar constant_liar = GpLiar::kBest;  ///< What RUNNING trials are assumed to have scored.
  std::uint64_t seed = 0;                ///< Seed of all randomness.
};

/// Maps assignments of a search space to points of [0,1]^D and back. Floats and ints are scaled linearly (in log
/// space for log parameters; int and stepped domains widened by half a step so that every grid value owns an equal
/// share); categoricals are one-hot. Parameters that are inactive or single-valued get constant coordinates (0.5
/// for numbers, all zeros for categoricals), so that points agree wherever a parameter is absent in both.
class GpEncoding {
 public:
  /// An encoding of `space`, which must outlive it.
  explicit GpEncoding(const SearchSpace& space);
  /// Number of coordinates D.
  std::size_t dims() const { return dims_; }
  /// The point of a trial's parameters; parameters it lacks, or recorded with another distribution, are inactive.
  Eigen::VectorXd encode(const FrozenTrial& trial) const;
  /// The point of an assignment (names not in the space are ignored; out-of-domain values count as absent).
  Eigen::VectorXd encode(const ParamMap& params) const;
  /// The assignment nearest to `u`: `fixed` kept as given, then every active parameter decoded in space order
  /// (rounded onto int and step grids, argmax for categoricals).
  ParamMap decode(const Eigen::VectorXd& u, const ParamMap& fixed) const;
  /// Whether coordinate range [offset, offset + width) of parameter i is one-hot (categorical).
  bool is_categorical(std::size_t param) const { return slots_[param].categorical; }
  /// First coordinate of parameter i and how many it has (0 for single-valued ones).
  std::pair<std::size_t, std::size_t> coordinates(std::size_t param) const {
    return {slots_[param].offset, slots_[param].width};
  }

 private:
  struct Slot {
    std::size_t offset = 0, width = 0;
    bool categorical = false, log = false;
    double lo = 0, hi = 1;  // transformed (log) and widened bounds of numeric parameters
  };
  Eigen::VectorXd encode_internal(const std::vector<std::optional<double>>& internal) const;

  const SearchSpace& space_;
  std::vector<Slot> slots_;
  std::size_t dims_ = 0;
};

/// `gp`: Gaussian-process Bayesian optimization. A Matern-5/2 ARD GP on standardized values of COMPLETE trials,
/// hyperparameters by maximum a posteriori (L-BFGS, warm-started), log expected improvement maximized over random
/// candidates and the best trials followed by local search, RUNNING trials as constant lies. Single objective.
class GpSampler : public Sampler {
 public:
  /// A sampler for a study with `n_objectives` objectives; throws ValueError on invalid options or when
  /// n_objectives != 1.
  GpSampler(GpSamplerOptions options, std::size_t n_objectives);
  /// Values for every active parameter; random until n_startup_trials trials are COMPLETE.
  ParamMap sample(const SampleContext& ctx) override;
  /// The options in force.
  const GpSamplerOptions& options() const { return options_; }

 private:
  GpSamplerOptions options_;
  std::mt19937_64 rng_;
  RandomSampler random_;
  Eigen::VectorXd last_theta_;  // hyperparameters of the previous fit, the next fit's warm start
  int n_fits_ = 0;
};

}  // namespace nasforge
