#include "evaluators/setting.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

// A dotted key ("early_stopping.patience") is written as its last part inside the nested mapping.
SettingSpec spec_of(const std::string& key, SettingType type, Range range, std::vector<std::string> choices,
                    std::string doc, ParamValue def) {
  return {key, key.substr(key.rfind('.') + 1), type, range, std::move(choices), std::move(doc), std::move(def)};
}

// Why some value of `d` is not admissible for `spec`, or "" when all are. Ranges are intervals, so the bounds of
// a numeric domain decide.
std::string check_domain(const SettingSpec& spec, const Distribution& d) {
  if (d.kind() == DistributionKind::kCategorical) {
    for (const auto& c : d.choices()) {
      std::string err = check_value(spec, c);
      if (!err.empty()) return "choice " + err;
    }
    return "";
  }
  if (spec.type == SettingType::kBool || spec.type == SettingType::kChoice) {
    return "it is numeric; " + spec.key + " must be " + describe(spec) + " (use a categorical parameter)";
  }
  if (spec.type == SettingType::kInt && d.kind() == DistributionKind::kFloat) {
    return "it is a float parameter; " + spec.key + " needs integers (declare it with type: int)";
  }
  for (double x : {d.low(), d.high()}) {
    ParamValue v = d.kind() == DistributionKind::kInt ? ParamValue(static_cast<std::int64_t>(x)) : ParamValue(x);
    std::string err = check_value(spec, v);
    if (!err.empty()) return (x == d.low() ? "its low bound " : "its high bound ") + err;
  }
  return "";
}

}  // namespace

SettingSpec SettingSpec::integer(const std::string& key, Range range, std::int64_t def, std::string doc) {
  return spec_of(key, SettingType::kInt, range, {}, std::move(doc), ParamValue(def));
}

SettingSpec SettingSpec::number(const std::string& key, Range range, double def, std::string doc) {
  return spec_of(key, SettingType::kFloat, range, {}, std::move(doc), ParamValue(def));
}

SettingSpec SettingSpec::flag(const std::string& key, bool def, std::string doc) {
  return spec_of(key, SettingType::kBool, Range{}, {}, std::move(doc), ParamValue(def));
}

SettingSpec SettingSpec::choice(const std::string& key, std::vector<std::string> choices, std::string def,
                                std::string doc) {
  return spec_of(key, SettingType::kChoice, Range{}, std::move(choices), std::move(doc), ParamValue(std::move(def)));
}

std::string describe(const SettingSpec& spec) {
  switch (spec.type) {
    case SettingType::kBool:
      return "true or false";
    case SettingType::kChoice:
      return "one of " + join(spec.choices, ", ");
    case SettingType::kInt:
    case SettingType::kFloat:
      break;
  }
  const std::string what = spec.type == SettingType::kInt ? "an integer" : "a number";
  // Without bounds Range::describe() says "a number" itself.
  if (std::isinf(spec.range.min) && std::isinf(spec.range.max)) return what;
  return what + " " + spec.range.describe();
}

std::string check_value(const SettingSpec& spec, const ParamValue& v) {
  const std::string bad = "got " + (v.is_string() ? "'" + v.to_string() + "'" : v.to_string()) + " (" + v.type_name() +
                          "); " + spec.key + " must be " + describe(spec);
  switch (spec.type) {
    case SettingType::kBool:
      return v.is_bool() ? "" : bad;
    case SettingType::kChoice:
      if (!v.is_string()) return bad;
      return std::find(spec.choices.begin(), spec.choices.end(), v.as_string()) != spec.choices.end()
                 ? ""
                 : bad + did_you_mean(v.as_string(), spec.choices);
    case SettingType::kInt:
      if (!(v.is_int() ||
            (v.is_double() && std::isfinite(v.as_double()) && v.as_double() == std::floor(v.as_double())))) {
        return bad;
      }
      break;
    case SettingType::kFloat:
      if (!v.is_number() || !std::isfinite(v.as_double())) return bad;
      break;
  }
  return spec.range.contains(v.as_double()) ? "" : bad;
}

HyperSetting read_setting(SectionReader& r, const SettingSpec& spec, const SearchSpace& space) {
  HyperSetting s{spec.key, spec.default_value, ""};
  ConfigNode n = r.child(spec.name, describe(spec) + " or \"$param\"",
                         spec.doc + " (default " + spec.default_value.to_string() + ")");
  if (!n.defined() || n.is_null()) return s;
  if (!n.is_scalar()) n.fail("expected " + describe(spec) + " or \"$param\", got " + n.describe());
  ParamValue v = n.as_param_value();
  if (v.is_string() && !v.as_string().empty() && v.as_string()[0] == '$') {
    std::string name = v.as_string().substr(1);
    const ParamSpec* param = space.find(name);
    if (!param) {
      std::vector<std::string> names = space.names();
      n.fail("'" + v.as_string() + "' names no search-space parameter" + did_you_mean(name, names) +
             (names.empty() ? "; the space has no parameters" : "; parameters: " + join(names, ", ")));
    }
    std::string err = check_domain(spec, param->distribution);
    if (!err.empty()) {
      n.fail("'" + v.as_string() + "' refers to parameter '" + name + "' (" + param->distribution.describe() +
             ", declared at " + param->location.to_string() + "), which does not fit: " + err);
    }
    s.param = name;
    return s;
  }
  switch (spec.type) {
    case SettingType::kInt:
      v = ParamValue(n.as_int());  // fails with the location for 2.5 or text
      break;
    case SettingType::kFloat:
      v = ParamValue(n.as_double());
      break;
    case SettingType::kBool:
      v = ParamValue(n.as_bool());
      break;
    case SettingType::kChoice:
      v = ParamValue(n.as_string());
      break;
  }
  std::string err = check_value(spec, v);
  if (!err.empty()) n.fail(err + "; or write \"$name\" to search it as a space parameter");
  s.constant = v;
  return s;
}

ParamValue resolve_setting(const HyperSetting& s, const SettingSpec& spec, const ParamMap& params) {
  if (s.param.empty()) return s.constant;
  auto it = params.find(s.param);
  // An inactive conditional parameter leaves the key at its default (e.g. momentum only searched for sgd).
  ParamValue v = it == params.end() || it->second.is_null() ? spec.default_value : it->second;
  std::string err = check_value(spec, v);
  if (!err.empty()) throw ObjectiveError("parameter '" + s.param + "' gives " + s.key + ": " + err);
  return v;
}

void SettingValues::add(std::string key, ParamValue value) {
  values_.emplace_back(std::move(key), std::move(value));
}

const ParamValue& SettingValues::operator[](const std::string& key) const {
  for (const auto& [k, v] : values_) {
    if (k == key) return v;
  }
  std::vector<std::string> keys;
  for (const auto& kv : values_) keys.push_back(kv.first);
  throw ValueError("no setting '" + key + "' among " + join(keys, ", "));
}

SettingValues resolve_settings(const std::vector<HyperSetting>& settings, const std::vector<SettingSpec>& specs,
                               const ParamMap& params) {
  SettingValues values;
  for (const auto& s : settings) {
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& k) { return k.key == s.key; });
    check(spec != specs.end(), "setting '" + s.key + "' has no spec");
    values.add(s.key, resolve_setting(s, *spec, params));
  }
  return values;
}

}  // namespace nasforge
