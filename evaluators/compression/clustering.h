#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nasforge {

/// How k-means chooses its initial centroids (Han et al., Deep Compression, section 3.1).
enum class ClusterInit {
  kLinear,   ///< Evenly spaced between the smallest and largest value.
  kRandom,   ///< k distinct values drawn at random from the data (seeded).
  kDensity,  ///< Evenly spaced quantiles of the values (the inverse CDF at (i + 0.5) / k).
};

/// "linear", "random", "density".
const char* to_string(ClusterInit init);

/// Result of 1-d k-means.
struct KMeansResult {
  std::vector<float> centroids;          ///< k centroids in ascending order.
  std::vector<std::int32_t> assignment;  ///< For each value, the index of its nearest centroid.
  int iterations = 0;                    ///< Lloyd iterations run until assignments stopped changing.
};

/// Lloyd's k-means of `n` scalar values into k clusters; empty clusters keep their centroid. With at most k
/// distinct values those values are the centroids (exact). max_iterations 0 returns the initial centroids.
/// Deterministic for a given seed. ValueError for k < 1, n == 0, max_iterations < 0 or a non-finite value.
KMeansResult kmeans_1d(const float* values, std::size_t n, std::int64_t k, ClusterInit init, std::uint64_t seed,
                       int max_iterations = 100);

}  // namespace nasforge
