#include <algorithm>
#include <climits>
#include <cmath>

#include "core/error.h"
#include "core/strings.h"
#include "strategies/pruners.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const IntKey kMinResource{"min_resource", Range::closed(1),
                          "steps before the first rung: an integer, or 'auto' (a hundredth of the first finished run)"};
const IntKey kMinEarlyStoppingRate{"min_early_stopping_rate", Range::closed(0),
                                   "rung r sits at min_resource * reduction_factor^(rate + r)"};

// Optuna's "auto" rule: a hundredth of the longest COMPLETE trial, at least 1.
std::optional<std::int64_t> estimate_min_resource(const std::vector<FrozenTrial>& trials) {
  std::optional<int> longest;
  for (const auto& t : trials) {
    if (t.state != TrialState::kComplete) continue;
    if (auto s = t.last_step(); s && (!longest || *s > *longest)) longest = s;
  }
  if (!longest) return std::nullopt;
  return std::max<std::int64_t>(*longest / 100, 1);
}

// Whether `value` is among the best len/rf of `competing` (which includes it). Optuna cannot pause trials, so
// while fewer than rf trials reached the rung only the best one goes on.
bool promotable(double value, std::vector<double> competing, std::int64_t reduction_factor, bool maximize) {
  std::int64_t idx = static_cast<std::int64_t>(competing.size()) / reduction_factor - 1;
  if (idx < 0) idx = 0;
  std::sort(competing.begin(), competing.end());
  if (maximize) return value >= competing[competing.size() - 1 - static_cast<std::size_t>(idx)];
  return value <= competing[static_cast<std::size_t>(idx)];
}

}  // namespace

SuccessiveHalvingPruner::SuccessiveHalvingPruner(const SuccessiveHalvingOptions& options)
    : options_(options), min_resource_(options.min_resource) {
  if (options.min_resource) kMinResource.check(*options.min_resource);
  kReductionFactor.check(options.reduction_factor);
  kMinEarlyStoppingRate.check(options.min_early_stopping_rate);
  kBootstrapCount.check(options.bootstrap_count);
  check(options.bootstrap_count == 0 || options.min_resource,
        "bootstrap_count > 0 (got " + std::to_string(options.bootstrap_count) + ") needs an integer min_resource, "
        "not 'auto'");
}

std::int64_t SuccessiveHalvingPruner::rung_step(int rung) const {
  check(min_resource_.has_value(), "rung_step: min_resource is still 'auto' and unknown");
  // Saturate instead of overflowing: a rung beyond any int step is simply never reached.
  std::int64_t s = *min_resource_;
  for (std::int64_t i = 0; i < options_.min_early_stopping_rate + rung; ++i) {
    if (s > LLONG_MAX / options_.reduction_factor) return LLONG_MAX;
    s *= options_.reduction_factor;
  }
  return s;
}

bool SuccessiveHalvingPruner::prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials,
                                    StudyDirection direction) {
  std::optional<int> last = trial.last_step();
  if (!last) return false;
  int step = *last;
  double value = trial.intermediate_values.at(step);
  if (!min_resource_) {
    min_resource_ = estimate_min_resource(trials);
    if (!min_resource_) return false;
  }
  bool maximize = direction == StudyDirection::kMaximize;
  for (int rung = 0;; ++rung) {
    std::int64_t start = rung_step(rung);
    if (step < start) return false;
    // A rung first reached by an earlier report was judged then, and the trial was promoted (it still runs).
    if (trial.intermediate_values.lower_bound(static_cast<int>(start))->first != step) continue;
    if (std::isnan(value)) return true;
    std::vector<double> competing;
    for (const auto& t : trials) {
      if (t.number == trial.number) continue;
      auto it = t.intermediate_values.lower_bound(static_cast<int>(start));
      // Optuna prunes NaN reports before recording them, so they never compete.
      if (it != t.intermediate_values.end() && !std::isnan(it->second)) competing.push_back(it->second);
    }
    competing.push_back(value);
    if (static_cast<std::int64_t>(competing.size()) <= options_.bootstrap_count) return true;
    if (!promotable(value, competing, options_.reduction_factor, maximize)) return true;
  }
}

std::unique_ptr<Pruner> make_asha_pruner(SectionReader& options) {
  SuccessiveHalvingOptions o;
  o.min_resource = read_auto_resource(options, kMinResource);
  o.min_early_stopping_rate = options.integer(kMinEarlyStoppingRate, 0);
  read_halving_rates(options, 4, "min_resource", o.min_resource.has_value(), o.reduction_factor, o.bootstrap_count);
  return std::make_unique<SuccessiveHalvingPruner>(o);
}

std::optional<std::int64_t> read_auto_resource(SectionReader& options, const IntKey& key) {
  std::string text = options.text(key.key, std::string("auto"), key.doc);
  if (text == "auto") return std::nullopt;
  auto v = parse_int(text);
  options.require(v && key.range.contains(static_cast<double>(*v)), key.key,
                  "must be 'auto' or an integer " + key.range.describe() + ", got '" + text + "'");
  return *v;
}

void read_halving_rates(SectionReader& options, std::int64_t default_factor, const std::string& resource_key,
                        bool resource_fixed, std::int64_t& reduction_factor, std::int64_t& bootstrap_count) {
  reduction_factor = options.integer(kReductionFactor, default_factor);
  bootstrap_count = options.integer(kBootstrapCount, 0);
  options.require(bootstrap_count == 0 || resource_fixed, "bootstrap_count",
                  "bootstrap_count " + std::to_string(bootstrap_count) + " > 0 needs an integer " + resource_key +
                      ", not 'auto'");
}

}  // namespace nasforge
