#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "core/json.h"
#include "core/param_value.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"

namespace nasforge {

/// Everything a sampler may look at when it proposes the next trial.
struct SampleContext {
  const SearchSpace& space;                       ///< The study's search space.
  const std::vector<FrozenTrial>& trials;         ///< Every trial of the study at asking time, all states, by number.
  const std::vector<StudyDirection>& directions;  ///< One per objective.
  ParamMap fixed;                                 ///< Values fixed in advance (enqueued trials); keep them as they are.
  /// Atomically claims a study-wide key (e.g. "grid:17"); false when another worker holds it. Never null.
  std::function<bool(const std::string& key)> claim;
  /// Progress lines of a strategy's own long work (e.g. a supernet search); may be empty.
  std::function<void(const std::string& message)> progress;
};

/// A search strategy that proposes parameters. One instance serves one worker process.
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// Values for every active parameter of ctx.space (fixed ones included). Throws SpaceExhausted when no
  /// unvisited point is left (grid).
  virtual ParamMap sample(const SampleContext& ctx) = 0;
  /// System attributes for the trial created from the last sample() (e.g. the cost of a supernet search that
  /// produced it); the study stores them with that trial. Called once after each sample().
  virtual std::map<std::string, Json> take_trial_attrs() { return {}; }
};

/// What a strategy may read beyond its own section. Strategies that train networks themselves (darts, gdas) take
/// the dataset and training settings of the study's `train` objective from here.
struct StrategyEnv {
  /// An environment for `n` objectives, optionally with the study's objective section.
  explicit StrategyEnv(std::size_t n = 1, ConfigNode objective_section = {}, std::string objective_base_dir = {})
      : n_objectives(n), objective(std::move(objective_section)), base_dir(std::move(objective_base_dir)) {}
  std::size_t n_objectives = 1;  ///< Number of study directions.
  ConfigNode objective;          ///< The study's `objective:` section (undefined for ask/tell studies).
  std::string base_dir;          ///< Folder that relative paths in `objective` resolve against.
};

/// Builds the sampler named by `section`'s `name` key (default "tpe") from its other keys; unknown names and
/// keys are ConfigErrors listing the valid ones.
std::unique_ptr<Sampler> make_sampler(const ConfigNode& section, const SearchSpace& space, std::uint64_t seed,
                                      const StrategyEnv& env);

/// All registered strategies (YAML `strategy.name`).
const Catalog& sampler_catalog();

}  // namespace nasforge
