#include "storage/storage_common.h"

#include <algorithm>

#include "core/error.h"

namespace nasforge::storage_detail {

Clock::time_point now() {
  return from_micros(to_micros(Clock::now()));
}

std::int64_t to_micros(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_micros(std::int64_t us) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
}

CanonicalParams canonical_params(const ParamMap& params, const std::map<std::string, Distribution>& distributions) {
  CanonicalParams out;
  for (const auto& [name, value] : params) {
    auto d = distributions.find(name);
    if (d == distributions.end()) {
      throw ValueError("parameter '" + name + "' = '" + value.to_string() +
                       "' has no distribution; every stored parameter needs its domain");
    }
    double internal;
    try {
      internal = d->second.to_internal(value);
    } catch (const ValueError& e) {
      throw ValueError("parameter '" + name + "': " + e.what());
    }
    out.params[name] = d->second.to_external(internal);
    out.distributions.emplace(name, d->second);
    out.internal[name] = internal;
  }
  return out;
}

void check_new_trial_state(TrialState state) {
  if (state != TrialState::kRunning && state != TrialState::kWaiting) {
    throw ValueError(std::string("a new trial must start RUNNING or WAITING, got ") + to_string(state));
  }
}

void check_finish(TrialState state, const std::vector<double>& values, std::size_t n_objectives) {
  if (!is_finished(state)) {
    throw ValueError(std::string("finish_trial needs COMPLETE, PRUNED or FAIL, got ") + to_string(state));
  }
  if (state == TrialState::kComplete && values.size() != n_objectives) {
    throw ValueError("a COMPLETE trial needs one value per objective: the study has " + std::to_string(n_objectives) +
                     " objective(s), got " + std::to_string(values.size()) + " value(s)");
  }
}

void check_grace(double grace_s) {
  check(grace_s >= 0, "the heartbeat grace period must be >= 0 seconds, got " + std::to_string(grace_s));
}

void check_new_study(const std::string& name, const std::vector<StudyDirection>& directions) {
  check_study_name(name, "study");
  check(!directions.empty(), "study '" + name + "' needs at least one direction");
}

ImportPlan check_import(const StudyInfo& study, const std::vector<FrozenTrial>& trials) {
  check_new_study(study.name, study.directions);
  ImportPlan plan;
  for (const auto& [k, v] : study.user_attrs) plan.user_json[k] = dump_json(v);
  for (const auto& [k, v] : study.system_attrs) plan.system_json[k] = dump_json(v);
  const std::string where = "cannot import study '" + study.name + "': ";
  plan.trials.resize(trials.size());
  for (const FrozenTrial& t : trials) {
    const std::string which = where + "trial #" + std::to_string(t.number);
    if (t.number < 0 || static_cast<std::size_t>(t.number) >= trials.size()) {
      throw ValueError(which + " is out of range: " + std::to_string(trials.size()) + " trial(s) must be numbered 0.." +
                       std::to_string(static_cast<long long>(trials.size()) - 1) + ", each number once");
    }
    ImportedTrial& slot = plan.trials[static_cast<std::size_t>(t.number)];
    if (slot.trial) throw ValueError(which + " appears twice; trial numbers must be unique within a study");
    slot.trial = &t;
    if (t.state == TrialState::kComplete) {
      try {
        check_finish(t.state, t.values, study.directions.size());
      } catch (const ValueError& e) {
        throw ValueError(which + ": " + e.what());
      }
    }
    try {
      slot.params = canonical_params(t.params, t.distributions);
      for (const auto& [k, v] : t.user_attrs) slot.user_json[k] = dump_json(v);
      for (const auto& [k, v] : t.system_attrs) slot.system_json[k] = dump_json(v);
    } catch (const ValueError& e) {
      throw ValueError(which + ": " + e.what());
    }
    if (t.datetime_start) slot.datetime_start = from_micros(to_micros(*t.datetime_start));
    if (t.datetime_complete) slot.datetime_complete = from_micros(to_micros(*t.datetime_complete));
  }
  return plan;
}

int retry_count(const std::map<std::string, Json>& system_attrs) {
  auto it = system_attrs.find(attr::kRetryCount);
  if (it == system_attrs.end() || !it->second.is_number_integer()) return 0;
  return it->second.get<int>();
}

int retry_root(const std::map<std::string, Json>& system_attrs, int number) {
  auto it = system_attrs.find(attr::kRetryOf);
  if (it == system_attrs.end() || !it->second.is_number_integer()) return number;
  return it->second.get<int>();
}

bool is_retried(const FrozenTrial& trial) {
  return trial.state == TrialState::kFail && trial.system_attrs.count(attr::kRetriedBy) > 0;
}

std::string dump_json(const Json& value) {
  try {
    return value.dump();
  } catch (const Json::exception& e) {
    throw ValueError(std::string("attribute value cannot be stored as JSON: ") + e.what());
  }
}

std::string describe_trial(std::int64_t trial_id, int number) {
  return "trial #" + std::to_string(number) + " (id " + std::to_string(trial_id) + ")";
}

}  // namespace nasforge::storage_detail

namespace nasforge {

namespace storage_detail {

void TrialCache::apply(TrialChanges&& changes) {
  if (changes.complete) trials.clear();
  for (FrozenTrial& t : changes.trials) {
    auto n = static_cast<std::size_t>(t.number);
    if (trials.size() <= n) trials.resize(n + 1);
    trials[n] = std::move(t);
  }
  stamp = changes.stamp;
}

std::vector<FrozenTrial> TrialCache::select(const std::vector<TrialState>& states) const {
  std::vector<FrozenTrial> out;
  out.reserve(trials.size());
  for (const FrozenTrial& t : trials) {
    if (t.trial_id < 0) continue;
    if (states.empty() || std::find(states.begin(), states.end(), t.state) != states.end()) out.push_back(t);
  }
  return out;
}

}  // namespace storage_detail

void TrialCounts::add(TrialState state, int n) {
  switch (state) {
    case TrialState::kRunning:
      running += n;
      break;
    case TrialState::kWaiting:
      waiting += n;
      break;
    case TrialState::kComplete:
      complete += n;
      break;
    case TrialState::kPruned:
      pruned += n;
      break;
    case TrialState::kFail:
      failed += n;
      break;
  }
}

void TrialCounts::count(const FrozenTrial& trial, int sign) {
  add(trial.state, sign);
  if (trial.state == TrialState::kFail && storage_detail::is_retried(trial)) retried += sign;
}

}  // namespace nasforge
