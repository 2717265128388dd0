#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "core/param_value.h"

namespace nasforge {

/// Integers beyond ±2^53 do not survive the double that holds every trial's internal value, so int domains stay
/// within it.
inline constexpr std::int64_t kMaxExactInt = std::int64_t{1} << 53;

/// Float bounds must span at most this much (a quarter of the largest double), so that high - low and the
/// samplers' arithmetic around the range stay finite.
inline constexpr double kMaxFloatSpan = std::numeric_limits<double>::max() / 4;

/// A ValueError from Distribution::make_*, naming the argument at fault ("low", "high", "step" or "choices") so
/// that a config reader can point at that key.
class InvalidDomain : public ValueError {
 public:
  /// `argument` is the argument at fault; `message` quotes its value and what is allowed.
  InvalidDomain(std::string argument, const std::string& message)
      : ValueError(message), argument_(std::move(argument)) {}
  /// The argument at fault.
  const std::string& argument() const { return argument_; }

 private:
  std::string argument_;
};

/// The kinds of parameter distribution.
enum class DistributionKind { kFloat, kInt, kCategorical };

/// The domain of one parameter. A value type: copyable and comparable. Samplers work on the internal
/// representation (a double: the value itself for numbers, the choice index for categoricals), as Optuna does.
class Distribution {
 public:
  /// Uniform (or log-uniform) float in [low, high], optionally on a grid of `step`; throws InvalidDomain when
  /// invalid (a bound not finite, a span over kMaxFloatSpan, a step that leaves more than 2^53 grid points).
  static Distribution make_float(double low, double high, bool log = false, std::optional<double> step = {});
  /// Integer in [low, high] with `step` (>= 1), optionally log-uniform; throws InvalidDomain when invalid (bounds,
  /// range or step beyond ±kMaxExactInt included).
  static Distribution make_int(std::int64_t low, std::int64_t high, bool log = false, std::int64_t step = 1);
  /// One of `choices` (any scalars, no duplicates, at least one; checked in linear time); throws InvalidDomain
  /// when invalid.
  static Distribution make_categorical(std::vector<ParamValue> choices);

  /// Float, int or categorical.
  DistributionKind kind() const { return kind_; }
  /// Lower bound (numeric kinds).
  double low() const { return low_; }
  /// Upper bound (numeric kinds).
  double high() const { return high_; }
  /// Log scale (numeric kinds).
  bool log() const { return log_; }
  /// Grid step, if any (always set for int).
  std::optional<double> step() const { return step_; }
  /// The choices (categorical only).
  const std::vector<ParamValue>& choices() const { return choices_; }

  /// Internal representation of an external value; throws ValueError if the value is not in the domain.
  double to_internal(const ParamValue& value) const;
  /// External value of an internal representation (rounded to the grid, clamped to the bounds).
  ParamValue to_external(double internal) const;
  /// Whether an internal value lies in the domain (on the grid for stepped kinds).
  bool contains(double internal) const;
  /// True when the domain has exactly one value.
  bool single() const;
  /// Number of distinct values for discrete domains (categorical, int, stepped float); nullopt for continuous.
  std::optional<std::size_t> cardinality() const;
  /// The i-th discrete value in internal form (0 <= i < cardinality()).
  double discrete_value(std::size_t i) const;

  /// Optuna-compatible JSON: {"name": "FloatDistribution", "attributes": {...}}.
  Json to_json() const;
  /// Reads the JSON written by to_json; throws ValueError on anything else.
  static Distribution from_json(const Json& j);
  /// Short human description, e.g. "float in [0.001, 0.1] (log)"; a categorical lists its first 20 choices.
  std::string describe() const;

  /// Same kind and same domain.
  bool operator==(const Distribution& o) const;
  /// Negation of ==.
  bool operator!=(const Distribution& o) const { return !(*this == o); }

 private:
  DistributionKind kind_ = DistributionKind::kFloat;
  double low_ = 0, high_ = 0;
  bool log_ = false;
  std::optional<double> step_;
  std::vector<ParamValue> choices_;
  // Choice key -> index, shared between copies, so that to_internal of a categorical is a hash lookup.
  std::shared_ptr<const std::unordered_map<std::string, std::size_t>> choice_index_;
};

}  // namespace nasforge
