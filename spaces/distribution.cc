#include "spaces/distribution.h"

#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

// Tolerance for "is this on the step grid": steps such as 0.1 are not exact in binary.
bool on_grid(double low, double high, double step) {
  double n = (high - low) / step;
  return std::fabs(n - std::round(n)) <= 1e-8 * std::max(1.0, std::fabs(n));
}

// Where a domain check fails: which argument is at fault, and why.
void require(bool cond, const char* argument, const std::string& message) {
  if (!cond) throw InvalidDomain(argument, message);
}

std::string exact_int_limit() {
  return "integers are stored in a 64-bit float, exact only within ±2^53 = ±" + std::to_string(kMaxExactInt);
}

// Equal ParamValues (operator==) get equal keys, so duplicates are found with one hash lookup each.
std::string choice_key(const ParamValue& v) {
  std::string text = v.is_double() && v.as_double() == 0 ? "0" : v.to_string();  // -0.0 == 0.0
  return std::string(v.type_name()) + '\0' + text;
}

}  // namespace

Distribution Distribution::make_float(double low, double high, bool log, std::optional<double> step) {
  require(std::isfinite(low), "low", "low must be a finite number, got low=" + format_double(low));
  require(std::isfinite(high), "high", "high must be a finite number, got high=" + format_double(high));
  require(low <= high, "low", "low must be <= high, got low=" + format_double(low) + " > high=" + format_double(high));
  require(high - low <= kMaxFloatSpan, std::fabs(low) > std::fabs(high) ? "low" : "high",
          "the range [" + format_double(low) + ", " + format_double(high) + "] is wider than " +
              format_double(kMaxFloatSpan) + " (a quarter of the largest double), so sampling it overflows to inf");
  if (log) require(low > 0, "low", "log scale needs low > 0, got low=" + format_double(low));
  if (step) {
    require(!log, "step", "step and log cannot be combined (step=" + format_double(*step) + ")");
    require(*step > 0 && std::isfinite(*step), "step", "step must be > 0, got step=" + format_double(*step));
    require((high - low) / *step <= static_cast<double>(kMaxExactInt), "step",
            "step=" + format_double(*step) + " makes more than 2^53 grid points in [" + format_double(low) + ", " +
                format_double(high) + "]; drop step for a continuous range");
    require(on_grid(low, high, *step), "step",
            "step=" + format_double(*step) + " does not divide the range [" + format_double(low) + ", " +
                format_double(high) + "]");
  }
  Distribution d;
  d.kind_ = DistributionKind::kFloat;
  d.low_ = low;
  d.high_ = high;
  d.log_ = log;
  d.step_ = step;
  return d;
}

Distribution Distribution::make_int(std::int64_t low, std::int64_t high, bool log, std::int64_t step) {
  require(low >= -kMaxExactInt && low <= kMaxExactInt, "low",
          "low=" + std::to_string(low) + " cannot be stored exactly: " + exact_int_limit());
  require(high >= -kMaxExactInt && high <= kMaxExactInt, "high",
          "high=" + std::to_string(high) + " cannot be stored exactly: " + exact_int_limit());
  require(low <= high, "low",
          "low must be <= high, got low=" + std::to_string(low) + " > high=" + std::to_string(high));
  require(high - low <= kMaxExactInt, "high",
          "the range [" + std::to_string(low) + ", " + std::to_string(high) + "] spans " + std::to_string(high - low) +
              ", more than 2^53 = " + std::to_string(kMaxExactInt) + ": " + exact_int_limit());
  require(step >= 1 && step <= kMaxExactInt, "step",
          "step must be an integer in [1, 2^53], got step=" + std::to_string(step) + "; " + exact_int_limit());
  if (log) {
    require(low >= 1, "low", "log scale needs low >= 1, got low=" + std::to_string(low));
    require(step == 1, "step", "step and log cannot be combined (step=" + std::to_string(step) + ")");
  }
  require((high - low) % step == 0, "step",
          "step=" + std::to_string(step) + " does not divide the range [" + std::to_string(low) + ", " +
              std::to_string(high) + "]");
  Distribution d;
  d.kind_ = DistributionKind::kInt;
  d.low_ = static_cast<double>(low);
  d.high_ = static_cast<double>(high);
  d.log_ = log;
  d.step_ = static_cast<double>(step);
  return d;
}

Distribution Distribution::make_categorical(std::vector<ParamValue> choices) {
  require(!choices.empty(), "choices", "choices must not be empty");
  auto first = std::make_shared<std::unordered_map<std::string, std::size_t>>();
  first->reserve(choices.size());
  for (std::size_t i = 0; i < choices.size(); ++i) {
    auto [it, fresh] = first->emplace(choice_key(choices[i]), i);
    if (!fresh) {
      throw InvalidDomain("choices", "choices contain '" + choices[i].to_string() + "' twice (items " +
                                         std::to_string(it->second) + " and " + std::to_string(i) +
                                         ", counting from 0)");
    }
  }
  Distribution d;
  d.kind_ = DistributionKind::kCategorical;
  d.choices_ = std::move(choices);
  d.choice_index_ = std::move(first);
  d.low_ = 0;
  d.high_ = static_cast<double>(d.choices_.size() - 1);
  return d;
}

double Distribution::to_internal(const ParamValue& value) const {
  if (kind_ == DistributionKind::kCategorical) {
    auto it = choice_index_->find(choice_key(value));
    // YAML writes 1 and 1.0 differently; accept a number equal to a numeric choice of the other type.
    if (it == choice_index_->end() && value.is_int()) {
      it = choice_index_->find(choice_key(static_cast<double>(value.as_int())));
    }
    if (it == choice_index_->end() && value.is_double()) {
      double d = value.as_double();
      if (d == std::floor(d) && d >= -0x1p63 && d < 0x1p63) it = choice_index_->find(choice_key(value.as_int()));
    }
    if (it != choice_index_->end()) return static_cast<double>(it->second);
    throw ValueError("value '" + value.to_string() + "' is not one of the choices of " + describe());
  }
  double v;
  try {
    v = value.as_double();
  } catch (const ValueError&) {
    throw ValueError("value '" + value.to_string() + "' is not a number; the domain is " + describe());
  }
  if (kind_ == DistributionKind::kInt && v != std::floor(v)) {
    throw ValueError("value '" + value.to_string() + "' is not an integer; the domain is " + describe());
  }
  if (!contains(v)) throw ValueError("value '" + value.to_string() + "' is outside " + describe());
  return v;
}

ParamValue Distribution::to_external(double internal) const {
  switch (kind_) {
    case DistributionKind::kCategorical: {
      auto i = static_cast<std::int64_t>(std::llround(internal));
      i = std::max<std::int64_t>(0, std::min<std::int64_t>(i, static_cast<std::int64_t>(choices_.size()) - 1));
      return choices_[static_cast<std::size_t>(i)];
    }
    case DistributionKind::kInt: {
      double s = *step_;
      double v = low_ + std::round((internal - low_) / s) * s;
      v = std::max(low_, std::min(high_, v));
      return static_cast<std::int64_t>(v);
    }
    case DistributionKind::kFloat:
    default: {
      double v = internal;
      if (step_) v = low_ + std::round((internal - low_) / *step_) * *step_;
      return std::max(low_, std::min(high_, v));
    }
  }
}

bool Distribution::contains(double v) const {
  if (std::isnan(v)) return false;
  if (kind_ == DistributionKind::kCategorical) {
    return v == std::floor(v) && v >= 0 && v < static_cast<double>(choices_.size());
  }
  if (v < low_ || v > high_) return false;
  if (step_) return on_grid(low_, v, *step_);
  return true;
}

bool Distribution::single() const {
  if (kind_ == DistributionKind::kCategorical) return choices_.size() == 1;
  if (low_ == high_) return true;
  if (step_) return high_ - low_ < *step_;
  return false;
}

std::optional<std::size_t> Distribution::cardinality() const {
  if (kind_ == DistributionKind::kCategorical) return choices_.size();
  if (!step_) return std::nullopt;
  return static_cast<std::size_t>(std::llround((high_ - low_) / *step_)) + 1;
}

double Distribution::discrete_value(std::size_t i) const {
  if (kind_ == DistributionKind::kCategorical) return static_cast<double>(i);
  return std::min(high_, low_ + static_cast<double>(i) * *step_);
}

Json Distribution::to_json() const {
  Json attrs;
  switch (kind_) {
    case DistributionKind::kCategorical: {
      Json choices = Json::array();
      for (const auto& c : choices_) choices.push_back(c.to_json());
      attrs["choices"] = choices;
      return Json{{"name", "CategoricalDistribution"}, {"attributes", attrs}};
    }
    case DistributionKind::kInt:
      attrs["low"] = static_cast<std::int64_t>(low_);
      attrs["high"] = static_cast<std::int64_t>(high_);
      attrs["log"] = log_;
      attrs["step"] = static_cast<std::int64_t>(*step_);
      return Json{{"name", "IntDistribution"}, {"attributes", attrs}};
    case DistributionKind::kFloat:
    default:
      attrs["low"] = low_;
      attrs["high"] = high_;
      attrs["log"] = log_;
      attrs["step"] = step_ ? Json(*step_) : Json(nullptr);
      return Json{{"name", "FloatDistribution"}, {"attributes", attrs}};
  }
}

Distribution Distribution::from_json(const Json& j) {
  try {
    const std::string name = j.at("name").get<std::string>();
    const Json& a = j.at("attributes");
    if (name == "FloatDistribution") {
      std::optional<double> step;
      if (a.contains("step") && !a["step"].is_null()) step = a["step"].get<double>();
      return make_float(a.at("low").get<double>(), a.at("high").get<double>(), a.value("log", false), step);
    }
    if (name == "IntDistribution") {
      return make_int(a.at("low").get<std::int64_t>(), a.at("high").get<std::int64_t>(), a.value("log", false),
                      a.value("step", std::int64_t{1}));
    }
    if (name == "CategoricalDistribution") {
      std::vector<ParamValue> choices;
      for (const auto& c : a.at("choices")) choices.push_back(ParamValue::from_json(c));
      return make_categorical(std::move(choices));
    }
    throw ValueError("unknown distribution name '" + name + "'");
  } catch (const Json::exception& e) {
    throw ValueError("malformed distribution JSON " + j.dump() + ": " + e.what());
  }
}

std::string Distribution::describe() const {
  if (kind_ == DistributionKind::kCategorical) {
    // A message quoting a domain stays readable, however many choices there are.
    constexpr std::size_t kShown = 20;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < choices_.size() && i < kShown; ++i) names.push_back(choices_[i].to_string());
    if (choices_.size() > kShown) names.push_back("... (" + std::to_string(choices_.size()) + " choices)");
    return "categorical {" + join(names, ", ") + "}";
  }
  std::string s = std::string(kind_ == DistributionKind::kInt ? "int" : "float") + " in [" + format_double(low_) +
                  ", " + format_double(high_) + "]";
  if (log_) s += " (log)";
  if (step_ && !(kind_ == DistributionKind::kInt && *step_ == 1)) s += " step " + format_double(*step_);
  return s;
}

bool Distribution::operator==(const Distribution& o) const {
  return kind_ == o.kind_ && low_ == o.low_ && high_ == o.high_ && log_ == o.log_ && step_ == o.step_ &&
         choices_ == o.choices_;
}

}  // namespace nasforge
