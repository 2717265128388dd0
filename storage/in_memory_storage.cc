#include "storage/in_memory_storage.h"

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "storage/storage_common.h"

namespace nasforge {

using storage_detail::describe_trial;

InMemoryStorage::StudyRecord& InMemoryStorage::study_locked(std::int64_t study_id) {
  auto it = studies_.find(study_id);
  if (it == studies_.end())
    throw NotFoundError("no study with id " + std::to_string(study_id) + " in storage 'memory'");
  return it->second;
}

InMemoryStorage::TrialRecord& InMemoryStorage::trial_locked(std::int64_t trial_id) {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) throw NotFoundError("no trial with id " + std::to_string(trial_id) + " in storage 'memory'");
  return it->second;
}

InMemoryStorage::TrialRecord& InMemoryStorage::writable_trial_locked(std::int64_t trial_id, const std::string& what) {
  TrialRecord& r = trial_locked(trial_id);
  if (is_finished(r.trial.state)) {
    throw StateError("cannot " + what + " on " + describe_trial(trial_id, r.trial.number) + ": it is already " +
                     to_string(r.trial.state));
  }
  touch_locked(r);  // every caller writes to the trial
  return r;
}

void InMemoryStorage::touch_locked(TrialRecord& record) {
  StudyRecord& study = studies_.at(record.study_id);
  record.stamp = ++study.stamp;
  auto n = static_cast<std::size_t>(record.trial.number);
  if (study.stamps.size() <= n) study.stamps.resize(n + 1, 0);
  study.stamps[n] = record.stamp;
  study.changes.emplace_back(record.stamp, record.trial.number);
}

FrozenTrial& InMemoryStorage::add_trial_locked(std::int64_t study_id, FrozenTrial trial) {
  StudyRecord& study = study_locked(study_id);
  trial.trial_id = next_trial_id_++;
  trial.number = static_cast<int>(study.trial_ids.size());
  study.trial_ids.push_back(trial.trial_id);
  TrialRecord& r = trials_[trial.trial_id];
  r.study_id = study_id;
  r.trial = std::move(trial);
  touch_locked(r);
  return r.trial;
}

void InMemoryStorage::check_name_free_locked(const std::string& name) {
  for (const auto& [id, s] : studies_) {
    if (s.info.name == name)
      throw DuplicateStudyError("a study named '" + name + "' already exists (id " + std::to_string(id) +
                                "); pick another name or load it");
  }
}

std::int64_t InMemoryStorage::create_study(const std::string& name, const std::vector<StudyDirection>& directions,
                                           const std::map<std::string, Json>& system_attrs) {
  storage_detail::check_new_study(name, directions);
  for (const auto& [k, v] : system_attrs) storage_detail::dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  check_name_free_locked(name);
  std::int64_t id = next_study_id_++;
  StudyRecord& s = studies_[id];
  s.info.study_id = id;
  s.info.name = name;
  s.info.directions = directions;
  s.info.system_attrs = system_attrs;
  return id;
}

std::int64_t InMemoryStorage::import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) {
  storage_detail::ImportPlan plan = storage_detail::check_import(study, trials);
  std::lock_guard<std::mutex> lock(mu_);
  check_name_free_locked(study.name);
  // Nothing below throws, so the study appears whole or not at all.
  std::int64_t id = next_study_id_++;
  StudyRecord& s = studies_[id];
  s.info.study_id = id;
  s.info.name = study.name;
  s.info.directions = study.directions;
  s.info.user_attrs = study.user_attrs;
  s.info.system_attrs = study.system_attrs;
  auto now = storage_detail::now();
  for (storage_detail::ImportedTrial& in : plan.trials) {
    FrozenTrial t = *in.trial;  // numbers are 0..n-1 in order, as add_trial_locked assigns them
    t.params = std::move(in.params.params);
    t.distributions = std::move(in.params.distributions);
    t.datetime_start = in.datetime_start;
    t.datetime_complete = in.datetime_complete;
    FrozenTrial& added = add_trial_locked(id, std::move(t));
    if (added.state == TrialState::kRunning) trials_[added.trial_id].heartbeat = now;
  }
  return id;
}

void InMemoryStorage::delete_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  StudyRecord& s = study_locked(study_id);
  for (std::int64_t tid : s.trial_ids) trials_.erase(tid);
  studies_.erase(study_id);
}

void InMemoryStorage::rename_study(std::int64_t study_id, const std::string& new_name) {
  check_study_name(new_name, "new name");
  std::lock_guard<std::mutex> lock(mu_);
  StudyRecord& s = study_locked(study_id);
  if (s.info.name == new_name) return;
  check_name_free_locked(new_name);
  s.info.name = new_name;
}

std::optional<std::int64_t> InMemoryStorage::find_study(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, s] : studies_) {
    if (s.info.name == name) return id;
  }
  return std::nullopt;
}

StudyInfo InMemoryStorage::get_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return study_locked(study_id).info;
}

std::vector<StudyInfo> InMemoryStorage::list_studies() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StudyInfo> out;
  for (const auto& [id, s] : studies_) out.push_back(s.info);
  return out;
}

void InMemoryStorage::set_study_user_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  storage_detail::dump_json(value);  // same serializability check as persistent backends
  std::lock_guard<std::mutex> lock(mu_);
  study_locked(study_id).info.user_attrs[key] = value;
}

void InMemoryStorage::set_study_system_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  storage_detail::dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  study_locked(study_id).info.system_attrs[key] = value;
}

bool InMemoryStorage::claim_study_key(std::int64_t study_id, const std::string& key, const Json& value) {
  storage_detail::dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  return study_locked(study_id).info.system_attrs.emplace(key, value).second;
}

std::optional<FrozenTrial> InMemoryStorage::create_trial(std::int64_t study_id, const NewTrial& trial,
                                                         std::optional<int> max_slots) {
  storage_detail::check_new_trial_state(trial.state);
  auto canonical = storage_detail::canonical_params(trial.params, trial.distributions);
  for (const auto& [k, v] : trial.user_attrs) storage_detail::dump_json(v);
  for (const auto& [k, v] : trial.system_attrs) storage_detail::dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  StudyRecord& study = study_locked(study_id);
  if (max_slots) {
    int slots = static_cast<int>(study.trial_ids.size());
    for (std::int64_t tid : study.trial_ids) slots -= storage_detail::is_retried(trials_.at(tid).trial) ? 1 : 0;
    if (slots >= *max_slots) return std::nullopt;
  }
  FrozenTrial t;
  t.state = trial.state;
  t.params = std::move(canonical.params);
  t.distributions = std::move(canonical.distributions);
  t.user_attrs = trial.user_attrs;
  t.system_attrs = trial.system_attrs;
  auto now = storage_detail::now();
  if (t.state == TrialState::kRunning) t.datetime_start = now;
  FrozenTrial& added = add_trial_locked(study_id, std::move(t));
  if (trial.heartbeat && added.state == TrialState::kRunning) trials_[added.trial_id].heartbeat = now;
  return added;
}

std::optional<FrozenTrial> InMemoryStorage::pop_waiting_trial(std::int64_t study_id, bool heartbeat) {
  std::lock_guard<std::mutex> lock(mu_);
  StudyRecord& study = study_locked(study_id);
  for (std::int64_t tid : study.trial_ids) {
    TrialRecord& r = trials_.at(tid);
    if (r.trial.state != TrialState::kWaiting) continue;
    auto now = storage_detail::now();
    r.trial.state = TrialState::kRunning;
    r.trial.datetime_start = now;
    if (heartbeat) r.heartbeat = now;
    touch_locked(r);
    return r.trial;
  }
  return std::nullopt;
}

void InMemoryStorage::set_trial_params(std::int64_t trial_id, const ParamMap& params,
                                       const std::map<std::string, Distribution>& distributions) {
  auto canonical = storage_detail::canonical_params(params, distributions);
  std::lock_guard<std::mutex> lock(mu_);
  TrialRecord& r = writable_trial_locked(trial_id, "set parameters");
  for (auto& [name, value] : canonical.params) {
    r.trial.params[name] = value;
    r.trial.distributions.insert_or_assign(name, canonical.distributions.at(name));
  }
}

bool InMemoryStorage::finish_trial(std::int64_t trial_id, TrialState state, const std::vector<double>& values,
                                   const std::map<std::string, Json>& system_attrs) {
  for (const auto& [k, v] : system_attrs) storage_detail::dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  TrialRecord& r = trial_locked(trial_id);
  storage_detail::check_finish(state, values, studies_.at(r.study_id).info.directions.size());
  if (r.trial.state != TrialState::kRunning) return false;
  touch_locked(r);
  r.trial.state = state;
  r.trial.values = values;
  r.trial.datetime_complete = storage_detail::now();
  for (const auto& [k, v] : system_attrs) r.trial.system_attrs[k] = v;
  return true;
}

std::optional<int> InMemoryStorage::fail_locked(TrialRecord& record, const std::string& reason, int max_retry) {
  FrozenTrial& failed = record.trial;
  touch_locked(record);
  failed.state = TrialState::kFail;
  failed.datetime_complete = storage_detail::now();
  failed.system_attrs[attr::kFailReason] = reason;
  int count = storage_detail::retry_count(failed.system_attrs);
  if (count >= max_retry) return std::nullopt;
  FrozenTrial copy;
  copy.state = TrialState::kWaiting;
  copy.params = failed.params;
  copy.distributions = failed.distributions;
  copy.system_attrs[attr::kRetryOf] = storage_detail::retry_root(failed.system_attrs, failed.number);
  copy.system_attrs[attr::kRetryCount] = count + 1;
  int number = add_trial_locked(record.study_id, std::move(copy)).number;  // std::map keeps `failed` valid
  failed.system_attrs[attr::kRetriedBy] = number;
  touch_locked(record);
  return number;
}

std::optional<int> InMemoryStorage::fail_trial(std::int64_t trial_id, const std::string& reason, int max_retry) {
  std::lock_guard<std::mutex> lock(mu_);
  TrialRecord& r = trial_locked(trial_id);
  if (r.trial.state != TrialState::kRunning) return std::nullopt;
  return fail_locked(r, reason, max_retry);
}

std::vector<int> InMemoryStorage::reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) {
  storage_detail::check_grace(grace_s);
  std::lock_guard<std::mutex> lock(mu_);
  StudyRecord& study = study_locked(study_id);
  auto now = storage_detail::now();
  std::vector<std::int64_t> stale;
  std::vector<double> ages;
  for (std::int64_t tid : study.trial_ids) {
    const TrialRecord& r = trials_.at(tid);
    if (r.trial.state != TrialState::kRunning || !r.heartbeat) continue;
    double age = std::chrono::duration<double>(now - *r.heartbeat).count();
    if (age > grace_s) {
      stale.push_back(tid);
      ages.push_back(age);
    }
  }
  std::vector<int> reaped;
  for (std::size_t i = 0; i < stale.size(); ++i) {
    TrialRecord& r = trials_.at(stale[i]);
    reaped.push_back(r.trial.number);
    fail_locked(r,
                "no heartbeat for " + std::to_string(ages[i]) + " s (grace " + std::to_string(grace_s) +
                    " s): the worker running it died or hung",
                max_retry);
  }
  return reaped;
}

void InMemoryStorage::record_heartbeat(std::int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TrialRecord& r = trial_locked(trial_id);
  if (r.trial.state == TrialState::kRunning) r.heartbeat = storage_detail::now();
}

void InMemoryStorage::set_trial_intermediate_value(std::int64_t trial_id, int step, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  writable_trial_locked(trial_id, "report an intermediate value").trial.intermediate_values[step] = value;
}

void InMemoryStorage::set_trial_user_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  storage_detail::dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  writable_trial_locked(trial_id, "set user attribute '" + key + "'").trial.user_attrs[key] = value;
}

void InMemoryStorage::set_trial_system_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  storage_detail::dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  writable_trial_locked(trial_id, "set system attribute '" + key + "'").trial.system_attrs[key] = value;
}

FrozenTrial InMemoryStorage::get_trial(std::int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return trial_locked(trial_id).trial;
}

TrialChanges InMemoryStorage::get_trials_since(std::int64_t study_id, std::int64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  const StudyRecord& study = study_locked(study_id);
  TrialChanges changes;
  changes.stamp = study.stamp;
  changes.complete = since < 0;
  auto first = std::upper_bound(study.changes.begin(), study.changes.end(), std::make_pair(since, INT_MAX));
  std::vector<int> numbers;
  for (auto it = first; it != study.changes.end(); ++it) {
    // A trial written several times is reported once, at its latest write.
    if (study.stamps[static_cast<std::size_t>(it->second)] == it->first) numbers.push_back(it->second);
  }
  std::sort(numbers.begin(), numbers.end());
  for (int n : numbers) changes.trials.push_back(trials_.at(study.trial_ids[static_cast<std::size_t>(n)]).trial);
  return changes;
}

std::vector<FrozenTrial> InMemoryStorage::get_all_trials(std::int64_t study_id, const std::vector<TrialState>& states) {
  std::lock_guard<std::mutex> lock(mu_);
  const StudyRecord& study = study_locked(study_id);
  std::vector<FrozenTrial> out;
  out.reserve(study.trial_ids.size());
  for (std::int64_t tid : study.trial_ids) {
    const FrozenTrial& t = trials_.at(tid).trial;
    if (states.empty() || std::find(states.begin(), states.end(), t.state) != states.end()) out.push_back(t);
  }
  return out;
}

TrialCounts InMemoryStorage::count_trials(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TrialCounts c;
  for (std::int64_t tid : study_locked(study_id).trial_ids) c.count(trials_.at(tid).trial);
  return c;
}

}  // namespace nasforge
