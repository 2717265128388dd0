#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/param_value.h"
#include "spaces/distribution.h"

namespace nasforge {

/// Lifecycle of a trial. WAITING trials are enqueued and not yet started.
enum class TrialState { kRunning, kComplete, kPruned, kFail, kWaiting };

/// "RUNNING", "COMPLETE", "PRUNED", "FAIL" or "WAITING".
const char* to_string(TrialState state);
/// Inverse of to_string; throws ValueError listing the valid names.
TrialState parse_trial_state(const std::string& name);
/// COMPLETE, PRUNED and FAIL are final.
bool is_finished(TrialState state);

/// Whether an objective is minimized or maximized.
enum class StudyDirection { kMinimize, kMaximize };

/// "minimize" or "maximize".
const char* to_string(StudyDirection direction);
/// Inverse of to_string; throws ValueError listing the valid names.
StudyDirection parse_direction(const std::string& name);

/// Wall-clock time used for trial timestamps and heartbeats.
using Clock = std::chrono::system_clock;

/// An immutable snapshot of one trial as stored; samplers, pruners and the CLI read these.
struct FrozenTrial {
  std::int64_t trial_id = -1;                          ///< Storage-wide id.
  int number = -1;                                     ///< 0,1,2,... within its study.
  TrialState state = TrialState::kRunning;             ///< Lifecycle state.
  std::vector<double> values;                          ///< Objective values once COMPLETE (one per direction).
  ParamMap params;                                     ///< External parameter values.
  std::map<std::string, Distribution> distributions;   ///< Domain each parameter was sampled from.
  std::map<int, double> intermediate_values;           ///< step -> reported value.
  std::map<std::string, Json> user_attrs;              ///< Attributes set by the objective or the user.
  std::map<std::string, Json> system_attrs;            ///< Attributes set by nasforge itself.
  std::optional<Clock::time_point> datetime_start;     ///< When it started RUNNING.
  std::optional<Clock::time_point> datetime_complete;  ///< When it finished.

  /// The single objective value; nullopt unless COMPLETE with exactly one value.
  std::optional<double> value() const;
  /// Largest reported step, if any.
  std::optional<int> last_step() const;
  /// Internal (sampler) representation of parameter `name`; nullopt if absent.
  std::optional<double> internal_param(const std::string& name) const;
  /// JSON object with number, state, values, params, intermediate_values, user_attrs, system_attrs, datetimes.
  Json to_json() const;
};

/// ISO-8601 local time with microseconds, as Optuna prints datetimes.
std::string format_time(Clock::time_point t);

/// True when `a` is at least as good as `b` in every objective and strictly better in one.
bool dominates(const std::vector<double>& a, const std::vector<double>& b,
               const std::vector<StudyDirection>& directions);

/// COMPLETE trials not dominated by any other COMPLETE trial (the best trial when there is one objective).
std::vector<FrozenTrial> pareto_front(const std::vector<FrozenTrial>& trials,
                                      const std::vector<StudyDirection>& directions);

/// The handle an objective sees while it evaluates one trial. It stays thin: state lives in storage.
class TrialContext {
 public:
  virtual ~TrialContext() = default;
  /// The trial's number within its study.
  virtual int number() const = 0;
  /// The parameters assigned to this trial (only active ones).
  virtual const ParamMap& params() const = 0;
  /// A seed derived from the study seed and the trial number, for objectives that need randomness.
  virtual std::uint64_t seed() const = 0;
  /// Records an intermediate objective value at `step` (e.g. validation accuracy after an epoch).
  virtual void report(double value, int step) = 0;
  /// Asks the study's pruner whether to stop now; the objective should then throw TrialPruned.
  virtual bool should_prune() = 0;
  /// Stores a user attribute (string, number or any JSON) with the trial.
  virtual void set_user_attr(const std::string& key, const Json& value) = 0;
  /// True once the user asked the run to stop (Ctrl-C); long objectives should return promptly.
  virtual bool stop_requested() const = 0;
  /// A folder reserved for this trial's files (e.g. trained weights), created on demand; "" when the study
  /// keeps no files (in-memory storage).
  virtual std::string artifact_dir() const = 0;
  /// A progress message for long work that reports no value (e.g. "int8: val_accuracy 0.8510"); shown by the
  /// CLI's progress output, ignored by default.
  virtual void progress(const std::string& message) { (void)message; }

  /// The parameter `name`; throws NotFoundError listing the parameters this trial has.
  const ParamValue& param(const std::string& name) const;
};

}  // namespace nasforge
