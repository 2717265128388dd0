#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace nasforge {

/// How a SqliteStorage waits for other processes.
struct SqliteOptions {
  double lock_wait_s = 60.0;  ///< Total time one operation retries a locked database before a StorageError.
  int busy_timeout_ms = 200;  ///< SQLite's own wait per attempt; the retry loop adds jittered backoff on top.
  /// Open for reading only: nothing is written (no schema, no WAL switch), so a file in a read-only folder can be
  /// listed; a file without nasforge's schema (an empty one) is a NotFoundError.
  bool read_only = false;
};

/// The file path in a "sqlite:///relative.db" or "sqlite:////absolute.db" URL; ValueError for anything else,
/// including query options, a '#' fragment and SQLite's ":memory:" (which would keep nothing).
std::string sqlite_path_from_url(const std::string& url);

/// Storage in one SQLite file, shared safely by several processes on one machine (WAL mode, every write one
/// BEGIN IMMEDIATE transaction retried while the database is locked). The schema follows Optuna's RDB storage.
/// get_all_trials() keeps trials in memory and re-reads only those changed since the last call, found through a
/// per-study change stamp that every trial write sets.
class SqliteStorage : public Storage {
 public:
  /// Opens (creating if needed) the database at `path`; StorageError naming the path when it is not a usable
  /// nasforge database (not SQLite, another program's tables, newer schema, missing directory).
  explicit SqliteStorage(const std::string& path, SqliteOptions options = {});
  /// Closes the connection.
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  /// The database file.
  const std::string& path() const;
  /// The schema version this build writes and reads.
  static int schema_version();

  /// See Storage.
  std::int64_t create_study(const std::string& name, const std::vector<StudyDirection>& directions,
                            const std::map<std::string, Json>& system_attrs) override;
  using Storage::create_study;
  /// See Storage.
  void delete_study(std::int64_t study_id) override;
  /// See Storage.
  void rename_study(std::int64_t study_id, const std::string& new_name) override;
  /// See Storage.
  std::optional<std::int64_t> find_study(const std::string& name) override;
  /// See Storage.
  StudyInfo get_study(std::int64_t study_id) override;
  /// See Storage.
  std::vector<StudyInfo> list_studies() override;
  /// See Storage.
  void set_study_user_attr(std::int64_t study_id, const std::string& key, const Json& value) override;
  /// See Storage.
  void set_study_system_attr(std::int64_t study_id, const std::string& key, const Json& value) override;
  /// See Storage.
  bool claim_study_key(std::int64_t study_id, const std::string& key, const Json& value) override;

  /// See Storage.
  std::optional<FrozenTrial> create_trial(std::int64_t study_id, const NewTrial& trial,
                                          std::optional<int> max_slots = std::nullopt) override;
  /// See Storage.
  std::optional<FrozenTrial> pop_waiting_trial(std::int64_t study_id, bool heartbeat) override;
  /// See Storage.
  void set_trial_params(std::int64_t trial_id, const ParamMap& params,
                        const std::map<std::string, Distribution>& distributions) override;
  /// See Storage.
  bool finish_trial(std::int64_t trial_id, TrialState state, const std::vector<double>& values,
                    const std::map<std::string, Json>& system_attrs = {}) override;
  /// See Storage.
  std::optional<int> fail_trial(std::int64_t trial_id, const std::string& reason, int max_retry) override;
  /// See Storage.
  std::vector<int> reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) override;
  /// See Storage; a no-op when the trial is no longer RUNNING (the heartbeat thread may race with finishing).
  void record_heartbeat(std::int64_t trial_id) override;
  /// See Storage.
  void set_trial_intermediate_value(std::int64_t trial_id, int step, double value) override;
  /// See Storage.
  void set_trial_user_attr(std::int64_t trial_id, const std::string& key, const Json& value) override;
  /// See Storage.
  void set_trial_system_attr(std::int64_t trial_id, const std::string& key, const Json& value) override;
  /// See Storage.
  FrozenTrial get_trial(std::int64_t trial_id) override;
  /// See Storage.
  std::vector<FrozenTrial> get_all_trials(std::int64_t study_id, const std::vector<TrialState>& states = {}) override;
  /// See Storage.
  TrialChanges get_trials_since(std::int64_t study_id, std::int64_t since) override;
  /// See Storage.
  TrialCounts count_trials(std::int64_t study_id) override;
  /// See Storage.
  std::int64_t import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) override;
  /// "<database path without extension>_artifacts".
  std::string artifact_root() const override;

 private:
  struct Impl;
  TrialChanges changes_locked(std::int64_t study_id, std::int64_t since);  // caller holds mu_
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;  // one connection, used by one thread at a time
};

}  // namespace nasforge
