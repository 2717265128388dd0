#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "spaces/trial.h"
#include "strategies/sampler.h"

namespace nasforge {

/// Decides whether a running trial should stop early, from its intermediate values and those of the others.
class Pruner {
 public:
  virtual ~Pruner() = default;
  /// True when `trial` (RUNNING, with its latest report stored) should be pruned now. `trials` holds every
  /// trial of the study; `direction` is the study's single direction.
  virtual bool prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials, StudyDirection direction) = 0;
};

/// Builds the pruner named by `section`'s `name` key ("none" when the section is absent); unknown names and keys
/// are ConfigErrors listing the valid ones.
std::unique_ptr<Pruner> make_pruner(const ConfigNode& section);

/// All registered pruners (YAML `pruner.name`).
const Catalog& pruner_catalog();

}  // namespace nasforge
