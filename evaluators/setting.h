#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/param_value.h"
#include "spaces/search_space.h"

namespace nasforge {

/// Value types of an evaluator setting.
enum class SettingType { kInt, kFloat, kBool, kChoice };

/// One YAML key of an evaluator section whose value may be a constant or "$param" (searched): its type,
/// admissible range, default and documentation, declared once and used for YAML constants, for every value of a
/// referenced parameter's domain, and for resolved trial values alike.
struct SettingSpec {
  std::string key;                         ///< Full key, dotted when nested ("early_stopping.patience").
  std::string name;                        ///< Key inside its YAML mapping ("patience").
  SettingType type = SettingType::kFloat;  ///< Value type.
  double min = 0;                          ///< Lower bound (numbers).
  bool min_open = false;                   ///< Whether `min` itself is excluded.
  double max = 0;                          ///< Upper bound (numbers; infinity for none).
  bool max_open = false;                   ///< Whether `max` itself is excluded.
  std::vector<std::string> choices;        ///< kChoice: the valid names.
  std::string doc;                         ///< One-line description (shown in errors and docs).
  ParamValue default_value;                ///< Used when the key is absent, or refers to an inactive parameter.
};

/// One setting as written in YAML: a constant, or "$name" naming a search-space parameter.
struct HyperSetting {
  std::string key;      ///< SettingSpec::key.
  ParamValue constant;  ///< The value when `param` is empty.
  std::string param;    ///< Referenced search-space parameter, or "" for a constant.
};

/// "an integer >= 1", "a number in [0, 1)", "one of sgd, adam, adamw", "true or false".
std::string describe(const SettingSpec& spec);

/// Why `v` is not admissible for `spec` ("got 3 (int); bits must be ..."), or "" when it is.
std::string check_value(const SettingSpec& spec, const ParamValue& v);

/// Reads `spec.name` from `r`: a constant (checked) or "$param" (checked over the parameter's whole domain).
/// ConfigError with file:line, key, value and what is allowed.
HyperSetting read_setting(SectionReader& r, const SettingSpec& spec, const SearchSpace& space);

/// The trial's value of `s`: the constant, the referenced parameter's value, or the default when that parameter
/// is inactive. ObjectiveError when the value is not admissible.
ParamValue resolve_setting(const HyperSetting& s, const SettingSpec& spec, const ParamMap& params);

}  // namespace nasforge
