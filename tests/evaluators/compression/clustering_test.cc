#include "evaluators/compression/clustering.h"

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "core/error.h"
#include "testing.h"

namespace nasforge {
namespace {

class ClusteringTest : public testing::NasforgeTest {};

KMeansResult run(const std::vector<float>& v, std::int64_t k, ClusterInit init, std::uint64_t seed = 1,
                 int max_iterations = 100) {
  return kmeans_1d(v.data(), v.size(), k, init, seed, max_iterations);
}

TEST_F(ClusteringTest, TwoSeparatedGroupsConvergeToTheirMeans) {
  std::vector<float> v = {1.0f, 10.2f, 1.1f, 9.8f, 0.9f, 10.0f};
  for (ClusterInit init : {ClusterInit::kLinear, ClusterInit::kDensity, ClusterInit::kRandom}) {
    KMeansResult r = run(v, 2, init);
    ASSERT_EQ(r.centroids.size(), 2u) << to_string(init);
    EXPECT_NEAR(r.centroids[0], 1.0f, 1e-6) << to_string(init);
    EXPECT_NEAR(r.centroids[1], 10.0f, 1e-6) << to_string(init);
    EXPECT_EQ(r.assignment, (std::vector<std::int32_t>{0, 1, 0, 1, 0, 1})) << to_string(init);
    EXPECT_GE(r.iterations, 1);
  }
}

TEST_F(ClusteringTest, AtMostKDistinctValuesAreReconstructedExactly) {
  std::vector<float> v = {3.0f, -1.0f, 3.0f, 2.0f, -1.0f, 0.25f};
  for (std::int64_t k : {4, 5, 100}) {
    for (ClusterInit init : {ClusterInit::kLinear, ClusterInit::kDensity, ClusterInit::kRandom}) {
      KMeansResult r = run(v, k, init);
      EXPECT_EQ(r.centroids, (std::vector<float>{-1.0f, 0.25f, 2.0f, 3.0f}));
      for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(r.centroids[r.assignment[i]], v[i]);
    }
  }
  KMeansResult one = run({7.5f}, 3, ClusterInit::kLinear);
  EXPECT_EQ(one.centroids, std::vector<float>{7.5f});
  EXPECT_EQ(one.assignment, std::vector<std::int32_t>{0});
}

TEST_F(ClusteringTest, LinearInitIsEvenlySpacedAndTiesGoToTheLowerCentroid) {
  KMeansResult r = run({0, 1, 2, 10}, 3, ClusterInit::kLinear, 1, /*max_iterations=*/0);
  EXPECT_EQ(r.centroids, (std::vector<float>{0, 5, 10}));
  EXPECT_EQ(r.assignment, (std::vector<std::int32_t>{0, 0, 0, 2}));
  EXPECT_EQ(r.iterations, 0);
  // 1 is as near to 0 as to 2: the lower centroid wins. Lloyd then moves centroid 0 to 0.5 and stops.
  KMeansResult t = run({0, 1, 2}, 2, ClusterInit::kLinear, 1, 0);
  EXPECT_EQ(t.centroids, (std::vector<float>{0, 2}));
  EXPECT_EQ(t.assignment, (std::vector<std::int32_t>{0, 0, 1}));
  KMeansResult done = run({0, 1, 2}, 2, ClusterInit::kLinear);
  EXPECT_EQ(done.centroids, (std::vector<float>{0.5f, 2}));
  EXPECT_EQ(done.assignment, (std::vector<std::int32_t>{0, 0, 1}));
  EXPECT_EQ(done.iterations, 1);
  // k == 1: the midpoint of the range, then the mean.
  EXPECT_EQ(run({0, 1, 5}, 1, ClusterInit::kLinear, 1, 0).centroids, std::vector<float>{2.5f});
  EXPECT_EQ(run({0, 1, 5}, 1, ClusterInit::kLinear).centroids, std::vector<float>{2.0f});
}

TEST_F(ClusteringTest, DensityInitTakesQuantiles) {
  // Hazen quantiles of 1..8 at 1/8, 3/8, 5/8, 7/8: positions 0.5, 2.5, 4.5, 6.5 of the sorted values.
  std::vector<float> v = {8, 3, 1, 6, 2, 7, 4, 5};
  KMeansResult r = run(v, 4, ClusterInit::kDensity, 1, 0);
  EXPECT_EQ(r.centroids, (std::vector<float>{1.5f, 3.5f, 5.5f, 7.5f}));
  // Quantiles follow the mass: six values near 0 get two centroids, two far ones share the third.
  KMeansResult skew = run({0, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 10, 20}, 3, ClusterInit::kDensity, 1, 0);
  ASSERT_EQ(skew.centroids.size(), 3u);
  // Positions (i + 0.5) * 8 / 3 - 0.5 = 0.833, 3.5, 6.167 of the sorted values.
  EXPECT_NEAR(skew.centroids[0], 0.0833333f, 1e-6);  // 0 + 0.833 * (0.1 - 0)
  EXPECT_NEAR(skew.centroids[1], 0.35f, 1e-6);       // halfway between 0.3 and 0.4
  EXPECT_NEAR(skew.centroids[2], 11.666667f, 1e-5);  // 10 + 0.167 * (20 - 10)
}

TEST_F(ClusteringTest, RandomInitDrawsDistinctDataValuesBySeed) {
  // Mostly zeros: a Forgy draw still ends with k distinct values, all taken from the data.
  std::vector<float> v = {0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4};
  std::set<std::vector<float>> seen;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    KMeansResult r = run(v, 3, ClusterInit::kRandom, seed, 0);
    ASSERT_EQ(r.centroids.size(), 3u);
    EXPECT_TRUE(std::is_sorted(r.centroids.begin(), r.centroids.end()));
    EXPECT_EQ(std::set<float>(r.centroids.begin(), r.centroids.end()).size(), 3u);
    for (float c : r.centroids) EXPECT_NE(std::find(v.begin(), v.end(), c), v.end()) << c;
    EXPECT_EQ(run(v, 3, ClusterInit::kRandom, seed, 0).centroids, r.centroids);
    seen.insert(r.centroids);
  }
  EXPECT_GT(seen.size(), 1u);  // the seed matters
}

TEST_F(ClusteringTest, LloydResultIsAFixedPointAndDeterministic) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(2000);
  for (float& x : v) x = normal(rng_);
  for (ClusterInit init : {ClusterInit::kLinear, ClusterInit::kDensity, ClusterInit::kRandom}) {
    KMeansResult r = run(v, 8, init, 42, 1000);
    ASSERT_EQ(r.centroids.size(), 8u);
    ASSERT_LT(r.iterations, 1000) << to_string(init);
    EXPECT_TRUE(std::is_sorted(r.centroids.begin(), r.centroids.end()));
    std::vector<double> sums(8), counts(8);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::int32_t a = r.assignment[i];
      sums[a] += v[i];
      counts[a] += 1;
      for (std::size_t j = 0; j < 8; ++j) {
        ASSERT_LE(std::abs(v[i] - r.centroids[a]), std::abs(v[i] - r.centroids[j]) + 1e-6) << to_string(init);
      }
    }
    for (std::size_t j = 0; j < 8; ++j) {
      if (counts[j] > 0) {
        EXPECT_NEAR(r.centroids[j], sums[j] / counts[j], 1e-5) << to_string(init);
      }
    }
    KMeansResult again = run(v, 8, init, 42, 1000);
    EXPECT_EQ(again.centroids, r.centroids);
    EXPECT_EQ(again.assignment, r.assignment);
    // 8 clusters of a unit normal: the mean squared error is far below the variance.
    double mse = 0;
    for (std::size_t i = 0; i < v.size(); ++i) mse += std::pow(v[i] - r.centroids[r.assignment[i]], 2);
    EXPECT_LT(mse / v.size(), 0.05) << to_string(init);
  }
  // One iteration cap: the result is still a valid (if unconverged) assignment.
  KMeansResult capped = run(v, 8, ClusterInit::kLinear, 1, 1);
  EXPECT_EQ(capped.iterations, 1);
  EXPECT_EQ(capped.assignment.size(), v.size());
}

TEST_F(ClusteringTest, RejectsBadArguments) {
  std::vector<float> v = {1, 2};
  EXPECT_THROW(run(v, 0, ClusterInit::kLinear), ValueError);
  EXPECT_THROW(kmeans_1d(v.data(), 0, 2, ClusterInit::kLinear, 1), ValueError);
  EXPECT_THROW(run(v, 2, ClusterInit::kLinear, 1, -1), ValueError);
  EXPECT_THROW(run({1, std::numeric_limits<float>::quiet_NaN()}, 2, ClusterInit::kLinear), ValueError);
  EXPECT_STREQ(to_string(ClusterInit::kLinear), "linear");
  EXPECT_STREQ(to_string(ClusterInit::kRandom), "random");
  EXPECT_STREQ(to_string(ClusterInit::kDensity), "density");
}

}  // namespace
}  // namespace nasforge
