#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>

#include "core/param_value.h"
#include "spaces/search_space.h"
#include "strategies/sampler.h"

namespace nasforge {

/// Uniform double in [0, 1) from the top 53 bits; unlike std distributions, identical on every platform.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Uniform integer in [0, n) without modulo bias; n >= 1.
std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n);

/// A well-mixed seed for sub-generator `stream` of `seed` (splitmix64), so that sub-generators never share a
/// sequence with each other or with the parent.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

/// Draws the value of one active, non-fixed parameter; `index` is its position in space.params() and
/// `assigned` holds the values chosen so far (fixed ones included).
using DrawParam = std::function<ParamValue(std::size_t index, const ParamSpec& spec, const ParamMap& assigned)>;

/// The walk every sampler shares: ctx.fixed kept as given, then, in space order, `draw` for every parameter that
/// is active given the values so far and not fixed.
ParamMap assign_active(const SampleContext& ctx, const DrawParam& draw);

/// Internal value of parameter `name` of `trial` under `dist`; nullopt when the trial lacks it, recorded it with
/// a different distribution, or holds a value outside `dist`.
std::optional<double> trial_internal(const FrozenTrial& trial, const std::string& name, const Distribution& dist);

}  // namespace nasforge
