#include "strategies/random_sampler.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "strategies/registry.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

double below(double high) {
  return std::nextafter(high, -std::numeric_limits<double>::infinity());
}

// Onto the grid low + k * step; half-to-even like numpy's round, then clipped to the domain.
double snap(double x, const Distribution& dist) {
  double step = *dist.step();
  double v = std::nearbyint((x - dist.low()) / step) * step + dist.low();
  return std::min(dist.high(), std::max(dist.low(), v));
}

}  // namespace

double sample_uniform_internal(const Distribution& dist, std::mt19937_64& rng) {
  if (dist.single()) return dist.kind() == DistributionKind::kCategorical ? 0.0 : dist.low();
  if (dist.kind() == DistributionKind::kCategorical) {
    return static_cast<double>(uniform_index(rng, dist.choices().size()));
  }
  double u = uniform01(rng);
  switch (dist.kind()) {
    case DistributionKind::kInt:
      if (dist.log()) {
        double lo = std::log(dist.low() - 0.5), hi = std::log(dist.high() + 0.5);
        double v = std::nearbyint(std::exp(lo + u * (hi - lo)));
        return std::min(dist.high(), std::max(dist.low(), v));
      } else {
        double half = 0.5 * *dist.step();
        return snap(dist.low() - half + u * (dist.high() - dist.low() + 2 * half), dist);
      }
    case DistributionKind::kFloat:
    default:
      if (dist.log()) {
        double lo = std::log(dist.low()), hi = std::log(dist.high());
        // exp(log(low)) may round below low; the domain is [low, high).
        return std::min(below(dist.high()), std::max(dist.low(), std::exp(lo + u * (hi - lo))));
      }
      if (dist.step()) {
        double half = 0.5 * *dist.step();
        return snap(dist.low() - half + u * (dist.high() - dist.low() + 2 * half), dist);
      }
      return std::min(below(dist.high()), dist.low() + u * (dist.high() - dist.low()));
  }
}

RandomSampler::RandomSampler(std::uint64_t seed) : rng_(seed) {}

ParamMap RandomSampler::sample(const SampleContext& ctx) {
  return assign_active(ctx, [this](std::size_t, const ParamSpec& spec, const ParamMap&) {
    return spec.distribution.to_external(sample_uniform_internal(spec.distribution, rng_));
  });
}

std::unique_ptr<Sampler> make_random_sampler(SectionReader&, const SearchSpace&, std::uint64_t seed,
                                             const StrategyEnv&) {
  return std::make_unique<RandomSampler>(seed);
}

}  // namespace nasforge
