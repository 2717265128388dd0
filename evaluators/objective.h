#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"

namespace nasforge {

/// Scores one trial. Implementations may report intermediate values and throw TrialPruned; any other
/// exception (or a NaN result) fails that trial only.
class Objective {
 public:
  virtual ~Objective() = default;
  /// One value per study direction.
  virtual std::vector<double> evaluate(TrialContext& trial) = 0;
  /// Why a candidate with `params` must not be evaluated at all (over the objective's hard `budget:`), or nullopt.
  /// The study asks for another candidate instead; cheap next to evaluate() (no training).
  virtual std::optional<std::string> reject(const ParamMap& params) {
    (void)params;
    return std::nullopt;
  }
};

/// Builds the objective named by `section`'s `kind` key from its other keys. Relative paths resolve against
/// `base_dir` (the study file's folder). Unknown kinds and keys are ConfigErrors listing the valid ones.
std::unique_ptr<Objective> make_objective(const ConfigNode& section, const SearchSpace& space,
                                          std::size_t n_objectives, const std::string& base_dir);

/// All registered objective kinds (YAML `kind`).
const Catalog& objective_catalog();

}  // namespace nasforge
