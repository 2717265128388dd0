#include "evaluators/compression/clustering.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

// Index of the centroid nearest to `x` among ascending `c`; ties go to the lower index.
std::int32_t nearest(const std::vector<float>& c, float x) {
  auto it = std::lower_bound(c.begin(), c.end(), x);
  if (it == c.end()) return static_cast<std::int32_t>(c.size() - 1);
  std::int32_t hi = static_cast<std::int32_t>(it - c.begin());
  // lower_bound gives the first centroid >= x; with duplicates that is already the lowest equal index.
  if (hi == 0) return 0;
  std::int32_t lo = hi - 1;
  return static_cast<double>(x) - c[lo] <= static_cast<double>(c[hi]) - x ? lo : hi;
}

std::vector<float> linear_init(const std::vector<float>& sorted, std::size_t k) {
  const double lo = sorted.front(), hi = sorted.back();
  std::vector<float> c(k);
  for (std::size_t i = 0; i < k; ++i) {
    c[i] = k == 1 ? static_cast<float>((lo + hi) / 2) : static_cast<float>(lo + (hi - lo) * i / (k - 1));
  }
  return c;
}

// Hazen quantiles: the value at position q * n - 1/2 of the sorted data, interpolated between neighbours, so that
// with k == n the centroids are the values themselves.
std::vector<float> density_init(const std::vector<float>& sorted, std::size_t k) {
  const std::size_t n = sorted.size();
  std::vector<float> c(k);
  for (std::size_t i = 0; i < k; ++i) {
    double pos = (static_cast<double>(i) + 0.5) * static_cast<double>(n) / static_cast<double>(k) - 0.5;
    pos = std::clamp(pos, 0.0, static_cast<double>(n - 1));
    std::size_t j = static_cast<std::size_t>(std::floor(pos));
    double frac = pos - static_cast<double>(j);
    double v = sorted[j];
    if (frac > 0 && j + 1 < n) v += frac * (static_cast<double>(sorted[j + 1]) - sorted[j]);
    c[i] = static_cast<float>(v);
  }
  return c;
}

// Forgy initialization: values at random positions (so frequent values are likelier), skipping repeats, until k
// distinct ones are found. A partial Fisher-Yates shuffle of the positions ends after at most n draws.
std::vector<float> random_init(const float* values, std::size_t n, std::size_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<float> c;
  for (std::size_t i = 0; i < n && c.size() < k; ++i) {
    // Modulo bias is below 2^-40 for any realistic n, and the draw stays the same on every platform.
    std::size_t j = i + static_cast<std::size_t>(rng() % (n - i));
    std::swap(order[i], order[j]);
    float v = values[order[i]];
    if (std::find(c.begin(), c.end(), v) == c.end()) c.push_back(v);
  }
  std::sort(c.begin(), c.end());
  return c;
}

}  // namespace

const char* to_string(ClusterInit init) {
  switch (init) {
    case ClusterInit::kLinear:
      return "linear";
    case ClusterInit::kRandom:
      return "random";
    case ClusterInit::kDensity:
      return "density";
  }
  return "?";
}

KMeansResult kmeans_1d(const float* values, std::size_t n, std::int64_t k, ClusterInit init, std::uint64_t seed,
                       int max_iterations) {
  if (k < 1) throw ValueError("k-means needs k >= 1 clusters, got " + std::to_string(k));
  if (n == 0) throw ValueError("k-means needs at least one value, got none");
  if (max_iterations < 0) {
    throw ValueError("k-means max_iterations must be >= 0, got " + std::to_string(max_iterations));
  }
  std::vector<float> sorted(values, values + n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(sorted[i])) {
      throw ValueError("k-means value " + std::to_string(i) + " is " + format_double(sorted[i]) +
                       "; values must be finite");
    }
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> distinct = sorted;
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());

  KMeansResult r;
  r.assignment.resize(n);
  if (distinct.size() <= static_cast<std::size_t>(k)) {
    // Every value can have its own centroid: reconstruction is exact, and no initialization could do better.
    r.centroids = distinct;
    for (std::size_t i = 0; i < n; ++i) r.assignment[i] = nearest(r.centroids, values[i]);
    return r;
  }
  const std::size_t kk = static_cast<std::size_t>(k);
  switch (init) {
    case ClusterInit::kLinear:
      r.centroids = linear_init(sorted, kk);
      break;
    case ClusterInit::kDensity:
      r.centroids = density_init(sorted, kk);
      break;
    case ClusterInit::kRandom:
      r.centroids = random_init(values, n, kk, seed);
      break;
  }
  for (std::size_t i = 0; i < n; ++i) r.assignment[i] = nearest(r.centroids, values[i]);

  std::vector<double> sums(kk);
  std::vector<std::int64_t> counts(kk);
  std::vector<std::int32_t> next(n);
  for (int it = 0; it < max_iterations; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (std::size_t i = 0; i < n; ++i) {
      sums[static_cast<std::size_t>(r.assignment[i])] += values[i];
      ++counts[static_cast<std::size_t>(r.assignment[i])];
    }
    for (std::size_t j = 0; j < kk; ++j) {
      if (counts[j] > 0) r.centroids[j] = static_cast<float>(sums[j] / static_cast<double>(counts[j]));
    }
    r.iterations = it + 1;
    // Means of contiguous, ordered 1-d clusters stay ordered (an empty cluster's centroid lies between its
    // neighbours' cells); sorting only guards the binary search against rounding, as assignments follow anyway.
    std::sort(r.centroids.begin(), r.centroids.end());
    for (std::size_t i = 0; i < n; ++i) next[i] = nearest(r.centroids, values[i]);
    if (next == r.assignment) break;
    r.assignment.swap(next);
  }
  return r;
}

}  // namespace nasforge
