#include "strategies/evolution_sampler.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "core/error.h"
#include "strategies/registry.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

const IntKey kPopulationSize{"population_size", Range::closed(1, 1e6),
                             "P: random trials until P finished, then parents come from the P most recent ones"};
// Children identical to a population member teach nothing; a few fresh mutations usually avoid them, and tiny
// spaces where they cannot be avoided must still get an answer.
constexpr int kDuplicateRetries = 8;
// Fresh draws of a numeric parameter until one differs from the parent's value; continuous domains need one.
constexpr int kRedraws = 32;

// Whether `child` and `trial` assign the same values to the same parameters of `space`.
bool same_point(const ParamMap& child, const FrozenTrial& trial, const SearchSpace& space) {
  for (const auto& spec : space.params()) {
    auto c = child.find(spec.name);
    bool trial_has = trial.params.count(spec.name) > 0;
    if ((c != child.end()) != trial_has) return false;
    if (c == child.end()) continue;
    std::optional<double> x = trial_internal(trial, spec.name, spec.distribution);
    if (!x || *x != spec.distribution.to_internal(c->second)) return false;
  }
  return true;
}

// A value of `dist` other than `current` (internal form); `dist` has at least two values.
double mutate_value(const Distribution& dist, double current, std::mt19937_64& rng) {
  if (dist.kind() == DistributionKind::kCategorical) {
    const std::size_t n = dist.choices().size();
    auto k = static_cast<double>(uniform_index(rng, n - 1));
    return k >= current ? k + 1 : k;
  }
  double v = current;
  for (int i = 0; i < kRedraws && v == current; ++i) v = sample_uniform_internal(dist, rng);
  if (v != current) return v;
  // Only reachable for discrete domains whose draws concentrate on `current` (e.g. log ints near the low end).
  if (auto n = dist.cardinality()) {
    std::size_t k = uniform_index(rng, *n - 1);
    for (std::size_t i = 0; i < *n; ++i) {
      double d = dist.discrete_value(i);
      if (d == current) continue;
      if (k-- == 0) return d;
    }
  }
  return v;
}

}  // namespace

EvolutionSampler::EvolutionSampler(EvolutionSamplerOptions options, std::size_t n_objectives)
    : options_(options), rng_(options.seed), random_(derive_seed(options.seed, 1)) {
  check(n_objectives >= 1, "a study needs at least one objective, got 0");
  check(n_objectives == 1, "evolution optimises a single objective, got " + std::to_string(n_objectives) +
                               " objectives; use tpe or random for several objectives");
  kPopulationSize.check(options_.population_size);
  check(options_.sample_size >= 1 && options_.sample_size <= options_.population_size,
        "sample_size must be in [1, population_size = " + std::to_string(options_.population_size) + "], got " +
            std::to_string(options_.sample_size));
}

std::vector<EvolutionSampler::Member> EvolutionSampler::population(const SampleContext& ctx) const {
  std::vector<Member> members;
  for (const auto& trial : ctx.trials) {
    std::optional<double> value;
    if (trial.state == TrialState::kComplete && trial.values.size() == 1) {
      value = trial.values[0];
    } else if (trial.state == TrialState::kPruned && !trial.intermediate_values.empty()) {
      // The last report is what the pruner judged the trial by; it competes with that value.
      value = trial.intermediate_values.rbegin()->second;
    }
    if (value && !std::isnan(*value)) members.push_back({&trial, *value});
  }
  std::stable_sort(members.begin(), members.end(),
                   [](const Member& a, const Member& b) { return a.trial->number < b.trial->number; });
  return members;
}

ParamMap EvolutionSampler::mutate(const SampleContext& ctx, const FrozenTrial& parent) {
  const auto& specs = ctx.space.params();
  auto fresh = [this](const ParamSpec& spec) {
    return spec.distribution.to_external(sample_uniform_internal(spec.distribution, rng_));
  };
  // The parent as the current space and the fixed values see it: its values where still valid, fresh draws for
  // parameters it lacks (it may predate a space change or a fixed value may switch a branch on).
  ParamMap base = assign_active(ctx, [&](std::size_t, const ParamSpec& spec, const ParamMap&) {
    std::optional<double> x = trial_internal(parent, spec.name, spec.distribution);
    return x ? spec.distribution.to_external(*x) : fresh(spec);
  });
  std::vector<std::size_t> mutable_params;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (base.count(specs[i].name) && !ctx.fixed.count(specs[i].name) && !specs[i].distribution.single()) {
      mutable_params.push_back(i);
    }
  }
  if (mutable_params.empty()) return base;
  const std::size_t target = mutable_params[uniform_index(rng_, mutable_params.size())];
  const ParamSpec& spec = specs[target];
  const ParamValue mutated = spec.distribution.to_external(
      mutate_value(spec.distribution, spec.distribution.to_internal(base.at(spec.name)), rng_));
  // Parameters before `target` keep their base values, so `target` stays active; later ones follow its new value.
  return assign_active(ctx, [&](std::size_t i, const ParamSpec& s, const ParamMap&) {
    if (i == target) return mutated;
    auto it = base.find(s.name);
    return it != base.end() ? it->second : fresh(s);
  });
}

ParamMap EvolutionSampler::sample(const SampleContext& ctx) {
  std::vector<Member> members = population(ctx);
  const auto P = static_cast<std::size_t>(options_.population_size);
  if (members.size() < P) return random_.sample(ctx);
  // Aging: only the most recent P finished trials compete, however good older ones were.
  members.erase(members.begin(), members.end() - static_cast<std::ptrdiff_t>(P));

  // Tournament: S distinct members (partial Fisher-Yates); the best of them is the parent, the first drawn on ties.
  const bool maximize = !ctx.directions.empty() && ctx.directions[0] == StudyDirection::kMaximize;
  std::vector<std::size_t> order(P);
  for (std::size_t i = 0; i < P; ++i) order[i] = i;
  const Member* parent = nullptr;
  for (std::size_t s = 0; s < static_cast<std::size_t>(options_.sample_size); ++s) {
    std::swap(order[s], order[s + uniform_index(rng_, P - s)]);
    const Member& m = members[order[s]];
    if (!parent || (maximize ? m.value > parent->value : m.value < parent->value)) parent = &m;
  }

  ParamMap child;
  for (int attempt = 0; attempt <= kDuplicateRetries; ++attempt) {
    child = mutate(ctx, *parent->trial);
    bool duplicate = false;
    for (const auto& m : members) duplicate = duplicate || same_point(child, *m.trial, ctx.space);
    // Trials other workers are evaluating right now count as members-to-be.
    for (const auto& t : ctx.trials) {
      duplicate = duplicate || (t.state == TrialState::kRunning && same_point(child, t, ctx.space));
    }
    if (!duplicate) break;
  }
  return child;
}

std::unique_ptr<Sampler> make_evolution_sampler(SectionReader& options, const SearchSpace&, std::uint64_t seed,
                                                const StrategyEnv& env) {
  const std::size_t n_objectives = env.n_objectives;
  EvolutionSamplerOptions o;
  o.seed = seed;
  std::int64_t population = options.integer(kPopulationSize, 50);
  o.population_size = static_cast<int>(population);
  std::int64_t sample = options.integer("sample_size", std::min<std::int64_t>(10, population),
                                        "S: tournament size, the parent is the best of S random members (default: "
                                        "min(10, population_size))");
  options.require(
      sample >= 1 && sample <= population, "sample_size",
      "must be in [1, population_size = " + std::to_string(population) + "], got " + std::to_string(sample));
  o.sample_size = static_cast<int>(sample);
  return std::make_unique<EvolutionSampler>(o, n_objectives);
}

}  // namespace nasforge
