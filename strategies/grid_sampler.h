#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "spaces/search_space.h"
#include "strategies/sampler.h"

namespace nasforge {

/// Options of the `grid` strategy.
struct GridSamplerOptions {
  bool shuffle = true;     ///< Visit points in a seeded random order (false: lexicographic, space order).
  std::uint64_t seed = 0;  ///< Seed of the shuffle.
};

/// `grid`: every combination of the discrete values of the space exactly once across all workers. Conditional
/// parameters are enumerated as a tree (a child only varies under parent values that activate it), so no two
/// points differ only in inactive parameters. Points are numbered lexicographically in space order; that number
/// is the study-wide claim key "grid:<n>", so workers with different shuffle seeds still never collide.
class GridSampler : public Sampler {
 public:
  /// Most points a grid may have.
  static constexpr std::uint64_t kMaxPoints = 10'000'000;

  /// Builds the grid; ConfigError (at the parameter's line) for a float without step, ValueError for a grid of
  /// more than kMaxPoints points.
  GridSampler(const SearchSpace& space, GridSamplerOptions options);

  /// The next point nobody has claimed or evaluated (consistent with ctx.fixed when given); SpaceExhausted when
  /// none is left.
  ParamMap sample(const SampleContext& ctx) override;

  /// Number of points of the grid.
  std::uint64_t size() const { return size_; }
  /// The point with lexicographic number `rank` (< size()), active parameters only.
  ParamMap point(std::uint64_t rank) const;
  /// Lexicographic number of `params`, or nullopt when they are not exactly one grid point.
  std::optional<std::uint64_t> rank_of(const ParamMap& params) const;

 private:
  struct Clause {
    std::size_t parent;
    std::vector<bool> allowed;  // by the parent's value index
  };
  struct Param {
    std::string name;
    Distribution distribution;
    std::vector<ParamValue> values;  // external value of each index
    std::vector<Clause> clauses;
    std::vector<std::size_t> context;  // earlier parameters that decide the activity of this or later ones
    std::vector<std::uint64_t> radix;  // mixed-radix weights of `context` for the memo key
  };

  bool active(std::size_t i, const std::vector<int>& idx) const;
  std::uint64_t count(std::size_t i, std::vector<int>& idx) const;
  std::vector<int> unrank(std::uint64_t rank) const;
  std::optional<std::uint64_t> rank_of_indices(std::vector<int> idx) const;
  std::optional<std::vector<int>> indices_of(const ParamMap& params, bool partial) const;
  ParamMap to_params(const std::vector<int>& idx) const;
  std::uint64_t rank_at(std::uint64_t position);

  std::vector<Param> params_;
  GridSamplerOptions options_;
  std::uint64_t size_ = 0;
  std::uint64_t cursor_ = 0;                // positions before it are taken
  std::vector<std::uint32_t> permutation_;  // position -> rank, built on first use when shuffling
  std::unordered_map<std::int64_t, std::optional<std::uint64_t>> finished_ranks_;  // trial_id -> rank
  mutable std::vector<std::unordered_map<std::uint64_t, std::uint64_t>> memo_;
};

}  // namespace nasforge
