#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "core/json.h"

namespace nasforge {

/// The external value of one parameter: any YAML scalar (null, bool, integer, float, string).
class ParamValue {
 public:
  /// A null value (YAML `~` / `null`).
  ParamValue() = default;
  /// A boolean value.
  ParamValue(bool v) : v_(v) {}  // NOLINT(google-explicit-constructor): values read like literals
  /// An integer value.
  ParamValue(int v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT(google-explicit-constructor)
  /// An integer value.
  ParamValue(std::int64_t v) : v_(v) {}  // NOLINT(google-explicit-constructor)
  /// A float value.
  ParamValue(double v) : v_(v) {}  // NOLINT(google-explicit-constructor)
  /// A string value.
  ParamValue(std::string v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  /// A string value.
  ParamValue(const char* v) : v_(std::string(v)) {}  // NOLINT(google-explicit-constructor)

  /// True for null.
  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  /// True for a boolean.
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  /// True for an integer.
  bool is_int() const { return std::holds_alternative<std::int64_t>(v_); }
  /// True for a float.
  bool is_double() const { return std::holds_alternative<double>(v_); }
  /// True for an integer or a float.
  bool is_number() const { return is_int() || is_double(); }
  /// True for a string.
  bool is_string() const { return std::holds_alternative<std::string>(v_); }

  /// The boolean; throws ValueError naming the actual type otherwise.
  bool as_bool() const;
  /// The integer (a float with an integral value is accepted); throws ValueError otherwise.
  std::int64_t as_int() const;
  /// The number as double (integers convert); throws ValueError otherwise.
  double as_double() const;
  /// The string; throws ValueError otherwise.
  const std::string& as_string() const;

  /// The value as text: strings unquoted, numbers round-tripping, "null", "true"/"false".
  std::string to_string() const;
  /// The value as a JSON scalar.
  Json to_json() const;
  /// Reads a JSON scalar; throws ValueError for arrays and objects.
  static ParamValue from_json(const Json& j);
  /// Name of the held type ("null", "bool", "int", "float", "string"), for messages.
  const char* type_name() const;

  /// Same type and same value (1 and 1.0 differ; NaN equals NaN so distributions compare sanely).
  bool operator==(const ParamValue& other) const;
  /// Negation of ==.
  bool operator!=(const ParamValue& other) const { return !(*this == other); }

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string> v_;
};

/// Parameters of one trial by name; ordered so that output is stable.
using ParamMap = std::map<std::string, ParamValue>;

}  // namespace nasforge
