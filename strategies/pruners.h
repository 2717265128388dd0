#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "spaces/trial.h"
#include "core/config.h"
#include "strategies/pruner.h"

namespace nasforge {

// The built-in pruners, exposed so that tests and library users can build them without YAML. They follow
// Optuna 3.1's pruners; where nasforge differs (pruners here cannot write to storage) the class says how.

/// `none`: never prunes.
class NopPruner : public Pruner {
 public:
  /// Always false.
  bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) override;
};

/// Options of PercentilePruner (Optuna's defaults).
struct PercentileOptions {
  double percentile = 50.0;           ///< Keep trials in the best `percentile` percent, 0..100.
  std::int64_t n_startup_trials = 5;  ///< No pruning until this many trials are COMPLETE.
  std::int64_t n_warmup_steps = 0;    ///< No pruning before this step.
  std::int64_t interval_steps = 1;    ///< Check once per this many steps, counted from n_warmup_steps.
  std::int64_t n_min_trials = 1;      ///< No pruning unless this many COMPLETE trials reported at the step.
};

/// `percentile` / `median` (Optuna's PercentilePruner): prunes when the trial's best intermediate value so far
/// is worse than the given percentile of the COMPLETE trials' values reported at the trial's latest step.
class PercentilePruner : public Pruner {
 public:
  /// Throws ValueError (quoting the value) when an option is out of range.
  explicit PercentilePruner(const PercentileOptions& options);
  /// See the class comment; a trial whose intermediate values are all NaN is pruned.
  bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) override;

 private:
  PercentileOptions options_;
};

/// Options of SuccessiveHalvingPruner (Optuna's defaults).
struct SuccessiveHalvingOptions {
  std::optional<std::int64_t> min_resource;  ///< Steps before the first rung; nullopt = "auto".
  std::int64_t reduction_factor = 4;         ///< Keep the top 1/reduction_factor at each rung, >= 2.
  std::int64_t min_early_stopping_rate = 0;  ///< Rung r sits at min_resource * rf^(rate + r), >= 0.
  std::int64_t bootstrap_count = 0;          ///< Prune at a rung until more than this many trials reached it.
};

/// `reduction_factor` of successive halving and Hyperband, which both check it.
inline const IntKey kReductionFactor{"reduction_factor", Range::closed(2),
                                     "keep the best 1/reduction_factor at each rung"};
/// `bootstrap_count` of successive halving and Hyperband, which both check it.
inline const IntKey kBootstrapCount{"bootstrap_count", Range::closed(0),
                                    "prune at a rung until more than this many trials have reached it"};

/// `asha` (Optuna's SuccessiveHalvingPruner). Optuna records each trial's value at each rung in storage; this
/// pruner cannot write to storage, so it recomputes rung values from intermediate values instead: a trial
/// reached rung r when it reported at a step >= rung_step(r), and its value there is the one reported at the
/// first such step. That is exactly what Optuna records when should_prune() follows every report.
class SuccessiveHalvingPruner : public Pruner {
 public:
  /// Throws ValueError (quoting the value) when an option is out of range.
  explicit SuccessiveHalvingPruner(const SuccessiveHalvingOptions& options);
  /// Evaluates the rungs that the latest report newly reached; prunes unless the trial is promotable at each.
  bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) override;
  /// First step of rung `rung`; needs min_resource (given or already estimated).
  std::int64_t rung_step(int rung) const;
  /// The min_resource in use: given, estimated ("auto", fixed once known) or nullopt while unknown.
  std::optional<std::int64_t> min_resource() const { return min_resource_; }

 private:
  SuccessiveHalvingOptions options_;
  std::optional<std::int64_t> min_resource_;
};

/// Options of HyperbandPruner (Optuna's defaults).
struct HyperbandOptions {
  std::int64_t min_resource = 1;             ///< Steps before the first rung of the most aggressive bracket.
  std::optional<std::int64_t> max_resource;  ///< Largest step + 1 a trial may reach; nullopt = "auto".
  std::int64_t reduction_factor = 3;         ///< Successive-halving reduction factor, >= 2.
  std::int64_t bootstrap_count = 0;          ///< Per-bracket bootstrap count (see SuccessiveHalvingOptions).
};

/// `hyperband` (Optuna's HyperbandPruner): n_brackets successive-halving pruners with min_early_stopping_rate
/// 0..n_brackets-1; each trial belongs to one bracket and competes only with trials of that bracket. Optuna picks
/// the bracket from a CRC-32 of "<study name>_<number>"; nasforge hashes the number alone (CRC-32 of its decimal
/// text), so the assignment is stable across processes and weighted by each bracket's budget as in Optuna.
class HyperbandPruner : public Pruner {
 public:
  /// Throws ValueError (quoting the value) when an option is out of range.
  explicit HyperbandPruner(const HyperbandOptions& options);
  /// Delegates to the trial's bracket, which sees only the trials of that bracket.
  bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) override;
  /// Number of brackets; 0 until max_resource is known (given, or estimated from the first COMPLETE trial).
  int n_brackets() const { return static_cast<int>(brackets_.size()); }
  /// Bracket of trial `number` (0 = most aggressive); 0 before the brackets exist.
  int bracket_of(int number) const;
  /// Sets up the brackets if possible (called by prune); true once they exist.
  bool initialize(const std::vector<FrozenTrial>& trials);

 private:
  HyperbandOptions options_;
  std::vector<SuccessiveHalvingPruner> brackets_;
  std::vector<std::int64_t> budgets_;
  std::int64_t total_budget_ = 0;
};

/// `patient` (Optuna's PatientPruner): when the best of the last `patience` + 1 reports is worse than the best
/// report before them by more than min_delta, defers to the wrapped pruner (or prunes when there is none);
/// otherwise never prunes.
class PatientPruner : public Pruner {
 public:
  /// `wrapped` may be null; throws ValueError (quoting the value) on a negative patience or min_delta.
  PatientPruner(std::unique_ptr<Pruner> wrapped, std::int64_t patience, double min_delta = 0.0);
  /// See the class comment.
  bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) override;

 private:
  std::unique_ptr<Pruner> wrapped_;
  std::int64_t patience_;
  double min_delta_;
};

/// Reads `key`, which is "auto" (nullopt) or an integer in `key.range`.
std::optional<std::int64_t> read_auto_resource(SectionReader& options, const IntKey& key);

/// Reads the kReductionFactor and kBootstrapCount that successive halving and Hyperband share; a bootstrap count
/// needs a fixed `resource_key`, so `resource_fixed` tells whether it was given.
void read_halving_rates(SectionReader& options, std::int64_t default_factor, const std::string& resource_key,
                        bool resource_fixed, std::int64_t& reduction_factor, std::int64_t& bootstrap_count);

}  // namespace nasforge
