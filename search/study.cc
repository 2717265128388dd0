#include "search/study.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Trial::Trial(Study& study, const FrozenTrial& snapshot)
    : study_(&study), trial_id_(snapshot.trial_id), number_(snapshot.number), params_(snapshot.params) {}

std::uint64_t Trial::seed() const { return mix_seed(study_->options_.seed, static_cast<std::uint64_t>(number_)); }

void Trial::report(double value, int step) {
  check(step >= 0, "report step must be >= 0, got " + std::to_string(step));
  study_->storage_->set_trial_intermediate_value(trial_id_, step, value);
  if (study_->options_.on_report) study_->options_.on_report(number_, step, value);
}

bool Trial::should_prune() { return study_->should_prune(*this); }

void Trial::set_user_attr(const std::string& key, const Json& value) {
  study_->storage_->set_trial_user_attr(trial_id_, key, value);
}

std::string Trial::artifact_dir() const {
  const std::string& root = study_->options_.artifact_root;
  if (root.empty()) return "";
  std::filesystem::path dir = std::filesystem::path(root) / ("trial_" + std::to_string(number_));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create the trial folder " + dir.string() + ": " + ec.message());
  return dir.string();
}

void Trial::progress(const std::string& message) {
  if (study_->options_.on_progress) study_->options_.on_progress(number_, message);
}

bool Trial::stop_requested() const {
  return study_->options_.stop_flag != nullptr && study_->options_.stop_flag->load();
}

Study::Study(std::shared_ptr<Storage> storage, StudyInfo info)
    : storage_(std::move(storage)), study_id_(info.study_id), info_(std::move(info)) {}

Study Study::create(std::shared_ptr<Storage> storage, const std::string& name,
                    const std::vector<StudyDirection>& directions, bool load_if_exists,
                    const std::map<std::string, Json>& system_attrs) {
  check(!name.empty(), "a study name must not be empty");
  check(!directions.empty(), "a study needs at least one direction");
  if (load_if_exists) {
    if (auto id = storage->find_study(name)) {
      StudyInfo info = storage->get_study(*id);
      if (info.directions != directions) {
        throw ValueError("study '" + name + "' exists with different directions");
      }
      return Study(storage, info);
    }
  }
  std::int64_t id = storage->create_study(name, directions, system_attrs);
  return Study(storage, storage->get_study(id));
}

Study Study::load(std::shared_ptr<Storage> storage, const std::string& name) {
  auto id = storage->find_study(name);
  if (!id) {
    std::vector<std::string> names;
    for (const auto& s : storage->list_studies()) names.push_back(s.name);
    // Quoted with escapes: the name comes from a command line and may hold bytes a terminal would act on.
    throw NotFoundError("no study named " + quote_study_name(name) + " in this storage" + did_you_mean(name, names) +
                        (names.empty() ? "; the storage holds no studies"
                                       : "; studies: " + quoted_study_names(*storage)));
  }
  return Study(storage, storage->get_study(*id));
}

ParamMap Study::sample(const ParamMap& fixed, const std::vector<FrozenTrial>& trials) {
  if (!sampler_) throw StateError("study '" + info_.name + "' has no strategy set; cannot ask");
  SampleContext ctx{
      space_,
      trials,
      info_.directions,
      fixed,
      [this](const std::string& key) { return storage_->claim_study_key(study_id_, "claim:" + key, Json(true)); },
      [this](const std::string& message) {
        if (options_.on_strategy_progress) options_.on_strategy_progress(message);
      }};
  ParamMap params = sampler_->sample(ctx);
  // Guard against a sampler bug silently producing values outside the space.
  return space_.validate(params, true);
}

std::map<std::string, Distribution> Study::distributions_for(const ParamMap& params) const {
  std::map<std::string, Distribution> out;
  for (const auto& [name, value] : params) out.emplace(name, space_.at(name).distribution);
  return out;
}

const std::vector<FrozenTrial>& Study::refresh_history() {
  TrialChanges changes = storage_->get_trials_since(study_id_, history_stamp_);
  if (changes.complete) {
    history_.clear();
    history_counts_ = TrialCounts{};
  }
  for (FrozenTrial& t : changes.trials) {
    auto n = static_cast<std::size_t>(t.number);
    if (history_.size() <= n) history_.resize(n + 1);
    if (history_[n].trial_id >= 0) history_counts_.count(history_[n], -1);  // not a placeholder
    history_counts_.count(t, +1);
    history_[n] = std::move(t);
  }
  history_stamp_ = changes.stamp;
  return history_;
}

std::optional<Trial> Study::ask(std::optional<int> max_slots, const BudgetCheck& over_budget) {
  const bool heartbeat = options_.heartbeat_interval_s > 0;
  if (options_.grace_period_s > 0) storage_->reap_stale_trials(study_id_, options_.grace_period_s, options_.max_retry);

  const std::vector<FrozenTrial>& history = refresh_history();
  // Popping is a write transaction; skip it when the fresh history shows nothing waiting.
  std::optional<FrozenTrial> waiting;
  if (history_counts_.waiting > 0) waiting = storage_->pop_waiting_trial(study_id_, heartbeat);
  if (waiting) {
    ParamMap fixed = waiting->params;
    if (!space_.empty()) {
      ParamMap full = sample(fixed, refresh_history());
      ParamMap added;
      for (const auto& [name, value] : full) {
        if (!fixed.count(name)) added[name] = value;
      }
      if (!added.empty()) storage_->set_trial_params(waiting->trial_id, added, distributions_for(added));
      waiting->params = full;
    }
    // An enqueued trial is an explicit request, so it is not silently replaced: it fails with the reason, untrained.
    if (std::optional<std::string> reason = over_budget ? over_budget(waiting->params) : std::nullopt) {
      storage_->fail_trial(waiting->trial_id, "over budget: " + *reason, /*max_retry=*/0);
      return ask(max_slots, over_budget);
    }
    return Trial(*this, *waiting);
  }

  // Cheap early exit; the authoritative check is inside create_trial's transaction.
  if (max_slots && history_counts_.slots() >= *max_slots) return std::nullopt;
  NewTrial nt;
  nt.state = TrialState::kRunning;
  nt.heartbeat = heartbeat;
  // Over-budget proposals are dropped before anything is stored or trained; the sampler is asked again (its
  // random stream moves on, so it proposes something else).
  for (int rejections = 0;; ++rejections) {
    try {
      nt.params = sample({}, history);
    } catch (const ObjectiveError& e) {
      // The strategy's own training failed (e.g. a NaN loss in a darts supernet search): like a failing objective,
      // that costs one FAIL trial (without parameters), not the study; the next ask() runs a fresh search.
      NewTrial failed;
      failed.system_attrs = sampler_->take_trial_attrs();
      auto created = storage_->create_trial(study_id_, failed, max_slots);
      if (!created) return std::nullopt;
      storage_->fail_trial(created->trial_id, std::string("strategy: ") + e.what(), /*max_retry=*/0);
      return ask(max_slots, over_budget);
    }
    nt.system_attrs = sampler_->take_trial_attrs();
    std::optional<std::string> reason = over_budget ? over_budget(nt.params) : std::nullopt;
    if (!reason) {
      if (rejections > 0) nt.system_attrs[trial_attr::kBudgetRejections] = rejections;
      break;
    }
    if (rejections + 1 >= options_.max_rejections) {
      throw ValueError("study '" + info_.name + "': the strategy proposed " + std::to_string(rejections + 1) +
                       " candidates in a row that are over the objective's budget (last one: " + *reason +
                       "); loosen the budget or narrow the search space");
    }
  }
  nt.distributions = distributions_for(nt.params);
  auto created = storage_->create_trial(study_id_, nt, max_slots);
  if (!created) return std::nullopt;
  return Trial(*this, *created);
}

TrialState Study::tell(const Trial& trial, const std::vector<double>& values) {
  if (values.size() != info_.directions.size()) {
    std::string reason = "objective returned " + std::to_string(values.size()) + " values but the study has " +
                         std::to_string(info_.directions.size()) + " directions";
    return tell(trial, TrialState::kFail, reason);
  }
  for (double v : values) {
    if (std::isnan(v)) return tell(trial, TrialState::kFail, "objective returned NaN");
  }
  if (!storage_->finish_trial(trial.id(), TrialState::kComplete, values)) {
    throw StateError("trial " + std::to_string(trial.number()) + " is no longer RUNNING (it was failed by another "
                     "worker after its heartbeat went stale); its result is discarded");
  }
  return TrialState::kComplete;
}

TrialState Study::tell(const Trial& trial, TrialState state, const std::string& reason) {
  check(state == TrialState::kPruned || state == TrialState::kFail,
        std::string("tell() without values takes PRUNED or FAIL, got ") + to_string(state));
  if (state == TrialState::kFail) {
    fail(trial, reason.empty() ? "failed" : reason);
    return TrialState::kFail;
  }
  std::map<std::string, Json> attrs;
  FrozenTrial snap = storage_->get_trial(trial.id());
  if (auto step = snap.last_step()) attrs["pruned_at_step"] = *step;
  if (!storage_->finish_trial(trial.id(), TrialState::kPruned, {}, attrs)) {
    throw StateError("trial " + std::to_string(trial.number()) + " is no longer RUNNING");
  }
  return TrialState::kPruned;
}

void Study::fail(const Trial& trial, const std::string& reason, bool force_retry) {
  storage_->fail_trial(trial.id(), reason, force_retry ? INT_MAX : options_.max_retry);
}

int Study::enqueue(const ParamMap& params, const std::map<std::string, Json>& user_attrs) {
  if (space_.empty()) throw StateError("study '" + info_.name + "' has no search space set; cannot enqueue");
  NewTrial nt;
  nt.state = TrialState::kWaiting;
  nt.params = space_.validate(params, false);
  nt.distributions = distributions_for(nt.params);
  nt.user_attrs = user_attrs;
  auto created = storage_->create_trial(study_id_, nt);
  return created->number;
}

std::vector<FrozenTrial> Study::trials(const std::vector<TrialState>& states) const {
  return storage_->get_all_trials(study_id_, states);
}

std::vector<FrozenTrial> Study::best_trials() const {
  return pareto_front(storage_->get_all_trials(study_id_, {TrialState::kComplete}), info_.directions);
}

bool Study::should_prune(const Trial& trial) {
  if (!pruner_ || info_.directions.size() != 1) return false;
  const std::vector<FrozenTrial>& all = refresh_history();
  auto n = static_cast<std::size_t>(trial.number());
  if (n >= all.size() || all[n].trial_id != trial.id()) return false;
  return pruner_->prune(all[n], all, info_.directions[0]);
}

}  // namespace nasforge
