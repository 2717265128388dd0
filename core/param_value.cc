#include "core/param_value.h"

#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

bool ParamValue::as_bool() const {
  if (!is_bool()) throw ValueError(std::string("expected a bool, got ") + type_name() + " '" + to_string() + "'");
  return std::get<bool>(v_);
}

std::int64_t ParamValue::as_int() const {
  if (is_int()) return std::get<std::int64_t>(v_);
  if (is_double()) {
    double d = std::get<double>(v_);
    // Converting a double outside [-2^63, 2^63) to int64 is undefined behaviour, so such values are refused.
    if (d == std::floor(d) && d >= -0x1p63 && d < 0x1p63) return static_cast<std::int64_t>(d);
  }
  throw ValueError(std::string("expected an integer, got ") + type_name() + " '" + to_string() + "'");
}

double ParamValue::as_double() const {
  if (is_double()) return std::get<double>(v_);
  if (is_int()) return static_cast<double>(std::get<std::int64_t>(v_));
  throw ValueError(std::string("expected a number, got ") + type_name() + " '" + to_string() + "'");
}

const std::string& ParamValue::as_string() const {
  if (!is_string()) throw ValueError(std::string("expected a string, got ") + type_name() + " '" + to_string() + "'");
  return std::get<std::string>(v_);
}

std::string ParamValue::to_string() const {
  if (is_null()) return "null";
  if (is_bool()) return std::get<bool>(v_) ? "true" : "false";
  if (is_int()) return std::to_string(std::get<std::int64_t>(v_));
  if (is_double()) return format_double(std::get<double>(v_));
  return std::get<std::string>(v_);
}

Json ParamValue::to_json() const {
  if (is_null()) return nullptr;
  if (is_bool()) return std::get<bool>(v_);
  if (is_int()) return std::get<std::int64_t>(v_);
  if (is_double()) {
    double d = std::get<double>(v_);
    // JSON has no NaN/inf; keep them as strings so nothing is lost.
    if (!std::isfinite(d)) return format_double(d);
    return d;
  }
  return std::get<std::string>(v_);
}

ParamValue ParamValue::from_json(const Json& j) {
  if (j.is_null()) return {};
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_unsigned()) return static_cast<std::int64_t>(j.get<std::uint64_t>());
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw ValueError("a parameter value must be a scalar, got JSON " + j.dump());
}

const char* ParamValue::type_name() const {
  switch (v_.index()) {
    case 0: return "null";
    case 1: return "bool";
    case 2: return "int";
    case 3: return "float";
    default: return "string";
  }
}

bool ParamValue::operator==(const ParamValue& other) const {
  if (v_.index() != other.v_.index()) return false;
  if (is_double()) {
    double a = std::get<double>(v_), b = std::get<double>(other.v_);
    return a == b || (std::isnan(a) && std::isnan(b));
  }
  return v_ == other.v_;
}

}  // namespace nasforge
