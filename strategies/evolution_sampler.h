#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "core/config.h"
#include "spaces/search_space.h"
#include "strategies/random_sampler.h"
#include "strategies/sampler.h"

namespace nasforge {

/// Options of the `evolution` strategy (Real et al. 2019, "Regularized Evolution for Image Classifier
/// Architecture Search").
struct EvolutionSamplerOptions {
  int population_size = 50;  ///< P: random trials until this many finished; then the P most recent finished ones.
  int sample_size = 10;      ///< S: tournament size, 1 <= S <= P.
  std::uint64_t seed = 0;    ///< Seed of all randomness.
};

/// `evolution`: regularized (aging) evolution for one objective. Stateless over the study history, so several
/// workers and resumed studies share one population: the population is the population_size most recent finished
/// trials by number (COMPLETE ones with a finite value, and PRUNED ones with their last reported value); FAIL and
/// RUNNING trials are ignored. Until that many trials have finished, parameters are drawn as `random` draws them.
/// Afterwards a tournament of sample_size members drawn without replacement picks the best as parent, and the
/// child copies the parent with exactly one active, non-fixed, non-constant parameter mutated: categoricals move to
/// a different choice uniformly, numbers get a fresh draw from their distribution (as `random` draws it) that
/// differs from the parent's value. Conditional parameters that become active keep the parent's value when it has
/// one, else are drawn at random; parameters that become inactive are dropped; fixed values are kept.
class EvolutionSampler : public Sampler {
 public:
  /// A sampler for a study with `n_objectives` objectives; throws ValueError on invalid options or several
  /// objectives.
  EvolutionSampler(EvolutionSamplerOptions options, std::size_t n_objectives);
  /// Values for every active parameter; random until population_size trials finished.
  ParamMap sample(const SampleContext& ctx) override;
  /// The options in force.
  const EvolutionSamplerOptions& options() const { return options_; }

 private:
  /// A finished trial with the value it competes with.
  struct Member {
    const FrozenTrial* trial = nullptr;
    double value = 0;
  };

  std::vector<Member> population(const SampleContext& ctx) const;
  ParamMap mutate(const SampleContext& ctx, const FrozenTrial& parent);

  EvolutionSamplerOptions options_;
  std::mt19937_64 rng_;
  RandomSampler random_;
};

}  // namespace nasforge
