#pragma once

#include <cstdint>
#include <string>
#include <utility>
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
  Range range;                             ///< Admissible numbers (kInt, kFloat).
  std::vector<std::string> choices;        ///< kChoice: the valid names.
  std::string doc;                         ///< One-line description (shown in errors and docs).
  ParamValue default_value;                ///< Used when the key is absent, or refers to an inactive parameter.

  /// An integer setting; a dotted `key` is read under its last part.
  static SettingSpec integer(const std::string& key, Range range, std::int64_t def, std::string doc);
  /// A float setting; a dotted `key` is read under its last part.
  static SettingSpec number(const std::string& key, Range range, double def, std::string doc);
  /// A boolean setting; a dotted `key` is read under its last part.
  static SettingSpec flag(const std::string& key, bool def, std::string doc);
  /// A setting naming one of `choices`; a dotted `key` is read under its last part.
  static SettingSpec choice(const std::string& key, std::vector<std::string> choices, std::string def, std::string doc);
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

/// The trial's values of a section's settings, by key.
class SettingValues {
 public:
  /// Records `key`'s value.
  void add(std::string key, ParamValue value);
  /// The value of `key`; ValueError when it has none (a key of another section or step).
  const ParamValue& operator[](const std::string& key) const;

 private:
  std::vector<std::pair<std::string, ParamValue>> values_;
};

/// The trial's value of every one of `settings`, each resolved (see resolve_setting) with the spec of its key in
/// `specs`. ObjectiveError when a value is not admissible.
SettingValues resolve_settings(const std::vector<HyperSetting>& settings, const std::vector<SettingSpec>& specs,
                               const ParamMap& params);

}  // namespace nasforge
