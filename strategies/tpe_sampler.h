#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "strategies/parzen_estimator.h"
#include "strategies/random_sampler.h"
#include "strategies/sampler.h"

namespace nasforge {

/// How trials are weighted inside each Parzen estimator.
enum class TpeWeights {
  kRamp,     ///< Optuna's default_weights: the newest 25 weigh 1, older ones ramp down linearly to 1/n.
  kUniform,  ///< Every trial weighs 1.
};

/// Options of the `tpe` strategy; the defaults are Optuna 3.1's. (The `tpe` factory turns `multivariate` and
/// `group` on for all-categorical spaces, where that measured better; see docs/strategies.md.)
struct TpeSamplerOptions {
  int n_startup_trials = 10;        ///< Random sampling until this many trials are COMPLETE or PRUNED.
  int n_ei_candidates = 24;         ///< Candidates drawn from l(x) per decision.
  std::optional<double> gamma;      ///< Fraction of trials in the "below" set (default 0.1); capped at 25 trials.
  double prior_weight = 1.0;        ///< Weight of the prior component.
  bool consider_prior = true;       ///< Add the prior component.
  bool consider_magic_clip = true;  ///< Lower-bound kernel widths.
  bool consider_endpoints = false;  ///< Let outer kernels see the domain ends.
  TpeWeights weights = TpeWeights::kRamp;  ///< Trial weighting.
  bool multivariate = false;               ///< One joint estimator per group of co-occurring parameters.
  bool group = false;                      ///< Decompose the space into conditional subspaces (needs multivariate).
  bool constant_liar = false;  ///< Treat RUNNING trials as the worst outcome so parallel workers spread out.
  /// Compare plain mixture densities (Optuna >= 3.5) instead of Optuna 3.1's, whose continuous kernels lack the
  /// 1/sigma factor so that wide kernels weigh more.
  bool normalized_kernels = false;
  std::uint64_t seed = 0;  ///< Seed of all randomness.
};

/// Size of the "below" (good) set for n ranked trials: min(ceil(fraction * n), 25), fraction 0.1 by default.
std::size_t tpe_gamma(std::size_t n, std::optional<double> fraction);
/// Raw weights of n trials in chronological order.
std::vector<double> tpe_weights(std::size_t n, TpeWeights kind);
/// Hypervolume dominated by `points` (all objectives minimized) up to `reference`; points not strictly better
/// than the reference in every objective add nothing.
double hypervolume(const std::vector<std::vector<double>>& points, const std::vector<double>& reference);

/// `tpe`: Optuna 3.1's TPESampler. Independent or multivariate (optionally group-decomposed) TPE, constant liar,
/// pruned trials ranked by their last report, MOTPE's split and weights for several objectives.
class TpeSampler : public Sampler {
 public:
  /// A sampler for a study with `n_objectives` objectives; throws ValueError on invalid options.
  TpeSampler(TpeSamplerOptions options, std::size_t n_objectives);
  /// Values for every active parameter; random until n_startup_trials trials finished.
  ParamMap sample(const SampleContext& ctx) override;
  /// The options in force.
  const TpeSamplerOptions& options() const { return options_; }

 private:
  struct Row {
    const double* x = nullptr;  // internal value per space parameter, NaN when absent
    bool below = false;
    double weight_below = 1.0;  // MOTPE's hypervolume-based weight, when below
    double step_key = 0, loss = 0;
    std::size_t mo_index = 0;
  };

  const double* internal_row(const FrozenTrial& trial, const SearchSpace& space);
  void split_single();
  void split_multi();
  void find_groups(const SampleContext& ctx);
  void sample_tpe(const SearchSpace& space, const std::vector<std::size_t>& dims);

  TpeSamplerOptions options_;
  std::size_t n_objectives_;
  std::mt19937_64 rng_;
  RandomSampler random_;
  ParzenEstimatorOptions pe_options_;
  ParzenEstimator below_, above_;

  // Per-trial internal values; finished trials never change, so they are computed once.
  struct CachedRow {
    std::int64_t trial_id = -2;
    std::vector<double> x;
  };
  std::vector<CachedRow> cache_;
  std::vector<std::vector<double>> scratch_rows_;  // trials that cannot be cached (RUNNING, unnumbered)
  std::size_t scratch_used_ = 0;

  // Scratch of one sample() call, kept to avoid reallocations.
  std::vector<Row> rows_;
  std::vector<std::vector<double>> mo_losses_;
  std::vector<std::size_t> order_;
  std::vector<int> group_of_, label_, present_label_, absent_label_;
  std::vector<std::vector<std::size_t>> groups_;
  std::vector<const Distribution*> dists_;
  std::vector<const double*> seen_;
  std::vector<double> obs_below_, obs_above_, w_below_, w_above_, candidates_, log_l_, log_g_;
  std::vector<double> chosen_;
};

}  // namespace nasforge
