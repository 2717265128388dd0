#pragma once

#include <cstdint>
#include <random>

#include "spaces/distribution.h"
#include "strategies/sampler.h"

namespace nasforge {

/// One uniform draw from `dist` in internal representation, as Optuna 3.1's RandomSampler draws it: uniform in
/// [low, high) (log space for log scales); int and stepped values drawn over bounds widened by half a step, then
/// rounded half-to-even onto the grid and clipped; categoricals uniform over choice indices.
double sample_uniform_internal(const Distribution& dist, std::mt19937_64& rng);

/// `random`: every active parameter drawn independently with sample_uniform_internal. Same seed, same sequence.
class RandomSampler : public Sampler {
 public:
  /// A sampler whose whole sequence is determined by `seed`.
  explicit RandomSampler(std::uint64_t seed);
  /// Values for every active parameter; ctx.fixed kept as given.
  ParamMap sample(const SampleContext& ctx) override;

 private:
  std::mt19937_64 rng_;
};

}  // namespace nasforge
