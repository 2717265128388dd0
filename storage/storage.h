#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "spaces/trial.h"

namespace nasforge {

/// A study as stored.
struct StudyInfo {
  std::int64_t study_id = -1;                   ///< Storage-wide id.
  std::string name;                             ///< Unique name.
  std::vector<StudyDirection> directions;       ///< One per objective.
  std::map<std::string, Json> user_attrs;       ///< Set by users.
  std::map<std::string, Json> system_attrs;     ///< Set by nasforge (config, n_trials target, claims, ...).
};

/// What a new trial starts with.
struct NewTrial {
  TrialState state = TrialState::kRunning;                ///< RUNNING (asked) or WAITING (enqueued).
  ParamMap params;                                        ///< Parameters known at creation.
  std::map<std::string, Distribution> distributions;      ///< Domain of each parameter in `params`.
  std::map<std::string, Json> user_attrs;                 ///< Initial user attributes.
  std::map<std::string, Json> system_attrs;               ///< Initial system attributes.
  bool heartbeat = false;                                 ///< Record a first heartbeat now (RUNNING only).
};

/// Per-state trial counts of one study.
struct TrialCounts {
  int running = 0;   ///< RUNNING.
  int waiting = 0;   ///< WAITING.
  int complete = 0;  ///< COMPLETE.
  int pruned = 0;    ///< PRUNED.
  int failed = 0;    ///< FAIL, including retried ones.
  int retried = 0;   ///< FAIL trials that were re-enqueued (they do not count toward n_trials).
  /// Finished trials that count toward n_trials.
  int finished() const { return complete + pruned + failed - retried; }
  /// Trials that hold an n_trials slot: finished, running or waiting.
  int slots() const { return finished() + running + waiting; }
  /// Adds (sign +1) or removes (sign -1) one trial in the count of its state.
  void count(const FrozenTrial& trial, int sign = 1);
  /// Adds `n` trials to the count of `state` (retried ones are counted separately).
  void add(TrialState state, int n);
};

/// Trials that changed after a stamp; see Storage::get_trials_since.
struct TrialChanges {
  std::vector<FrozenTrial> trials;  ///< Created or written after the given stamp, by number.
  std::int64_t stamp = -1;          ///< Pass to the next call.
  bool complete = false;            ///< `trials` holds every trial: drop what you had (first call, file replaced).
};

/// Keys nasforge writes into trial system attributes.
namespace attr {
inline constexpr const char* kFailReason = "fail_reason";  ///< Why a trial failed (string).
inline constexpr const char* kRetryOf = "retry_of";        ///< Number of the trial this one retries.
inline constexpr const char* kRetryCount = "retry_count";  ///< How many times the original has been retried.
inline constexpr const char* kRetriedBy = "retried_by";    ///< On a FAIL trial: number of its retry.
}  // namespace attr

/// Persistent home of studies and trials; every method is one transaction, safe to call from several
/// processes (and threads) at once. Backends: in-memory, SQLite and PostgreSQL, all held to one conformance
/// suite.
class Storage {
 public:
  virtual ~Storage() = default;

  /// Creates a study with its initial system attributes in one transaction (so a crash never leaves a study
  /// without the configuration it was created with); DuplicateStudyError when the name is taken.
  virtual std::int64_t create_study(const std::string& name, const std::vector<StudyDirection>& directions,
                                    const std::map<std::string, Json>& system_attrs) = 0;
  /// Creates a study without system attributes.
  std::int64_t create_study(const std::string& name, const std::vector<StudyDirection>& directions) {
    return create_study(name, directions, {});
  }
  /// Deletes a study and all its trials; NotFoundError when absent.
  virtual void delete_study(std::int64_t study_id) = 0;
  /// Id of the study with this name, if any.
  virtual std::optional<std::int64_t> find_study(const std::string& name) = 0;
  /// The study; NotFoundError when absent.
  virtual StudyInfo get_study(std::int64_t study_id) = 0;
  /// All studies, by id.
  virtual std::vector<StudyInfo> list_studies() = 0;
  /// Sets (or replaces) a study user attribute.
  virtual void set_study_user_attr(std::int64_t study_id, const std::string& key, const Json& value) = 0;
  /// Sets (or replaces) a study system attribute.
  virtual void set_study_system_attr(std::int64_t study_id, const std::string& key, const Json& value) = 0;
  /// Sets a study system attribute only if it is absent; true when this call set it. Claims grid points.
  virtual bool claim_study_key(std::int64_t study_id, const std::string& key, const Json& value) = 0;

  /// Creates a trial numbered one past the study's highest number. With `max_slots`, does nothing and returns
  /// nullopt when TrialCounts::slots() is already >= max_slots (check and insert are one transaction, so
  /// concurrent workers never overshoot n_trials).
  virtual std::optional<FrozenTrial> create_trial(std::int64_t study_id, const NewTrial& trial,
                                                  std::optional<int> max_slots = std::nullopt) = 0;
  /// Moves the lowest-numbered WAITING trial to RUNNING (with a heartbeat when `heartbeat`) and returns it.
  virtual std::optional<FrozenTrial> pop_waiting_trial(std::int64_t study_id, bool heartbeat) = 0;
  /// Adds parameters to a RUNNING trial; StateError when it is finished.
  virtual void set_trial_params(std::int64_t trial_id, const ParamMap& params,
                                const std::map<std::string, Distribution>& distributions) = 0;
  /// Moves a RUNNING trial to COMPLETE (with `values`), PRUNED or FAIL, adding `system_attrs`. Returns false and
  /// changes nothing when the trial is no longer RUNNING (another worker reaped it).
  virtual bool finish_trial(std::int64_t trial_id, TrialState state, const std::vector<double>& values,
                            const std::map<std::string, Json>& system_attrs = {}) = 0;
  /// Fails a RUNNING trial with `reason` and, when its retry count is below `max_retry`, enqueues a WAITING copy
  /// with the same parameters in the same transaction. Returns the copy's number, if any; nullopt also when the
  /// trial was not RUNNING (nothing changes then).
  virtual std::optional<int> fail_trial(std::int64_t trial_id, const std::string& reason, int max_retry) = 0;
  /// fail_trial() for every RUNNING trial of the study whose last heartbeat is older than `grace_s` seconds;
  /// returns the numbers of the trials it failed. Trials that never had a heartbeat are left alone.
  virtual std::vector<int> reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) = 0;
  /// Refreshes a RUNNING trial's heartbeat to now.
  virtual void record_heartbeat(std::int64_t trial_id) = 0;
  /// Records an intermediate value (replacing one at the same step); StateError when the trial is finished.
  virtual void set_trial_intermediate_value(std::int64_t trial_id, int step, double value) = 0;
  /// Sets a trial user attribute.
  virtual void set_trial_user_attr(std::int64_t trial_id, const std::string& key, const Json& value) = 0;
  /// Sets a trial system attribute.
  virtual void set_trial_system_attr(std::int64_t trial_id, const std::string& key, const Json& value) = 0;
  /// One trial; NotFoundError when absent.
  virtual FrozenTrial get_trial(std::int64_t trial_id) = 0;
  /// Trials of a study ordered by number, optionally only those in `states`.
  virtual std::vector<FrozenTrial> get_all_trials(std::int64_t study_id,
                                                  const std::vector<TrialState>& states = {}) = 0;
  /// Trials created or written after `since` (a stamp from an earlier call; -1 for all). Lets a sampler's
  /// history stay in step with one cheap query instead of copying every trial before each ask.
  virtual TrialChanges get_trials_since(std::int64_t study_id, std::int64_t since) = 0;
  /// Trial counts by state.
  virtual TrialCounts count_trials(std::int64_t study_id) = 0;
  /// Folder next to the data that holds trial files (weights), one subfolder per study; "" when the backend
  /// keeps no files.
  virtual std::string artifact_root() const = 0;
  /// The folder of study `name`'s trial files: artifact_root()/name, or "" when the backend keeps no files.
  /// ValueError (saying how to rename it) when `name` breaks kStudyNameRule, so that no stored name can point a
  /// file operation outside the study's own folder.
  std::string study_artifact_dir(const std::string& name) const;
  /// Renames a study; NotFoundError when absent, DuplicateStudyError when `new_name` is taken, ValueError when it
  /// breaks kStudyNameRule. Only the database changes: moving the trial files is the caller's job.
  virtual void rename_study(std::int64_t study_id, const std::string& new_name) = 0;

  /// Creates study `study.name` (directions, user and system attributes) holding `trials` exactly as given
  /// (numbers, states, datetimes, params, values, intermediate values, attributes; trial ids are new), all in one
  /// transaction, and returns its id. Used by `nasforge copy`. DuplicateStudyError when the name is taken;
  /// ValueError for duplicate numbers or a COMPLETE trial without one value per direction. A RUNNING trial gets a
  /// heartbeat at import time, so that if nobody finishes it the destination's workers fail and retry it.
  virtual std::int64_t import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) = 0;
};

/// Whether a command may write to the storage it opens (open_storage).
enum class StorageAccess { kReadWrite, kReadOnly };

/// The rule every study name follows, for messages: a name is also the folder of the study's trial files, so it
/// can hold nothing a file system or a terminal would read as something else.
inline constexpr const char* kStudyNameRule =
    "a study name is 1 to 128 characters from A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter, a digit or "
    "'_' (it is also the name of the folder holding the study's trial files)";
/// Why `name` cannot be a study name (kStudyNameRule), e.g. "contains '/' at position 3"; nullopt when it can.
std::optional<std::string> study_name_problem(const std::string& name);
/// `name` in single quotes with control, non-ASCII and quote bytes escaped as \xNN, safe to print anywhere.
std::string quote_study_name(const std::string& name);
/// The names of the studies in `storage`, each quote_study_name()d, joined by ", "; "none" when it holds none.
std::string quoted_study_names(Storage& storage);
/// Throws ValueError "<what> <quoted name> is not a valid study name: <problem>; <rule>" for a name that breaks
/// kStudyNameRule.
void check_study_name(const std::string& name, const std::string& what);

/// Opens a storage by URL: "memory" (this process only), "sqlite:///relative.db", "sqlite:////absolute.db" or
/// "postgresql://user:password@host:port/database". An unknown scheme is a ValueError listing the supported ones.
/// kReadOnly opens a SQLite file without writing to it (listing a database in a read-only folder works, and an
/// empty file stays empty); the other backends ignore it.
std::shared_ptr<Storage> open_storage(const std::string& url, StorageAccess access = StorageAccess::kReadWrite);
/// The URL with its password (if any) replaced by "***", for every message that quotes a storage URL.
std::string redact_url(const std::string& url);

}  // namespace nasforge
