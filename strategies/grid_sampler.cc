#include "strategies/grid_sampler.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "core/error.h"
#include "core/strings.h"
#include "strategies/registry.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

// Counts saturate here; anything this large is rejected long before.
constexpr std::uint64_t kSaturated = std::uint64_t{1} << 62;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return std::min(kSaturated, a + b);
}

std::string where(const ParamSpec& spec) {
  std::string loc = spec.location.to_string();
  return loc.empty() ? std::string() : loc + ": ";
}

}  // namespace

GridSampler::GridSampler(const SearchSpace& space, GridSamplerOptions options) : options_(options) {
  const auto& specs = space.params();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const ParamSpec& spec = specs[i];
    std::optional<std::size_t> card = spec.distribution.cardinality();
    if (!card) {
      throw ConfigError(where(spec) + "parameter '" + spec.name + "': the grid strategy needs discrete values, but " +
                        spec.distribution.describe() + " has no step; add `step:` (e.g. step: " +
                        format_double((spec.distribution.high() - spec.distribution.low()) / 10) +
                        ") or make it an int or categorical parameter");
    }
    if (*card > kMaxPoints) {
      throw ValueError("parameter '" + spec.name + "' alone has " + std::to_string(*card) +
                       " grid values, more than the " + std::to_string(kMaxPoints) +
                       " points a grid may have; use a coarser step");
    }
    Param p;
    p.name = spec.name;
    p.distribution = spec.distribution;
    for (std::size_t k = 0; k < *card; ++k)
      p.values.push_back(spec.distribution.to_external(spec.distribution.discrete_value(k)));
    for (const auto& clause : spec.when) {
      Clause c;
      const ParamSpec* parent = space.find(clause.parent);
      check(parent != nullptr, "parameter '" + spec.name + "' depends on unknown '" + clause.parent + "'");
      c.parent = static_cast<std::size_t>(parent - specs.data());
      check(c.parent < i, "parameter '" + spec.name + "' comes before its parent '" + clause.parent + "'");
      // The same test as SearchSpace::is_active, decided once per parent value.
      for (const auto& v : params_[c.parent].values) {
        c.allowed.push_back(std::find(clause.values.begin(), clause.values.end(), v) != clause.values.end());
      }
      p.clauses.push_back(std::move(c));
    }
    params_.push_back(std::move(p));
  }

  // The number of completions below parameter i depends only on the earlier parameters that decide whether i or
  // a later parameter is active; those values key the memo of counts.
  std::vector<bool> referenced(params_.size(), false);
  for (std::size_t i = params_.size(); i-- > 0;) {
    for (const auto& c : params_[i].clauses) referenced[c.parent] = true;
    Param& p = params_[i];
    std::uint64_t weight = 1;
    for (std::size_t j = 0; j < i; ++j) {
      if (!referenced[j]) continue;
      p.context.push_back(j);
      p.radix.push_back(weight);
      std::uint64_t base = params_[j].values.size() + 1;  // "inactive" is a value too
      if (weight > kSaturated / base) {
        throw ValueError("the conditions of the space are too entangled for the grid strategy (parameter '" + p.name +
                         "' depends on too many combinations of earlier values)");
      }
      weight *= base;
    }
  }
  memo_.resize(params_.size() + 1);
  std::vector<int> idx(params_.size(), -1);
  size_ = count(0, idx);
  if (size_ > kMaxPoints) {
    throw ValueError("the grid has " + (size_ >= kSaturated ? std::string("over 4e18") : std::to_string(size_)) +
                     " points, more than the " + std::to_string(kMaxPoints) +
                     " allowed; use coarser steps, fewer choices, or another strategy");
  }
}

bool GridSampler::active(std::size_t i, const std::vector<int>& idx) const {
  for (const auto& c : params_[i].clauses) {
    int v = idx[c.parent];
    if (v < 0 || !c.allowed[static_cast<std::size_t>(v)]) return false;
  }
  return true;
}

std::uint64_t GridSampler::count(std::size_t i, std::vector<int>& idx) const {
  if (i == params_.size()) return 1;
  const Param& p = params_[i];
  std::uint64_t key = 0;
  for (std::size_t c = 0; c < p.context.size(); ++c) {
    key += static_cast<std::uint64_t>(idx[p.context[c]] + 1) * p.radix[c];
  }
  auto hit = memo_[i].find(key);
  if (hit != memo_[i].end()) return hit->second;
  std::uint64_t total = 0;
  if (!active(i, idx)) {
    total = count(i + 1, idx);
  } else {
    for (std::size_t k = 0; k < p.values.size() && total < kSaturated; ++k) {
      idx[i] = static_cast<int>(k);
      total = saturating_add(total, count(i + 1, idx));
    }
    idx[i] = -1;
  }
  memo_[i].emplace(key, total);
  return total;
}

std::vector<int> GridSampler::unrank(std::uint64_t rank) const {
  std::vector<int> idx(params_.size(), -1);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!active(i, idx)) continue;
    for (std::size_t k = 0; k < params_[i].values.size(); ++k) {
      idx[i] = static_cast<int>(k);
      std::uint64_t c = count(i + 1, idx);
      if (rank < c) break;
      rank -= c;
    }
  }
  return idx;
}

std::optional<std::uint64_t> GridSampler::rank_of_indices(std::vector<int> idx) const {
  std::vector<int> work(params_.size(), -1);
  std::uint64_t rank = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!active(i, work)) {
      if (idx[i] >= 0) return std::nullopt;
      continue;
    }
    if (idx[i] < 0) return std::nullopt;
    for (int k = 0; k < idx[i]; ++k) {
      work[i] = k;
      rank += count(i + 1, work);
    }
    work[i] = idx[i];
  }
  return rank;
}

std::optional<std::vector<int>> GridSampler::indices_of(const ParamMap& params, bool partial) const {
  std::vector<int> idx(params_.size(), -1);
  std::size_t used = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    auto it = params.find(p.name);
    if (it == params.end()) continue;
    ++used;
    double internal;
    try {
      internal = p.distribution.to_internal(it->second);
    } catch (const ValueError&) {
      return std::nullopt;
    }
    double k = p.distribution.kind() == DistributionKind::kCategorical
                   ? internal
                   : std::round((internal - p.distribution.low()) / *p.distribution.step());
    if (k < 0 || k >= static_cast<double>(p.values.size())) return std::nullopt;
    idx[i] = static_cast<int>(k);
  }
  if (!partial && used != params.size()) return std::nullopt;
  return idx;
}

ParamMap GridSampler::to_params(const std::vector<int>& idx) const {
  ParamMap out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (idx[i] >= 0) out[params_[i].name] = params_[i].values[static_cast<std::size_t>(idx[i])];
  }
  return out;
}

ParamMap GridSampler::point(std::uint64_t rank) const {
  if (rank >= size_) {
    throw ValueError("grid point " + std::to_string(rank) + " does not exist; the grid has " + std::to_string(size_) +
                     " points");
  }
  return to_params(unrank(rank));
}

std::optional<std::uint64_t> GridSampler::rank_of(const ParamMap& params) const {
  auto idx = indices_of(params, false);
  if (!idx) return std::nullopt;
  return rank_of_indices(*idx);
}

std::uint64_t GridSampler::rank_at(std::uint64_t position) {
  if (!options_.shuffle) return position;
  if (permutation_.empty()) {
    permutation_.resize(size_);
    std::iota(permutation_.begin(), permutation_.end(), std::uint32_t{0});
    std::mt19937_64 rng(options_.seed);
    for (std::size_t i = permutation_.size(); i > 1; --i) {
      std::swap(permutation_[i - 1], permutation_[uniform_index(rng, i)]);
    }
  }
  return permutation_[position];
}

ParamMap GridSampler::sample(const SampleContext& ctx) {
  if (ctx.space.params().size() != params_.size()) {
    throw ValueError("the grid was built for " + std::to_string(params_.size()) + " parameters, the space now has " +
                     std::to_string(ctx.space.params().size()));
  }

  // Points some trial already holds are taken, whoever claimed them. Finished trials never change, so their
  // ranks are remembered.
  std::unordered_set<std::uint64_t> visited;
  for (const auto& trial : ctx.trials) {
    if (trial.params.empty()) continue;
    std::optional<std::uint64_t> rank;
    if (is_finished(trial.state) && trial.trial_id >= 0) {
      auto it = finished_ranks_.find(trial.trial_id);
      if (it == finished_ranks_.end()) it = finished_ranks_.emplace(trial.trial_id, rank_of(trial.params)).first;
      rank = it->second;
    } else {
      rank = rank_of(trial.params);
    }
    if (rank) visited.insert(*rank);
  }
  auto key = [](std::uint64_t rank) { return "grid:" + std::to_string(rank); };

  if (ctx.fixed.empty()) {
    while (cursor_ < size_) {
      std::uint64_t rank = rank_at(cursor_++);
      if (visited.count(rank) || !ctx.claim(key(rank))) continue;
      return to_params(unrank(rank));
    }
    throw SpaceExhausted("grid of " + std::to_string(size_) + " points is exhausted");
  }

  // Enqueued values: the first free point that agrees with them, without moving the shared cursor.
  std::optional<std::vector<int>> want = indices_of(ctx.fixed, true);
  auto agrees = [&](const std::vector<int>& idx) {
    for (std::size_t i = 0; i < idx.size(); ++i) {
      if ((*want)[i] >= 0 && idx[i] != (*want)[i]) return false;
    }
    return true;
  };
  if (want) {
    for (std::uint64_t pos = cursor_; pos < size_; ++pos) {
      std::uint64_t rank = rank_at(pos);
      if (visited.count(rank)) continue;
      std::vector<int> idx = unrank(rank);
      if (!agrees(idx) || !ctx.claim(key(rank))) continue;
      ParamMap out = ctx.fixed;
      for (const auto& [name, value] : to_params(idx)) out.emplace(name, value);
      return out;
    }
  }
  // Every agreeing point is taken (or the values are off the grid): honour the values anyway and complete them
  // with the lexicographically first agreeing point, else with each parameter's first value.
  std::optional<std::vector<int>> fill;
  for (std::uint64_t rank = 0; want && rank < size_ && !fill; ++rank) {
    std::vector<int> idx = unrank(rank);
    if (agrees(idx)) fill = idx;
  }
  return assign_active(ctx, [&](std::size_t i, const ParamSpec&, const ParamMap&) {
    int k = fill && (*fill)[i] >= 0 ? (*fill)[i] : 0;
    return params_[i].values[static_cast<std::size_t>(k)];
  });
}

std::unique_ptr<Sampler> make_grid_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                           const StrategyEnv&) {
  GridSamplerOptions o;
  o.shuffle = options.flag("shuffle", true, "visit the points in a seeded random order (false: lexicographic order)");
  o.seed = seed;
  return std::make_unique<GridSampler>(space, o);
}

}  // namespace nasforge
