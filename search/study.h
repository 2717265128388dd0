#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"
#include "strategies/pruner.h"
#include "strategies/sampler.h"

namespace nasforge {

class Study;

/// Keys nasforge writes into trial system attributes.
namespace trial_attr {
inline constexpr const char* kBudgetRejections = "budget_rejections";  ///< Proposals rejected before this one.
}  // namespace trial_attr

/// Keys nasforge writes into study system attributes.
namespace study_attr {
inline constexpr const char* kConfig = "config_yaml";   ///< The study file's text, so resume can rebuild it.
inline constexpr const char* kConfigPath = "config_path";  ///< Absolute path of the study file.
inline constexpr const char* kBaseDir = "base_dir";     ///< Folder relative paths in the config resolve against.
inline constexpr const char* kSeed = "seed";            ///< The study seed (recorded even when drawn at random).
inline constexpr const char* kNTrials = "n_trials";     ///< Target number of finished trials, if any.
}  // namespace study_attr

/// Why a sampled candidate must not be evaluated (over the objective's hard budget, Objective::reject), or nullopt.
/// A parameter of ask(), not an option: the budget belongs to the objective, which only the run loop holds.
using BudgetCheck = std::function<std::optional<std::string>(const ParamMap& params)>;

/// Policies of one study process; the defaults suit interactive use.
struct StudyOptions {
  std::uint64_t seed = 0;             ///< Seeds the sampler and the per-trial seeds.
  int worker_index = 0;               ///< Distinguishes the sampler streams of parallel workers.
  int max_retry = 0;                  ///< Re-enqueue a failed (stale or crashed) trial up to this many times.
  double heartbeat_interval_s = 0;    ///< > 0 enables heartbeats for trials this process runs.
  double grace_period_s = 0;          ///< RUNNING trials with an older heartbeat are failed before each ask.
  const std::atomic<bool>* stop_flag = nullptr;  ///< Set by the signal handler; trials see it as stop_requested().
  std::string artifact_root;          ///< Folder for per-trial files (trial_<number>/ inside); "" keeps none.
  /// Called after a trial of this process reports an intermediate value (progress output of long trials).
  std::function<void(int number, int step, double value)> on_report;
  /// Called with a trial's progress messages (TrialContext::progress).
  std::function<void(int number, const std::string& message)> on_progress;
  /// Called with the strategy's progress messages between trials (SampleContext::progress).
  std::function<void(const std::string& message)> on_strategy_progress;
  /// Proposals that ask()'s budget check rejected in a row before it gives up with a ValueError naming the last
  /// reason.
  int max_rejections = 1000;
  /// Options with chainable setters, libtorch style.
  StudyOptions& with_seed(std::uint64_t s) { seed = s; return *this; }
  /// Sets the worker index.
  StudyOptions& with_worker(int w) { worker_index = w; return *this; }
  /// Sets the retry policy.
  StudyOptions& with_max_retry(int r) { max_retry = r; return *this; }
  /// Sets the folder that holds per-trial files.
  StudyOptions& with_artifact_root(std::string root) { artifact_root = std::move(root); return *this; }
  /// Enables heartbeats with the given interval and grace period.
  StudyOptions& with_heartbeat(double interval_s, double grace_s) {
    heartbeat_interval_s = interval_s;
    grace_period_s = grace_s;
    return *this;
  }
};

/// Thin handle to one RUNNING trial: every read and write goes to storage.
class Trial : public TrialContext {
 public:
  /// Wraps a trial snapshot of `study`.
  Trial(Study& study, const FrozenTrial& snapshot);

  int number() const override { return number_; }
  const ParamMap& params() const override { return params_; }
  std::uint64_t seed() const override;
  void report(double value, int step) override;
  bool should_prune() override;
  void set_user_attr(const std::string& key, const Json& value) override;
  bool stop_requested() const override;
  std::string artifact_dir() const override;
  /// Forwards to StudyOptions::on_progress.
  void progress(const std::string& message) override;

  /// Storage id of the trial.
  std::int64_t id() const { return trial_id_; }

 private:
  Study* study_;
  std::int64_t trial_id_;
  int number_;
  ParamMap params_;
};

/// A study: a name, directions, a search space, a sampler and a pruner over a storage. The ask/tell API
/// and the run loop (search/runner.h) both go through it.
class Study {
 public:
  /// Creates a new study; DuplicateStudyError when the name exists (unless `load_if_exists`).
  static Study create(std::shared_ptr<Storage> storage, const std::string& name,
                      const std::vector<StudyDirection>& directions, bool load_if_exists = false,
                      const std::map<std::string, Json>& system_attrs = {});
  /// Loads an existing study; NotFoundError listing the stored names when it does not exist.
  static Study load(std::shared_ptr<Storage> storage, const std::string& name);

  /// Sets the space that ask() samples.
  void set_space(SearchSpace space) { space_ = std::move(space); }
  /// Sets the strategy.
  void set_sampler(std::unique_ptr<Sampler> sampler) { sampler_ = std::move(sampler); }
  /// Sets the pruner (none by default).
  void set_pruner(std::unique_ptr<Pruner> pruner) { pruner_ = std::move(pruner); }
  /// Sets seeds, retry and heartbeat policies.
  void set_options(const StudyOptions& options) { options_ = options; }

  /// Starts a trial: fails stale trials, then runs an enqueued trial if any, else samples a new one. With
  /// `max_slots` (the study's n_trials) returns nullopt when every slot is taken. Throws SpaceExhausted when the
  /// sampler has nothing left. A proposal `over_budget` rejects is sampled again and never stored; an enqueued
  /// trial it rejects fails untrained with the reason.
  std::optional<Trial> ask(std::optional<int> max_slots = std::nullopt, const BudgetCheck& over_budget = {});
  /// Finishes a trial as COMPLETE with `values` (one per direction). A NaN value or a wrong count fails the
  /// trial instead, recording why. Returns the state the trial ended in.
  TrialState tell(const Trial& trial, const std::vector<double>& values);
  /// Finishes a trial as PRUNED (at its last reported step) or FAIL with `reason`.
  TrialState tell(const Trial& trial, TrialState state, const std::string& reason = "");
  /// Fails a trial and re-enqueues it when the retry policy allows (`force_retry` always re-enqueues, as for
  /// Ctrl-C, which is not the trial's fault).
  void fail(const Trial& trial, const std::string& reason, bool force_retry = false);
  /// Enqueues a trial with fixed (possibly partial) parameters; they are validated against the space.
  int enqueue(const ParamMap& params, const std::map<std::string, Json>& user_attrs = {});

  /// All trials, optionally only those in `states`.
  std::vector<FrozenTrial> trials(const std::vector<TrialState>& states = {}) const;
  /// The best trial (single objective) or the Pareto front (several), COMPLETE trials only.
  std::vector<FrozenTrial> best_trials() const;
  /// Per-state counts.
  TrialCounts counts() const { return storage_->count_trials(study_id_); }

  /// The study's name.
  const std::string& name() const { return info_.name; }
  /// Storage id.
  std::int64_t id() const { return study_id_; }
  /// One direction per objective.
  const std::vector<StudyDirection>& directions() const { return info_.directions; }
  /// The storage it lives in.
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  /// The search space.
  const SearchSpace& space() const { return space_; }
  /// The options in force.
  const StudyOptions& options() const { return options_; }

 private:
  friend class Trial;
  Study(std::shared_ptr<Storage> storage, StudyInfo info);
  bool should_prune(const Trial& trial);
  ParamMap sample(const ParamMap& fixed, const std::vector<FrozenTrial>& trials);
  /// The space's distribution of each parameter in `params`.
  std::map<std::string, Distribution> distributions_for(const ParamMap& params) const;
  /// Brings history_ up to date with the trials that changed in storage since the last call.
  const std::vector<FrozenTrial>& refresh_history();

  std::shared_ptr<Storage> storage_;
  std::int64_t study_id_;
  StudyInfo info_;
  SearchSpace space_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Pruner> pruner_;
  StudyOptions options_;
  std::vector<FrozenTrial> history_;  // every trial by number, kept in step incrementally
  std::int64_t history_stamp_ = -1;
  TrialCounts history_counts_;        // counts of history_, updated with it so ask() never scans it
};

/// Mixes two 64-bit values into a well-spread seed (splitmix64), for per-worker and per-trial streams.
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

}  // namespace nasforge
