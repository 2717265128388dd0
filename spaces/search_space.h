#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/param_value.h"
#include "spaces/distribution.h"
#include "spaces/param_spec.h"

namespace nasforge {

class ArchitectureSpace;

/// An ordered set of parameters, parents before their conditional children.
class SearchSpace {
 public:
  /// An empty space.
  SearchSpace() = default;

  /// Reads the `space:` mapping; every invalid entry is a ConfigError naming file, line, key and value.
  static SearchSpace from_config(const ConfigNode& node);

  /// Adds a parameter; throws ValueError on a duplicate name or a condition on an unknown parameter or value.
  /// Parents must already be present (from_config orders YAML entries so that they are).
  void add(ParamSpec spec);

  /// Parameters in sampling order (every parent before its children).
  const std::vector<ParamSpec>& params() const { return params_; }
  /// The parameter with this name, or nullptr.
  const ParamSpec* find(const std::string& name) const;
  /// The parameter with this name; throws NotFoundError listing the valid names.
  const ParamSpec& at(const std::string& name) const;
  /// Names in sampling order.
  std::vector<std::string> names() const;
  /// True when there are no parameters.
  bool empty() const { return params_.empty(); }

  /// Adds an architecture's parameters (after the plain ones) and keeps it for objectives to build networks;
  /// ValueError when a name clashes with an existing parameter or an architecture is already set.
  void set_architecture(std::shared_ptr<const ArchitectureSpace> architecture);
  /// The architecture space, or nullptr when the study searches no architecture.
  const std::shared_ptr<const ArchitectureSpace>& architecture() const { return architecture_; }

  /// Whether `spec` is active given the values assigned so far (its parents must be assigned and match).
  bool is_active(const ParamSpec& spec, const ParamMap& assigned) const;
  /// Checks a full or partial assignment: known names, values in their domains, inactive parameters absent.
  /// Integer-valued floats are normalised to the distribution's type. Throws ValueError naming the problem.
  ParamMap validate(const ParamMap& params, bool require_complete) const;

 private:
  std::vector<ParamSpec> params_;
  std::shared_ptr<const ArchitectureSpace> architecture_;
};

}  // namespace nasforge
