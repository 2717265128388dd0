#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/param_value.h"
#include "spaces/distribution.h"

// ParamSpec has its own header so that architecture spaces, which declare parameters, and the search space,
// which holds an architecture, do not include each other.

namespace nasforge {

/// One clause of a `when:` condition: the parent parameter must take one of `values`.
struct ConditionClause {
  std::string parent;              ///< Name of the parameter this one depends on.
  std::vector<ParamValue> values;  ///< Values of the parent for which this parameter is active.
};

/// One parameter of a search space.
struct ParamSpec {
  std::string name;                   ///< Parameter name (YAML key).
  Distribution distribution;          ///< Its domain.
  std::vector<ConditionClause> when;  ///< All clauses must hold for the parameter to be active; empty = always.
  std::string doc;                    ///< Optional description from YAML `doc:`.
  SourceLocation location;            ///< Where it was declared, for later errors.
};

}  // namespace nasforge
