#include "strategies/sampler_util.h"

#include <limits>

#include "core/error.h"

namespace nasforge {

std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n) {
  if (n == 0) throw ValueError("uniform_index needs n >= 1, got 0");
  // Reject the top partial block so that every residue is equally likely.
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - (max % n + 1) % n;
  std::uint64_t x;
  do {
    x = rng();
  } while (x > limit);
  return x % n;
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

ParamMap assign_active(const SampleContext& ctx, const DrawParam& draw) {
  ParamMap out = ctx.fixed;
  const auto& params = ctx.space.params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamSpec& spec = params[i];
    if (ctx.fixed.count(spec.name) || !ctx.space.is_active(spec, out)) continue;
    out[spec.name] = draw(i, spec, out);
  }
  return out;
}

std::optional<double> trial_internal(const FrozenTrial& trial, const std::string& name, const Distribution& dist) {
  auto it = trial.params.find(name);
  if (it == trial.params.end()) return std::nullopt;
  auto d = trial.distributions.find(name);
  if (d != trial.distributions.end() && d->second != dist) return std::nullopt;
  try {
    return dist.to_internal(it->second);
  } catch (const ValueError&) {
    return std::nullopt;
  }
}

}  // namespace nasforge
