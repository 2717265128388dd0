#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "storage/storage.h"
#include "spaces/trial.h"

// Helpers shared by the storage backends so that they validate and normalize inputs identically; the
// conformance suite holds every backend to the same observable behaviour.
namespace nasforge::storage_detail {

/// The current time, truncated to the microseconds every backend can store.
Clock::time_point now();
/// Microseconds since the epoch.
std::int64_t to_micros(Clock::time_point t);
/// Inverse of to_micros.
Clock::time_point from_micros(std::int64_t us);

/// Parameters checked against their distributions and put in canonical form (external value of the internal
/// representation), with the distributions of exactly those parameters.
struct CanonicalParams {
  ParamMap params;                                    ///< Canonical external values.
  std::map<std::string, Distribution> distributions;  ///< One per parameter.
  std::map<std::string, double> internal;             ///< Internal representation of each parameter.
};

/// Validates `params` (each needs a distribution containing its value); throws ValueError naming the parameter.
CanonicalParams canonical_params(const ParamMap& params, const std::map<std::string, Distribution>& distributions);

/// Throws ValueError unless a new trial starts RUNNING or WAITING.
void check_new_trial_state(TrialState state);
/// Throws ValueError unless `state` is a final state and, for COMPLETE, `values` has one value per objective.
void check_finish(TrialState state, const std::vector<double>& values, std::size_t n_objectives);
/// Throws ValueError unless the heartbeat grace period is a number >= 0.
void check_grace(double grace_s);
/// Throws ValueError unless there is at least one direction and the name follows kStudyNameRule.
void check_new_study(const std::string& name, const std::vector<StudyDirection>& directions);

/// A trial for Storage::import_study, validated and normalized.
struct ImportedTrial {
  const FrozenTrial* trial = nullptr;                  ///< The caller's trial (outlives this).
  CanonicalParams params;                              ///< Its parameters in canonical form.
  std::map<std::string, std::string> user_json;        ///< User attributes as JSON text.
  std::map<std::string, std::string> system_json;      ///< System attributes as JSON text.
  std::optional<Clock::time_point> datetime_start;     ///< Truncated to microseconds.
  std::optional<Clock::time_point> datetime_complete;  ///< Truncated to microseconds.
};
/// A study for Storage::import_study, validated: its attributes as JSON text and its trials ordered by number.
struct ImportPlan {
  std::map<std::string, std::string> user_json;    ///< Study user attributes as JSON text.
  std::map<std::string, std::string> system_json;  ///< Study system attributes as JSON text.
  std::vector<ImportedTrial> trials;               ///< By number: trials[i] has number i.
};
/// Validates what Storage::import_study receives, identically for every backend, before anything is written:
/// the name and directions as for create_study, trial numbers exactly 0..n-1 (each once, any order: every backend
/// relies on dense numbers), one value per direction for a COMPLETE trial, each parameter in its distribution and
/// every attribute serializable; ValueError naming the first offending trial otherwise.
ImportPlan check_import(const StudyInfo& study, const std::vector<FrozenTrial>& trials);

/// A connection's copy of one study's trials, kept up to date with Storage::get_trials_since so that
/// get_all_trials() re-reads only what changed.
struct TrialCache {
  std::int64_t stamp = -1;          ///< The study's change stamp when last updated.
  std::vector<FrozenTrial> trials;  ///< By number; trial_id < 0 marks a number not seen yet.
  /// Merges what changed since `stamp` (or replaces everything when changes.complete).
  void apply(TrialChanges&& changes);
  /// The cached trials in `states` (all when empty), by number.
  std::vector<FrozenTrial> select(const std::vector<TrialState>& states) const;
};

/// The retry_count system attribute (0 when absent or malformed).
int retry_count(const std::map<std::string, Json>& system_attrs);
/// Number of the original trial a retry chain started from: its retry_of attribute, else `number`.
int retry_root(const std::map<std::string, Json>& system_attrs, int number);
/// True for a FAIL trial that has been re-enqueued (it no longer holds an n_trials slot).
bool is_retried(const FrozenTrial& trial);

/// Compact JSON text; throws ValueError (not a JSON library error) when the value cannot be serialized.
std::string dump_json(const Json& value);
/// "trial #3 (id 17)", for messages.
std::string describe_trial(std::int64_t trial_id, int number);

}  // namespace nasforge::storage_detail
