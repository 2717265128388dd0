#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"

namespace nasforge {

/// A fully validated study file. Loading it checks every section (space, strategy, pruner, objective) so that
/// a bad file fails before anything is written to storage.
struct StudyConfig {
  std::string text;                        ///< The YAML text as read (stored with the study for resume).
  std::string path;                        ///< Absolute path of the file ("" when parsed from a string).
  std::string base_dir;                    ///< Folder that relative paths resolve against.
  ConfigNode root;                         ///< The parsed document.

  std::string name;                        ///< study.name (default: the file name without extension).
  std::vector<StudyDirection> directions;  ///< study.direction or study.directions.
  std::optional<int> n_trials;             ///< study.n_trials: target number of finished trials.
  std::optional<double> timeout_s;         ///< study.timeout_s: wall-clock limit per run.
  std::optional<std::uint64_t> seed;       ///< study.seed; drawn at random (and recorded) when absent.
  int max_retry = 0;                       ///< study.max_retry.
  double heartbeat_interval_s = 10;        ///< study.heartbeat_interval_s.
  double grace_period_s = 60;              ///< study.grace_period_s.
  std::string storage_url;                 ///< storage (default sqlite:///<name>.db).
  SearchSpace space;                       ///< space.
  std::vector<ParamMap> enqueue;           ///< enqueue: parameter sets to evaluate first.

  /// The `strategy:` section.
  ConfigNode strategy() const { return root.get("strategy"); }
  /// The `pruner:` section.
  ConfigNode pruner() const { return root.get("pruner"); }
  /// The `objective:` section (may be absent for ask/tell studies).
  ConfigNode objective() const { return root.get("objective"); }
  /// Whether an objective is configured (run and resume need one).
  bool has_objective() const { return objective().defined() && !objective().is_null(); }
};

/// Reads and validates a study file. NotFoundError when missing; ConfigError naming file, line, key and value
/// for anything invalid.
StudyConfig load_study_config(const std::string& path);

/// Same as load_study_config for text; `name` stands in for the file name and `base_dir` for its folder.
StudyConfig parse_study_config(const std::string& text, const std::string& name, const std::string& base_dir);

}  // namespace nasforge
