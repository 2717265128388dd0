#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace nasforge {

/// Storage that lives in this process only: fast, thread-safe (one mutex), gone when the process exits.
class InMemoryStorage : public Storage {
 public:
  /// An empty storage.
  InMemoryStorage() = default;

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
  /// "": an in-memory study keeps no files.
  std::string artifact_root() const override { return ""; }

 private:
  struct StudyRecord {
    StudyInfo info;
    std::vector<std::int64_t> trial_ids;  // indexed by trial number
    std::vector<std::int64_t> stamps;     // TrialRecord::stamp by trial number
    // (stamp, number) of every write in stamp order, so get_trials_since finds what changed by binary search.
    std::vector<std::pair<std::int64_t, int>> changes;
    std::int64_t stamp = 0;               // highest TrialRecord::stamp of the study
  };
  struct TrialRecord {
    std::int64_t study_id = -1;
    FrozenTrial trial;
    std::optional<Clock::time_point> heartbeat;
    std::int64_t stamp = 0;  // study-wide change counter at the last write (see get_trials_since)
  };

  void check_name_free_locked(const std::string& name);
  StudyRecord& study_locked(std::int64_t study_id);
  TrialRecord& trial_locked(std::int64_t trial_id);
  TrialRecord& writable_trial_locked(std::int64_t trial_id, const std::string& what);
  FrozenTrial& add_trial_locked(std::int64_t study_id, FrozenTrial trial);
  void touch_locked(TrialRecord& record);
  std::optional<int> fail_locked(TrialRecord& record, const std::string& reason, int max_retry);

  std::mutex mu_;
  std::map<std::int64_t, StudyRecord> studies_;
  std::map<std::int64_t, TrialRecord> trials_;
  std::int64_t next_study_id_ = 1;
  std::int64_t next_trial_id_ = 1;
};

}  // namespace nasforge
