#include "spaces/distribution.h"

#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

// Tolerance for "is this on the step grid": steps such as 0.1 are not exact in binary.
bool on_grid(double low, double high, double step) {
  double n = (high - low) / step;
  return std::fabs(n - std::round(n)) <= 1e-8 * std::max(1.0, std::fabs(n));
}

}  // namespace

Distribution Distribution::make_float(double low, double high, bool log, std::optional<double> step) {
  check(std::isfinite(low) && std::isfinite(high),
        "low and high must be finite, got low=" + format_double(low) + " high=" + format_double(high));
  check(low <= high, "low must be <= high, got low=" + format_double(low) + " > high=" + format_double(high));
  if (log) check(low > 0, "log scale needs low > 0, got low=" + format_double(low));
  if (step) {
    check(!log, "step and log cannot be combined (step=" + format_double(*step) + ")");
    check(*step > 0 && std::isfinite(*step), "step must be > 0, got step=" + format_double(*step));
    check(on_grid(low, high, *step), "step=" + format_double(*step) + " does not divide the range [" +
                                         format_double(low) + ", " + format_double(high) + "]");
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
  check(low <= high, "low must be <= high, got low=" + std::to_string(low) + " > high=" + std::to_string(high));
  check(step >= 1, "step must be a positive integer, got step=" + std::to_string(step));
  if (log) {
    check(low >= 1, "log scale needs low >= 1, got low=" + std::to_string(low));
    check(step == 1, "step and log cannot be combined (step=" + std::to_string(step) + ")");
  }
  check((high - low) % step == 0, "step=" + std::to_string(step) + " does not divide the range [" +
                                      std::to_string(low) + ", " + std::to_string(high) + "]");
  Distribution d;
  d.kind_ = DistributionKind::kInt;
  d.low_ = static_cast<double>(low);
  d.high_ = static_cast<double>(high);
  d.log_ = log;
  d.step_ = static_cast<double>(step);
  return d;
}

Distribution Distribution::make_categorical(std::vector<ParamValue> choices) {
  check(!choices.empty(), "choices must not be empty");
  for (std::size_t i = 0; i < choices.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      check(choices[i] != choices[j], "choices contain '" + choices[i].to_string() + "' twice");
    }
  }
  Distribution d;
  d.kind_ = DistributionKind::kCategorical;
  d.choices_ = std::move(choices);
  d.low_ = 0;
  d.high_ = static_cast<double>(d.choices_.size() - 1);
  return d;
}

double Distribution::to_internal(const ParamValue& value) const {
  if (kind_ == DistributionKind::kCategorical) {
    for (std::size_t i = 0; i < choices_.size(); ++i) {
      if (choices_[i] == value) return static_cast<double>(i);
    }
    // YAML writes 1 and 1.0 differently; accept a number equal to a numeric choice.
    if (value.is_number()) {
      for (std::size_t i = 0; i < choices_.size(); ++i) {
        if (choices_[i].is_number() && choices_[i].as_double() == value.as_double()) return static_cast<double>(i);
      }
    }
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
    std::vector<std::string> names;
    for (const auto& c : choices_) names.push_back(c.to_string());
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
