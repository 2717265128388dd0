#include "strategies/parzen_estimator.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "strategies/tpe_sampler.h"
#include "tests/testing.h"

namespace nasforge {
namespace {

// Reference values in long double (64-bit mantissa, exponent down to 1e-4951), independent of the code under test.
long double ref_ndtr(long double x) {
  return 0.5L * std::erfc(-x / std::sqrt(2.0L));
}
long double ref_log_mass(long double a, long double b) {
  // Differences of upper tails when both bounds are positive, to avoid cancellation in the reference itself.
  if (a > 0) return std::log(ref_ndtr(-a) - ref_ndtr(-b));
  return std::log(ref_ndtr(b) - ref_ndtr(a));
}

class ParzenEstimatorTest : public testing::NasforgeTest {
 protected:
  ParzenEstimator fit(const std::vector<Distribution>& dists, const std::vector<double>& observations,
                      ParzenEstimatorOptions options = {}) {
    dists_ = dists;
    std::vector<const Distribution*> dims;
    for (const auto& d : dists_) dims.push_back(&d);
    std::size_t n = dists.empty() ? 0 : observations.size() / dists.size();
    ParzenEstimator pe;
    pe.fit(dims, observations, tpe_weights(n, TpeWeights::kRamp), options);
    return pe;
  }

  // exp(log_pdf) summed by Simpson's rule over [lo, hi] for a one-dimensional estimator.
  double integrate(ParzenEstimator& pe, double lo, double hi, int intervals, bool log_space) {
    std::vector<double> xs, lp;
    for (int i = 0; i <= intervals; ++i) {
      double t = lo + (hi - lo) * i / intervals;
      xs.push_back(log_space ? std::exp(t) : t);
    }
    // exp(log(x)) may land a hair outside the domain; pull the ends back in.
    xs.front() = log_space ? std::exp(lo) * (1 + 1e-15) : lo;
    xs.back() = log_space ? std::exp(hi) * (1 - 1e-15) : hi;
    pe.log_pdf(xs, xs.size(), lp);
    double h = (hi - lo) / intervals, sum = 0;
    for (int i = 0; i <= intervals; ++i) {
      double w = (i == 0 || i == intervals) ? 1 : (i % 2 ? 4 : 2);
      sum += w * std::exp(lp[static_cast<std::size_t>(i)]);
    }
    return sum * h / 3;
  }

  std::vector<Distribution> dists_;
};

TEST_F(ParzenEstimatorTest, UnivariateMatchesHandComputation) {
  // Observations 0.1, 0.2, 0.7 on [0, 1] plus the prior (centre 0.5, width 1). Sorted centres with the ends:
  // 0 | 0.1 0.2 0.5 0.7 | 1. Widths = larger neighbour gap: 0.1 -> 0.1 (endpoints ignored: gap to 0.2),
  // 0.2 -> max(0.1, 0.3) = 0.3, 0.7 -> 0.2 (gap to 0.5); magic clip raises all to 1 / min(100, 1 + 4) = 0.2.
  ParzenEstimator pe = fit({Distribution::make_float(0, 1)}, {0.1, 0.2, 0.7});
  ASSERT_EQ(pe.n_components(), 4u);
  for (double w : pe.weights()) EXPECT_DOUBLE_EQ(w, 0.25);  // three trials weigh 1, the prior 1, normalised
  std::vector<double> mus = {0.1, 0.2, 0.7, 0.5}, sigmas = {0.2, 0.3, 0.2, 1.0};
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_DOUBLE_EQ(pe.mus(0)[k], mus[k]) << k;
    EXPECT_NEAR(pe.sigmas(0)[k], sigmas[k], 1e-15) << k;
  }
  // The density at 0.15 is the weighted sum of the four truncated normals.
  double expected = 0;
  for (std::size_t k = 0; k < 4; ++k) expected += 0.25 * std::exp(truncnorm::logpdf(0.15, 0, 1, mus[k], sigmas[k]));
  std::vector<double> lp;
  pe.log_pdf({0.15}, 1, lp);
  EXPECT_NEAR(lp[0], std::log(expected), 1e-12);
}

TEST_F(ParzenEstimatorTest, WidthWeightedMatchesOptuna31) {
  // Optuna 3.1's _ParzenEstimator.log_pdf for observations {0.1, 0.2, 0.7} on [0, 1] at 0.15, 0.5 and 0.9 (values
  // printed by Optuna 3.1 itself). Its kernels lack 1/sigma, so it equals the width-weighted proper density plus
  // log(sum_k w_k sigma_k) = log(0.25 * (0.2 + 0.3 + 0.2 + 1.0)).
  ParzenEstimatorOptions o;
  o.width_weighted = true;
  ParzenEstimator pe = fit({Distribution::make_float(0, 1)}, {0.1, 0.2, 0.7}, o);
  std::vector<double> lp;
  pe.log_pdf({0.15, 0.5, 0.9}, 3, lp);
  const double optuna31[] = {-0.654921466754, -0.852940196334, -1.15793186922};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(lp[i] + std::log(0.425), optuna31[i], 1e-11) << i;
  // Still a proper density.
  EXPECT_NEAR(integrate(pe, 0, 1, 20000, false), 1.0, 1e-6);
  // Sampling keeps the plain weights.
  for (double w : pe.weights()) EXPECT_DOUBLE_EQ(w, 0.25);
}

TEST_F(ParzenEstimatorTest, WidthWeightedMixedDimensionsStayNormalised) {
  // Widths weigh only the continuous dimensions; the joint density over a float and a categorical sums to one.
  ParzenEstimatorOptions o;
  o.width_weighted = true;
  o.multivariate = true;
  ParzenEstimator pe =
      fit({Distribution::make_float(0, 1), Distribution::make_categorical({"a", "b"})}, {0.2, 0, 0.25, 1, 0.9, 1}, o);
  double total = 0;
  const int intervals = 20000;
  for (int c = 0; c < 2; ++c) {
    std::vector<double> points, lp;
    for (int i = 0; i <= intervals; ++i) {
      points.push_back(static_cast<double>(i) / intervals);
      points.push_back(c);
    }
    pe.log_pdf(points, intervals + 1, lp);
    for (int i = 0; i <= intervals; ++i) {
      double w = (i == 0 || i == intervals) ? 1 : (i % 2 ? 4 : 2);
      total += w * std::exp(lp[static_cast<std::size_t>(i)]) / (3.0 * intervals);
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-6);
  // Products of widths that underflow are summed in log space instead.
  ParzenEstimator tiny = fit({Distribution::make_float(0, 1e-200), Distribution::make_float(0, 1e-200)},
                             {1e-201, 5e-201, 3e-201, 9e-201}, o);
  std::vector<double> lp;
  tiny.log_pdf({2e-201, 4e-201}, 1, lp);
  EXPECT_TRUE(std::isfinite(lp[0])) << lp[0];
}

TEST_F(ParzenEstimatorTest, EndpointsAndPriorOptions) {
  ParzenEstimatorOptions with_ends;
  with_ends.consider_endpoints = true;
  with_ends.consider_magic_clip = false;
  // 0.1's gap to the lower end (0.1) is now considered but 0.2 - 0.1 = 0.1 as well; 0.7's gap to 1 is 0.3.
  ParzenEstimator pe = fit({Distribution::make_float(0, 1)}, {0.1, 0.2, 0.7}, with_ends);
  EXPECT_NEAR(pe.sigmas(0)[0], 0.1, 1e-15);
  EXPECT_NEAR(pe.sigmas(0)[2], 0.3, 1e-15);

  ParzenEstimatorOptions no_prior;
  no_prior.consider_prior = false;
  ParzenEstimator without = fit({Distribution::make_float(0, 1)}, {0.1, 0.2, 0.7}, no_prior);
  EXPECT_EQ(without.n_components(), 3u);
  // Without observations the prior is used regardless.
  ParzenEstimator empty = fit({Distribution::make_float(0, 1)}, {}, no_prior);
  ASSERT_EQ(empty.n_components(), 1u);
  EXPECT_DOUBLE_EQ(empty.mus(0)[0], 0.5);
  EXPECT_DOUBLE_EQ(empty.sigmas(0)[0], 1.0);
}

TEST_F(ParzenEstimatorTest, DiscreteAndLogBoundsAreWidened) {
  ParzenEstimator ints = fit({Distribution::make_int(0, 10)}, {2, 2, 7});
  EXPECT_DOUBLE_EQ(ints.low(0), -0.5);
  EXPECT_DOUBLE_EQ(ints.high(0), 10.5);
  ParzenEstimator logs = fit({Distribution::make_int(1, 100, true)}, {3, 10});
  EXPECT_DOUBLE_EQ(logs.low(0), std::log(0.5));
  EXPECT_DOUBLE_EQ(logs.high(0), std::log(100.5));
  EXPECT_DOUBLE_EQ(logs.mus(0)[1], std::log(10.0));
  ParzenEstimator steps = fit({Distribution::make_float(0, 1, false, 0.25)}, {0.5});
  EXPECT_DOUBLE_EQ(steps.low(0), -0.125);
  EXPECT_DOUBLE_EQ(steps.high(0), 1.125);
}

TEST_F(ParzenEstimatorTest, CategoricalKernelsAreSmoothedOneHots) {
  // Three observations: each row starts at prior_weight / (n + 1) = 1/4, its own choice gets +1, then the row
  // is normalised (sum 1.75). The prior row stays uniform.
  ParzenEstimator pe = fit({Distribution::make_categorical({"a", "b", "c"})}, {0, 2, 2});
  const auto& w = pe.categorical_weights(0);
  ASSERT_EQ(w.size(), 12u);
  EXPECT_NEAR(w[0], 1.25 / 1.75, 1e-15);
  EXPECT_NEAR(w[1], 0.25 / 1.75, 1e-15);
  EXPECT_NEAR(w[2 * 3 + 2], 1.25 / 1.75, 1e-15);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(w[9 + j], 1.0 / 3, 1e-15);
  // P(c) = (1.25 + 0.25 + 1.25) / 1.75 / 4 + 1/3 / 4 (all weights 1/4).
  std::vector<double> lp;
  pe.log_pdf({2.0}, 1, lp);
  EXPECT_NEAR(std::exp(lp[0]), (0.25 + 1.25 + 1.25) / 1.75 / 4 + 1.0 / 12, 1e-13);
}

TEST_F(ParzenEstimatorTest, MultivariateUsesScottsRule) {
  ParzenEstimatorOptions mv;
  mv.multivariate = true;
  ParzenEstimator pe = fit({Distribution::make_float(0, 2), Distribution::make_categorical({"x", "y"})},
                           {0.5, 0, 1.0, 1, 1.5, 1, 0.2, 0}, mv);
  // 4 observations, 2 dimensions: sigma = 0.2 * 4^(-1/6) * range = 0.317, raised by the magic clip to
  // range / (1 + 5 kernels) = 0.333; the prior's sigma is the range.
  double expected = std::max(0.2 * std::pow(4.0, -1.0 / 6) * 2.0, 2.0 / 6);
  EXPECT_NEAR(expected, 1.0 / 3, 1e-15);
  for (std::size_t k = 0; k < 4; ++k) EXPECT_NEAR(pe.sigmas(0)[k], expected, 1e-15);
  EXPECT_DOUBLE_EQ(pe.sigmas(0)[4], 2.0);
}

TEST_F(ParzenEstimatorTest, WeightsRampDownOlderTrials) {
  std::vector<double> obs;
  for (int i = 0; i < 40; ++i) obs.push_back((i * 7 % 40) / 40.0);
  ParzenEstimator pe = fit({Distribution::make_float(0, 1)}, obs);
  // default_weights(40): linspace(1/40, 1, 15) then 25 ones, plus the prior's 1; normalised.
  double total = 0;
  for (int i = 0; i < 15; ++i) total += 1.0 / 40 + i * (1 - 1.0 / 40) / 14;
  total += 25 + 1;
  EXPECT_NEAR(pe.weights()[0], (1.0 / 40) / total, 1e-15);
  EXPECT_NEAR(pe.weights()[39], 1.0 / total, 1e-15);
  EXPECT_LT(pe.weights()[0], pe.weights()[14]);
}

TEST_F(ParzenEstimatorTest, DensityIntegratesToOne) {
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> obs;
  for (int i = 0; i < 30; ++i) obs.push_back(u(rng_));
  ParzenEstimator uni = fit({Distribution::make_float(0, 1)}, obs);
  EXPECT_NEAR(integrate(uni, 0, 1, 20000, false), 1.0, 1e-6);

  std::vector<double> logs;
  for (double o : obs) logs.push_back(std::exp(std::log(1e-3) * o));
  ParzenEstimator log_scale = fit({Distribution::make_float(1e-3, 1, true)}, logs);
  // Log parameters are modelled in log space: the density integrates to one over log(x).
  EXPECT_NEAR(integrate(log_scale, std::log(1e-3), 0, 20000, true), 1.0, 1e-6);

  ParzenEstimatorOptions mv;
  mv.multivariate = true;
  std::vector<double> few = {0.05, 0.1, 0.95};
  ParzenEstimator narrow = fit({Distribution::make_float(0, 1)}, few, mv);
  EXPECT_NEAR(integrate(narrow, 0, 1, 20000, false), 1.0, 1e-6);
}

TEST_F(ParzenEstimatorTest, DiscreteAndCategoricalMassesSumToOne) {
  ParzenEstimator ints = fit({Distribution::make_int(-3, 12, false, 3)}, {0, 0, 3, 12, 12, 12});
  std::vector<double> grid = {-3, 0, 3, 6, 9, 12}, lp;
  ints.log_pdf(grid, grid.size(), lp);
  double total = 0;
  for (double v : lp) total += std::exp(v);
  EXPECT_NEAR(total, 1.0, 1e-12);

  // Two dimensions, one stepped float and one categorical: the joint masses sum to one.
  ParzenEstimatorOptions mv;
  mv.multivariate = true;
  ParzenEstimator joint = fit({Distribution::make_float(0, 1, false, 0.1), Distribution::make_categorical({1, 2, 3})},
                              {0.3, 0, 0.3, 2, 0.9, 1}, mv);
  std::vector<double> points;
  for (int i = 0; i <= 10; ++i) {
    for (int c = 0; c < 3; ++c) {
      points.push_back(i * 0.1);
      points.push_back(c);
    }
  }
  joint.log_pdf(points, points.size() / 2, lp);
  total = 0;
  for (double v : lp) total += std::exp(v);
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST_F(ParzenEstimatorTest, FastPathsMatchTheDirectMixture) {
  // Many repeated int observations exercise the merged kernels, the tail bounds and the series; the result must
  // equal the plain sum over kernels of the step masses.
  std::uniform_int_distribution<int> pick(0, 200);
  std::vector<double> obs;
  for (int i = 0; i < 400; ++i) obs.push_back(i % 3 == 0 ? 100 + pick(rng_) % 5 : pick(rng_));
  for (bool multivariate : {false, true}) {
    ParzenEstimatorOptions options;
    options.multivariate = multivariate;
    ParzenEstimator pe = fit({Distribution::make_int(0, 200)}, obs, options);
    std::vector<double> points = {0, 1, 57, 100, 101, 102, 150, 199, 200}, lp;
    pe.log_pdf(points, points.size(), lp);
    for (std::size_t i = 0; i < points.size(); ++i) {
      long double sum = 0;
      for (std::size_t k = 0; k < pe.n_components(); ++k) {
        long double mu = pe.mus(0)[k], s = pe.sigmas(0)[k];
        long double mass = ref_log_mass((points[i] - 0.5L - mu) / s, (points[i] + 0.5L - mu) / s) -
                           ref_log_mass((-0.5L - mu) / s, (200.5L - mu) / s);
        sum += pe.weights()[k] * std::exp(mass);
      }
      EXPECT_NEAR(lp[i], static_cast<double>(std::log(sum)), 1e-9) << "x=" << points[i] << " mv=" << multivariate;
    }
  }
  // Continuous kernels, several dimensions: compare with truncnorm::logpdf summed directly.
  ParzenEstimatorOptions mv;
  mv.multivariate = true;
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> obs2;
  for (int i = 0; i < 300; ++i) obs2.push_back(u(rng_));
  std::vector<Distribution> dists = {Distribution::make_float(0, 1), Distribution::make_float(0, 1, false, 0.05),
                                     Distribution::make_categorical({"a", "b", "c"})};
  std::vector<double> rows;
  for (int i = 0; i < 100; ++i) {
    rows.push_back(obs2[static_cast<std::size_t>(i)]);
    rows.push_back(std::round(obs2[static_cast<std::size_t>(i + 100)] * 20) / 20);
    rows.push_back(i % 3);
  }
  ParzenEstimator joint = fit(dists, rows, mv);
  ParzenEstimator& pe = joint;
  std::vector<double> points = {0.5, 0.35, 1, 0.01, 0.0, 2, 0.99, 1.0, 0}, lp;
  pe.log_pdf(points, 3, lp);
  for (std::size_t i = 0; i < 3; ++i) {
    long double sum = 0;
    for (std::size_t k = 0; k < pe.n_components(); ++k) {
      double a = truncnorm::logpdf(points[i * 3], 0, 1, pe.mus(0)[k], pe.sigmas(0)[k]);
      long double mu = pe.mus(1)[k], s = pe.sigmas(1)[k];
      long double b = ref_log_mass((points[i * 3 + 1] - 0.025L - mu) / s, (points[i * 3 + 1] + 0.025L - mu) / s) -
                      ref_log_mass((-0.025L - mu) / s, (1.025L - mu) / s);
      double c = std::log(pe.categorical_weights(2)[k * 3 + static_cast<std::size_t>(points[i * 3 + 2])]);
      sum += pe.weights()[k] * std::exp(a + b + c);
    }
    EXPECT_NEAR(lp[i], static_cast<double>(std::log(sum)), 1e-9) << i;
  }
}

TEST_F(ParzenEstimatorTest, SamplesStayInTheDomain) {
  ParzenEstimatorOptions mv;
  mv.multivariate = true;
  ParzenEstimator pe = fit({Distribution::make_float(1e-4, 1, true), Distribution::make_int(2, 20, false, 3),
                            Distribution::make_int(1, 1000, true), Distribution::make_categorical({"a", "b"})},
                           {1e-4, 2, 1, 0, 1.0, 20, 1000, 1}, mv);
  std::vector<double> out;
  pe.sample(rng_, 500, out);
  for (std::size_t i = 0; i < 500; ++i) {
    for (std::size_t d = 0; d < 4; ++d) EXPECT_TRUE(dists_[d].contains(out[i * 4 + d])) << d << ": " << out[i * 4 + d];
  }
}

TEST_F(ParzenEstimatorTest, LogNdtrIsAccurateInBothTails) {
  for (double x : {-100.0, -60.0, -38.0, -25.0, -20.0, -19.9, -8.0, -1.0, 0.0, 0.5, 3.0, 6.5, 9.0, 12.0}) {
    long double ref = std::log(ref_ndtr(x));
    double got = truncnorm::log_ndtr(x);
    EXPECT_NEAR(got, static_cast<double>(ref), 1e-14 * std::max(1.0L, std::fabs(ref))) << "x=" << x;
  }
  // Far in the upper tail log Phi(x) ~ -Phi(-x): relative accuracy there too.
  EXPECT_NEAR(truncnorm::log_ndtr(9.0) / static_cast<double>(-ref_ndtr(-9.0L)), 1.0, 1e-12);
  EXPECT_EQ(truncnorm::log_ndtr(-std::numeric_limits<double>::infinity()), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(truncnorm::log_ndtr(std::numeric_limits<double>::infinity()), 0.0);
}

TEST_F(ParzenEstimatorTest, GaussMassIsAccurateEverywhere) {
  const double cases[][2] = {{-1, 1},  {-0.1, 0.3}, {-40, -30}, {-9, -8.99}, {5, 7},
                             {30, 40}, {-3, 50},    {0, 1e-8},  {-60, 60}};
  for (const auto& c : cases) {
    long double ref = ref_log_mass(c[0], c[1]);
    EXPECT_NEAR(truncnorm::log_gauss_mass(c[0], c[1]), static_cast<double>(ref), 1e-12 * std::max(1.0L, std::fabs(ref)))
        << c[0] << ", " << c[1];
    EXPECT_NEAR(truncnorm::log_gauss_mass_central(c[0], c[1]), static_cast<double>(ref),
                1e-12 * std::max(1.0L, std::fabs(ref)))
        << c[0] << ", " << c[1];
  }
  for (double h : {0.001, 0.01, 0.05, 0.1, 0.15}) {
    // Up to |m| = 30, where the long double reference is still far from underflow.
    for (double m = -30; m <= 30; m += 0.37) {
      if (std::fabs(m) * h > truncnorm::kSeriesMaxProduct) continue;
      long double ref = ref_log_mass(m - h, m + h);
      EXPECT_NEAR(truncnorm::log_gauss_mass_series(m, h), static_cast<double>(ref), 2e-11) << m << ", " << h;
    }
  }
}

TEST_F(ParzenEstimatorTest, PpfInvertsTheTruncatedCdf) {
  const double bounds[][2] = {{-1, 1}, {-30, -25}, {25, 30}, {-0.5, 40}, {-5, 0.001}};
  for (const auto& b : bounds) {
    for (double q : {1e-12, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9}) {
      double x = truncnorm::ppf(q, b[0], b[1]);
      ASSERT_GE(x, b[0]);
      ASSERT_LE(x, b[1]);
      // Fraction of the truncated mass below x, in log space for the far tails.
      long double below = ref_log_mass(b[0], x) - ref_log_mass(b[0], b[1]);
      EXPECT_NEAR(static_cast<double>(std::exp(below)), q, 1e-9 * std::max(q, 1e-3))
          << b[0] << " " << b[1] << " q=" << q;
    }
    EXPECT_EQ(truncnorm::ppf(0, b[0], b[1]), b[0]);
    EXPECT_EQ(truncnorm::ppf(1, b[0], b[1]), b[1]);
  }
}

}  // namespace
}  // namespace nasforge
