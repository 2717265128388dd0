#include <algorithm>
#include <cmath>
#include <limits>

#include "strategies/pruners.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const NumberKey kPercentile{"percentile", Range::closed(0, 100),
                            "keep trials within the best `percentile` percent at each step"};
const IntKey kNStartupTrials{"n_startup_trials", Range::closed(0), "no pruning until this many trials have completed"};
const IntKey kNWarmupSteps{"n_warmup_steps", Range::closed(0), "no pruning before a trial reaches this step"};
const IntKey kIntervalSteps{"interval_steps", Range::closed(1), "check every this many steps after the warm-up"};
const IntKey kNMinTrials{"n_min_trials", Range::closed(1),
                         "no pruning unless this many completed trials reported the step"};

// numpy.nanpercentile with the default "linear" method, including its two-sided lerp, so that ties with
// Optuna's threshold are decided the same way.
double nan_percentile(std::vector<double> values, double percentile) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  double index = static_cast<double>(values.size() - 1) * (percentile / 100.0);
  double below = std::floor(index);
  std::size_t lo = static_cast<std::size_t>(below);
  std::size_t hi = std::min(lo + 1, values.size() - 1);
  double t = index - below;
  double a = values[lo], b = values[hi];
  double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// Whether `step` is the first report at or after the latest pruning check point (Optuna's
// _is_first_in_interval_step): with interval_steps = 10 and reports every step, only steps 0, 10, 20... check.
bool first_in_interval(int step, const std::map<int, double>& reported, std::int64_t warmup, std::int64_t interval) {
  std::int64_t check_point = (step - warmup) / interval * interval + warmup;
  std::int64_t previous = -1;
  for (const auto& [s, v] : reported) {
    if (s != step && s > previous) previous = s;
  }
  return previous < check_point;
}

}  // namespace

PercentilePruner::PercentilePruner(const PercentileOptions& options) : options_(options) {
  kPercentile.check(options.percentile);
  kNStartupTrials.check(options.n_startup_trials);
  kNWarmupSteps.check(options.n_warmup_steps);
  kIntervalSteps.check(options.interval_steps);
  kNMinTrials.check(options.n_min_trials);
}

bool PercentilePruner::prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials,
                             StudyDirection direction) {
  std::vector<const FrozenTrial*> completed;
  for (const auto& t : trials) {
    if (t.state == TrialState::kComplete) completed.push_back(&t);
  }
  std::int64_t n_completed = static_cast<std::int64_t>(completed.size());
  if (n_completed == 0 || n_completed < options_.n_startup_trials) return false;
  std::optional<int> last = trial.last_step();
  if (!last || *last < options_.n_warmup_steps) return false;
  int step = *last;
  if (!first_in_interval(step, trial.intermediate_values, options_.n_warmup_steps, options_.interval_steps)) {
    return false;
  }

  // The trial's best value over all its steps (NaN reports ignored unless all are NaN), as Optuna does.
  bool maximize = direction == StudyDirection::kMaximize;
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [s, v] : trial.intermediate_values) {
    if (std::isnan(v)) continue;
    if (std::isnan(best) || (maximize ? v > best : v < best)) best = v;
  }
  if (std::isnan(best)) return true;

  std::vector<double> at_step;
  for (const FrozenTrial* t : completed) {
    auto it = t->intermediate_values.find(step);
    if (it != t->intermediate_values.end()) at_step.push_back(it->second);
  }
  if (static_cast<std::int64_t>(at_step.size()) < options_.n_min_trials) return false;
  // For maximization the best `percentile` percent lie at the top.
  double threshold = nan_percentile(at_step, maximize ? 100 - options_.percentile : options_.percentile);
  if (std::isnan(threshold)) return false;
  return maximize ? best < threshold : best > threshold;
}

namespace {

PercentileOptions read_percentile_options(SectionReader& options, std::optional<double> fixed_percentile) {
  PercentileOptions o;
  o.percentile = fixed_percentile ? *fixed_percentile : options.number(kPercentile, std::nullopt);
  o.n_startup_trials = options.integer(kNStartupTrials, 5);
  o.n_warmup_steps = options.integer(kNWarmupSteps, 0);
  o.interval_steps = options.integer(kIntervalSteps, 1);
  o.n_min_trials = options.integer(kNMinTrials, 1);
  return o;
}

}  // namespace

std::unique_ptr<Pruner> make_median_pruner(SectionReader& options) {
  return std::make_unique<PercentilePruner>(read_percentile_options(options, 50.0));
}

std::unique_ptr<Pruner> make_percentile_pruner(SectionReader& options) {
  return std::make_unique<PercentilePruner>(read_percentile_options(options, std::nullopt));
}

}  // namespace nasforge
