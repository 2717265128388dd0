#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
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
};

/// A search strategy that proposes parameters. One instance serves one worker process.
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// Values for every active parameter of ctx.space (fixed ones included). Throws SpaceExhausted when no
  /// unvisited point is left (grid).
  virtual ParamMap sample(const SampleContext& ctx) = 0;
};

/// Name and one-line description of a registered strategy, for --help and errors.
struct StrategyInfo {
  std::string name;  ///< YAML name.
  std::string doc;   ///< One line.
};

/// Builds the sampler named by `section`'s `name` key (default "tpe") from its other keys; unknown names and
/// keys are ConfigErrors listing the valid ones.
std::unique_ptr<Sampler> make_sampler(const ConfigNode& section, const SearchSpace& space, std::uint64_t seed,
                                      std::size_t n_objectives);

/// All registered strategies.
std::vector<StrategyInfo> sampler_catalog();

}  // namespace nasforge
