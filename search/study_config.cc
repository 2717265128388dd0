#include "search/study_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/objective.h"
#include "spaces/architecture.h"
#include "storage/storage.h"
#include "strategies/pruner.h"
#include "strategies/sampler.h"

namespace nasforge {

namespace {

constexpr double kMinHeartbeatS = 0.1;
constexpr double kMaxHeartbeatS = 3600;
// Durations beyond this overflow the clocks they are added to (and no study runs for 31 years).
constexpr double kMaxSeconds = 1e9;
constexpr std::int64_t kMaxRetry = 1000;

std::vector<StudyDirection> read_directions(SectionReader& study) {
  ConfigNode one = study.child("direction", "minimize|maximize", "direction of a single objective (default minimize)");
  ConfigNode many = study.child("directions", "list", "directions of several objectives, e.g. [minimize, maximize]");
  if (one.defined() && many.defined()) many.fail("give either direction or directions, not both");
  auto parse = [](const ConfigNode& n) {
    try {
      return parse_direction(n.as_string());
    } catch (const ValueError& e) {
      n.fail(e.what());
    }
  };
  if (many.defined()) {
    if (!many.is_sequence() || many.elements().empty()) many.fail("expected a non-empty list such as [minimize, maximize]");
    std::vector<StudyDirection> out;
    for (const auto& e : many.elements()) out.push_back(parse(e));
    return out;
  }
  if (one.defined() && !one.is_null()) return {parse(one)};
  return {StudyDirection::kMinimize};
}

}  // namespace

StudyConfig parse_study_config(const std::string& text, const std::string& name, const std::string& base_dir) {
  StudyConfig cfg;
  cfg.text = text;
  cfg.base_dir = base_dir;
  cfg.root = ConfigNode::parse_string(text, name);
  if (!cfg.root.is_map()) cfg.root.fail("a study file must be a mapping with study:, space:, objective: ...");

  SectionReader top(cfg.root);
  ConfigNode study_node = top.child("study", "mapping", "name, direction(s), n_trials, timeout_s, seed, retries");
  ConfigNode storage_node = top.child("storage", "string", "storage URL, e.g. sqlite:///study.db");
  ConfigNode space_node = top.child("space", "mapping", "the search space: one entry per parameter");
  ConfigNode architecture_node =
      top.child("architecture", "mapping",
                "a network family searched with the space: {type: " + architecture_catalog().hint() + ", ...}");
  ConfigNode strategy_node =
      top.child("strategy", "mapping", "search strategy: {name: " + sampler_catalog().hint() + ", ...}");
  ConfigNode pruner_node =
      top.child("pruner", "mapping", "early stopping: {name: " + pruner_catalog().hint() + ", ...}");
  ConfigNode objective_node =
      top.child("objective", "mapping", "what to evaluate: {kind: " + objective_catalog().hint() + ", ...}");
  ConfigNode enqueue_node = top.child("enqueue", "list", "parameter sets to evaluate before sampling");
  top.finish();

  SectionReader study(study_node);
  std::string stem = std::filesystem::path(name).stem().string();
  cfg.name = study.text("name", stem.empty() ? std::string("study") : stem, "study name, unique in its storage");
  if (auto problem = study_name_problem(cfg.name)) {
    ConfigNode name_node = study_node.get("name");
    std::string why = " is not a valid study name: " + *problem + "; " + kStudyNameRule;
    if (!name_node.defined()) {
      study_node.fail("has no name, and the one the file name gives, " + quote_study_name(cfg.name) + "," + why +
                      "; set study.name");
    }
    name_node.fail(quote_study_name(cfg.name) + why);
  }
  cfg.directions = read_directions(study);
  auto n_trials = study.optional_integer("n_trials", "number of finished trials to reach, across all workers");
  if (n_trials) {
    study.require(*n_trials >= 1 && *n_trials <= 100000000, "n_trials",
                  "must be between 1 and 1e8, got " + std::to_string(*n_trials));
    cfg.n_trials = static_cast<int>(*n_trials);
  }
  cfg.timeout_s = study.optional_number("timeout_s", "stop starting new trials after this many seconds");
  if (cfg.timeout_s) {
    study.require(*cfg.timeout_s > 0 && *cfg.timeout_s <= kMaxSeconds, "timeout_s",
                  "must be > 0 and at most " + format_double(kMaxSeconds) + " s (about 31 years), got " +
                      format_double(*cfg.timeout_s));
  }
  if (auto seed = study.optional_integer("seed", "seed for reproducible runs (default: drawn and recorded)")) {
    study.require(*seed >= 0, "seed", "must be >= 0, got " + std::to_string(*seed));
    cfg.seed = static_cast<std::uint64_t>(*seed);
  }
  const std::int64_t max_retry = study.integer("max_retry", 0, "re-run a crashed or stale trial up to this many times");
  study.require(max_retry >= 0 && max_retry <= kMaxRetry, "max_retry",
                "must be >= 0 and at most " + std::to_string(kMaxRetry) + ", got " + std::to_string(max_retry));
  cfg.max_retry = static_cast<int>(max_retry);
  cfg.heartbeat_interval_s = study.number("heartbeat_interval_s", 10.0, "how often a running trial proves it is alive");
  // Heartbeats are stamped in microseconds and written by a thread that wakes up on a timer: far below a tenth of
  // a second, live trials look stale to other workers, which then fail them.
  study.require(cfg.heartbeat_interval_s >= kMinHeartbeatS && cfg.heartbeat_interval_s <= kMaxHeartbeatS,
                "heartbeat_interval_s",
                "must be at least " + format_double(kMinHeartbeatS) + " and at most " + format_double(kMaxHeartbeatS) +
                    " s, got " + format_double(cfg.heartbeat_interval_s));
  cfg.grace_period_s = study.number("grace_period_s", 6 * cfg.heartbeat_interval_s,
                                    "a RUNNING trial silent for this long is failed (default 6 heartbeats)");
  // One late beat must not cost a live trial.
  study.require(cfg.grace_period_s >= 2 * cfg.heartbeat_interval_s && cfg.grace_period_s <= kMaxSeconds,
                "grace_period_s",
                "must be at least twice heartbeat_interval_s (" + format_double(cfg.heartbeat_interval_s) +
                    ") and at most " + format_double(kMaxSeconds) + " s, got " + format_double(cfg.grace_period_s));
  study.finish();
  // After finish(): a misspelt "n_trails" is better reported as an unknown key with its suggestion.
  if (!cfg.n_trials && !cfg.timeout_s) {
    study.require(false, "n_trials", "is required unless timeout_s is given (how long should the study run?)");
  }

  cfg.storage_url = storage_node.defined() && !storage_node.is_null() ? storage_node.as_string()
                                                                      : "sqlite:///" + cfg.name + ".db";

  bool has_architecture = architecture_node.defined() && !architecture_node.is_null();
  // An architecture brings its own parameters, so `space:` may then be left out.
  if (!has_architecture || (space_node.defined() && !space_node.is_null())) {
    cfg.space = SearchSpace::from_config(space_node);
  }
  if (has_architecture) {
    try {
      cfg.space.set_architecture(make_architecture(architecture_node));
    } catch (const ConfigError&) {
      throw;
    } catch (const ValueError& e) {
      architecture_node.fail(e.what());
    }
  }

  // Build each component once now, so that every error surfaces before the study touches storage.
  std::uint64_t seed = cfg.seed.value_or(0);
  make_sampler(strategy_node, cfg.space, seed, StrategyEnv{cfg.directions.size(), cfg.objective(), cfg.base_dir});
  make_pruner(pruner_node);
  ConfigNode pruner_name = pruner_node.get("name");
  if (cfg.directions.size() > 1 && pruner_name.defined() && pruner_name.as_string() != "none") {
    pruner_name.fail("pruning needs a single objective; this study has " + std::to_string(cfg.directions.size()));
  }
  if (cfg.has_objective()) make_objective(objective_node, cfg.space, cfg.directions.size(), cfg.base_dir);

  if (enqueue_node.defined() && !enqueue_node.is_null()) {
    if (!enqueue_node.is_sequence()) enqueue_node.fail("expected a list of parameter mappings");
    for (const auto& item : enqueue_node.elements()) {
      if (!item.is_map()) item.fail("expected a mapping of parameter values, got " + item.describe());
      ParamMap params;
      for (const auto& [k, v] : item.entries()) params[k] = v.as_param_value();
      try {
        cfg.enqueue.push_back(cfg.space.validate(params, false));
      } catch (const ValueError& e) {
        item.fail(e.what());
      }
    }
  }
  return cfg;
}

StudyConfig load_study_config(const std::string& path) {
  std::string text = read_config_file(path);
  std::filesystem::path abs = std::filesystem::absolute(path);
  StudyConfig cfg = parse_study_config(text, path, abs.parent_path().string());
  cfg.path = abs.lexically_normal().string();
  return cfg;
}

}  // namespace nasforge
