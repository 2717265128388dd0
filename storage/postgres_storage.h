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

/// How a PostgresStorage connects and rides out outages.
struct PostgresOptions {
  /// How long one operation keeps reconnecting and retrying while the server is unreachable (a restart, a failover)
  /// before it gives up with a StorageError.
  double reconnect_wait_s = 300.0;
  /// How long the first connection is retried (a worker started before the database is up); only failures that
  /// can go away (refused, server starting, unreachable host) are retried, never a rejected URL or password.
  double connect_wait_s = 30.0;
  /// Folder for trial files (weights), one subfolder per study; "" keeps none. A shared filesystem when workers run
  /// on several machines.
  std::string artifact_root;
  /// Migrate the schema only up to this version (tests of migrations); 0 means the newest.
  int schema_version = 0;
  /// Fault injection for tests: this many of the next commits of non-idempotent writes behave as if the connection
  /// dropped before their reply arrived (they did commit).
  int lose_commit_replies = 0;

  /// Sets reconnect_wait_s.
  PostgresOptions& with_reconnect_wait(double s) {
    reconnect_wait_s = s;
    return *this;
  }
  /// Sets connect_wait_s.
  PostgresOptions& with_connect_wait(double s) {
    connect_wait_s = s;
    return *this;
  }
  /// Sets artifact_root.
  PostgresOptions& with_artifact_root(std::string dir) {
    artifact_root = std::move(dir);
    return *this;
  }
  /// Sets schema_version.
  PostgresOptions& with_schema_version(int v) {
    schema_version = v;
    return *this;
  }
};

/// A postgresql:// URL split into what libpq reads and nasforge's own query options (reconnect_wait_s,
/// connect_wait_s, artifacts), which libpq would reject.
struct PostgresUrl {
  std::string conninfo;     ///< The URL without nasforge's options, for libpq.
  PostgresOptions options;  ///< Defaults overridden by the URL's options.
};

/// Parses "postgresql://user:password@host:port/database?option=value" and checks it with libpq's parser and the
/// values no server could accept (port, integer options, sslmode); ValueError quoting the bad part otherwise.
PostgresUrl parse_postgres_url(const std::string& url);

/// Storage in a PostgreSQL database, for workers on many machines. All tables live in the schema "nasforge", so
/// the database may also hold other programs' tables (Optuna's, say). Every method is one transaction; writes to a
/// study's trials first lock the study's row, so trial numbers, grid-point claims and retries are never
/// duplicated. Heartbeats and their staleness use the database's clock, so workers' clocks need not agree. One
/// connection per object, plus one for heartbeats once the first beat is sent; when one drops (a server restart),
/// the operation reconnects and runs again, and a commit whose outcome was lost with the connection is looked up by
/// a per-operation token rather than repeated.
class PostgresStorage : public Storage {
 public:
  /// Connects to `url` (see parse_postgres_url) and creates or migrates the schema; StorageError (password
  /// redacted) when the server cannot be reached or the database holds a newer nasforge schema.
  explicit PostgresStorage(const std::string& url);
  /// Connects with explicit options (those in the URL are ignored).
  PostgresStorage(const std::string& url, PostgresOptions options);
  /// Closes the connection.
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  /// The newest schema version this build knows.
  static int schema_version();
  /// The schema version of the connected database.
  int database_schema_version();
  /// How many times the main connection has (re)connected; 1 after construction.
  int connection_count() const;

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
  /// See Storage; staleness is measured on the database's clock, and within one grace period of the server's
  /// (re)start nothing is stale (nobody could beat while it was down).
  std::vector<int> reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) override;
  /// See Storage; stamps the database's clock on the heartbeat connection. A no-op when the trial is no longer
  /// RUNNING.
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
  /// The `artifacts` option of the URL ("" by default: a database server has no folder next to it).
  std::string artifact_root() const override;
  /// See Storage.
  std::int64_t import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) override;

 private:
  struct Impl;
  TrialChanges changes_locked(std::int64_t study_id, std::int64_t since);  // caller holds mu_
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;               // the main connection, used by one thread at a time
  std::unique_ptr<Impl> beat_;  // heartbeats' own connection, opened at the first beat
  std::mutex beat_mu_;          // guards beat_
};

}  // namespace nasforge
