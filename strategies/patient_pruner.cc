#include <cmath>
#include <limits>

#include "strategies/pruners.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const IntKey kPatience{"patience", Range::closed(0), "reports without improvement tolerated before pruning"};
const NumberKey kMinDelta{"min_delta", Range::closed(0), "smallest change that counts as an improvement"};

// numpy's nanmin / nanmax: NaN only when every value is NaN.
double nan_best(const std::vector<double>& values, bool maximize) {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (double v : values) {
    if (std::isnan(v)) continue;
    if (std::isnan(best) || (maximize ? v > best : v < best)) best = v;
  }
  return best;
}

}  // namespace

PatientPruner::PatientPruner(std::unique_ptr<Pruner> wrapped, std::int64_t patience, double min_delta)
    : wrapped_(std::move(wrapped)), patience_(patience), min_delta_(min_delta) {
  kPatience.check(patience);
  kMinDelta.check(min_delta);
}

bool PatientPruner::prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials,
                          StudyDirection direction) {
  const auto& reported = trial.intermediate_values;
  if (static_cast<std::int64_t>(reported.size()) <= patience_ + 1) return false;
  // Steps are sorted in the map: compare the last patience + 1 reports with everything before them.
  std::size_t split = reported.size() - static_cast<std::size_t>(patience_) - 1;
  std::vector<double> before, after;
  for (const auto& [step, v] : reported) (before.size() < split ? before : after).push_back(v);
  bool maximize = direction == StudyDirection::kMaximize;
  double best_before = nan_best(before, maximize), best_after = nan_best(after, maximize);
  // NaN on either side makes both comparisons false: no evidence of stagnation, so no pruning.
  bool stagnated = maximize ? best_before - min_delta_ > best_after : best_before + min_delta_ < best_after;
  if (!stagnated) return false;
  return wrapped_ ? wrapped_->prune(trial, trials, direction) : true;
}

std::unique_ptr<Pruner> make_patient_pruner(SectionReader& options) {
  std::int64_t patience = options.integer(kPatience, std::nullopt);
  double min_delta = options.number(kMinDelta, 0.0);
  ConfigNode wrapped_node = options.child(
      "wrapped", "mapping", "pruner consulted once patience runs out (absent or none: prune right away)");
  std::unique_ptr<Pruner> wrapped;
  if (wrapped_node.defined() && !wrapped_node.is_null()) {
    wrapped = make_pruner(wrapped_node);
    // `none` never prunes, so wrapping it would switch this pruner off; read it as "nothing wrapped".
    if (dynamic_cast<NopPruner*>(wrapped.get())) wrapped.reset();
  }
  return std::make_unique<PatientPruner>(std::move(wrapped), patience, min_delta);
}

}  // namespace nasforge
