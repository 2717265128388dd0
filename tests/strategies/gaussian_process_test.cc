#include "strategies/gaussian_process.h"

#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/testing.h"

namespace nasforge {
namespace {

using GaussianProcessTest = testing::NasforgeTest;

TEST_F(GaussianProcessTest, Matern52AtHandComputedDistances) {
  EXPECT_DOUBLE_EQ(matern52(0.0), 1.0);
  // (1 + sqrt5 + 5/3) e^-sqrt5 and (1 + sqrt5/2 + 5/12) e^-(sqrt5/2).
  EXPECT_NEAR(matern52(1.0), 0.5239941088318203, 1e-15);
  EXPECT_NEAR(matern52(0.5), 0.8286491424181253, 1e-15);
  EXPECT_LT(matern52(10.0), 1e-7);
}

TEST_F(GaussianProcessTest, PosteriorMatchesHandComputedTwoPointCase) {
  // Observations y = 1 at x = 0 and y = -0.5 at x = 0.5; length scale 0.5, signal variance 2, noise 0.1.
  // k(0, 0.5) = 2 m(1) = 1.0479882176636406; k(0.25, 0) = k(0.25, 0.5) = 2 m(0.5) = 1.6572982848362505.
  // K + noise I = [[2.1, k12], [k12, 2.1]], inverted by hand as [[2.1, -k12], [-k12, 2.1]] / (2.1^2 - k12^2):
  // mean = k*^T K^-1 y = 0.263231335418761, variance = 2 - k*^T K^-1 k* = 0.2549886371813268.
  Eigen::MatrixXd x(2, 1);
  x << 0.0, 0.5;
  Eigen::VectorXd y(2);
  y << 1.0, -0.5;
  GpHyperparams hp;
  hp.length_scales = Eigen::VectorXd::Constant(1, 0.5);
  hp.signal_variance = 2.0;
  hp.noise_variance = 0.1;

  Eigen::MatrixXd k = matern52_kernel(x, x, hp);
  EXPECT_NEAR(k(0, 1), 1.0479882176636406, 1e-14);
  EXPECT_NEAR(k(0, 0), 2.0, 1e-14);

  GaussianProcess gp(x, y, hp);
  Eigen::MatrixXd xs(3, 1);
  xs << 0.25, 0.0, 50.0;
  Eigen::VectorXd mean, var;
  gp.predict(xs, mean, var);
  EXPECT_NEAR(mean[0], 0.263231335418761, 1e-12);
  EXPECT_NEAR(var[0], 0.2549886371813268, 1e-12);
  // At a training point the posterior pulls towards y (noise keeps it off); far away it reverts to the prior.
  double det = 2.1 * 2.1 - 1.0479882176636406 * 1.0479882176636406;
  double a1 = (2.1 * 1.0 + 1.0479882176636406 * 0.5) / det, a2 = (-1.0479882176636406 * 1.0 - 2.1 * 0.5) / det;
  EXPECT_NEAR(mean[1], 2.0 * a1 + 1.0479882176636406 * a2, 1e-12);
  EXPECT_NEAR(mean[2], 0.0, 1e-12);
  EXPECT_NEAR(var[2], 2.0, 1e-12);
}

TEST_F(GaussianProcessTest, LogMarginalLikelihoodOfOnePoint) {
  // n = 1: -y^2 / (2 (s2 + noise)) - log(s2 + noise) / 2 - log(2 pi) / 2.
  Eigen::MatrixXd x(1, 2);
  x << 0.3, 0.7;
  Eigen::VectorXd y(1);
  y << 1.5;
  Eigen::VectorXd theta(4);
  theta << std::log(0.2), std::log(0.4), std::log(1.5), std::log(0.5);
  double expected = -1.5 * 1.5 / 4.0 - 0.5 * std::log(2.0) - 0.5 * std::log(2 * M_PI);
  EXPECT_NEAR(gp_log_marginal_likelihood(x, y, theta, nullptr), expected, 1e-12);
}

TEST_F(GaussianProcessTest, MarginalLikelihoodGradientMatchesFiniteDifferences) {
  const int n = 9, d = 3;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Eigen::MatrixXd x(n, d);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < d; ++k) x(i, k) = unit(rng_);
    y[i] = std::sin(5 * x(i, 0)) + x(i, 1) * x(i, 1) + 0.1 * unit(rng_);
  }
  Eigen::VectorXd theta(d + 2);
  theta << std::log(0.3), std::log(0.8), std::log(2.0), std::log(1.3), std::log(0.05);
  Eigen::VectorXd grad;
  double lml = gp_log_marginal_likelihood(x, y, theta, &grad);
  ASSERT_TRUE(std::isfinite(lml));
  ASSERT_EQ(grad.size(), d + 2);
  const double h = 1e-6;
  for (int j = 0; j < d + 2; ++j) {
    Eigen::VectorXd plus = theta, minus = theta;
    plus[j] += h;
    minus[j] -= h;
    double fd =
        (gp_log_marginal_likelihood(x, y, plus, nullptr) - gp_log_marginal_likelihood(x, y, minus, nullptr)) / (2 * h);
    EXPECT_NEAR(grad[j], fd, 1e-5 * (1 + std::abs(fd))) << "parameter " << j;
  }
}

TEST_F(GaussianProcessTest, LbfgsMinimizesRosenbrock) {
  auto rosen = [](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    double a = 1 - v[0], b = v[1] - v[0] * v[0];
    g.resize(2);
    g[0] = -2 * a - 400 * v[0] * b;
    g[1] = 200 * b;
    return a * a + 100 * b * b;
  };
  Eigen::VectorXd x0(2);
  x0 << -1.2, 1.0;
  Eigen::VectorXd x = minimize_lbfgs(rosen, x0, 200);
  EXPECT_NEAR(x[0], 1.0, 1e-4);
  EXPECT_NEAR(x[1], 1.0, 1e-4);
}

TEST_F(GaussianProcessTest, FittedHyperparametersPredictASmoothFunction) {
  // y = sin(6 x0) depends on the first input only: the fit should interpolate it and find the second one
  // irrelevant (a much longer length scale).
  const int n = 25;
  Eigen::MatrixXd x(n, 2);
  Eigen::VectorXd y(n);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    x(i, 0) = unit(rng_);
    x(i, 1) = unit(rng_);
    y[i] = std::sin(6 * x(i, 0));
  }
  std::mt19937_64 rng(3);
  GpHyperparams hp = fit_gp_hyperparams(x, y, rng, GpFitOptions{});
  EXPECT_GT(hp.length_scales[1], 3 * hp.length_scales[0]);
  EXPECT_LT(hp.noise_variance, 1e-2);
  GaussianProcess gp(x, y, hp);
  Eigen::MatrixXd xs(3, 2);
  xs << 0.2, 0.5, 0.5, 0.1, 0.8, 0.9;
  Eigen::VectorXd mean, var;
  gp.predict(xs, mean, var);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(mean[i], std::sin(6 * xs(i, 0)), 0.05) << "point " << i;
}

TEST_F(GaussianProcessTest, LogEiMatchesDirectEiWhereItIsNotTiny) {
  for (double mean : {-1.0, 0.0, 0.3, 2.0}) {
    for (double var : {0.01, 0.5, 4.0}) {
      double best = 0.2, sd = std::sqrt(var), z = (best - mean) / sd;
      double ei =
          (best - mean) * 0.5 * std::erfc(-z / std::sqrt(2.0)) + sd * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      if (ei < 1e-12) continue;
      EXPECT_NEAR(std::exp(log_expected_improvement(mean, var, best)), ei, 1e-10 * (1 + ei))
          << "mean " << mean << " var " << var;
    }
  }
}

TEST_F(GaussianProcessTest, LogHIsAccurateFiniteAndMonotoneInTheTail) {
  // Reference values of log(phi(z) + z Phi(z)) at 50 digits (mpmath).
  EXPECT_NEAR(log_h(-5.0), -16.744301162660990143, 1e-10);
  EXPECT_NEAR(log_h(-20.0), -206.91783850942509785, 1e-9);
  EXPECT_NEAR(log_h(-29.9), -454.7229981194962739, 1e-9);
  EXPECT_NEAR(log_h(-30.1), -460.73628739874303834, 1e-9);
  EXPECT_NEAR(log_h(-40.0), -808.29856835661996024, 1e-9);
  EXPECT_NEAR(log_h(-100.0), -5010.1295788002497923, 1e-8);
  EXPECT_NEAR(log_h(-1000.0), -500014.73445209115845, 1e-6);
  // Plain EI underflows to 0 from z ~ -38 on; log EI must stay finite and strictly increasing in z.
  double prev = -std::numeric_limits<double>::infinity();
  for (double z = -1e4; z < 10; z += (z < -100 ? 97.3 : 0.173)) {
    double v = log_h(z);
    ASSERT_TRUE(std::isfinite(v)) << "z " << z;
    ASSERT_GT(v, prev) << "z " << z;
    prev = v;
  }
  EXPECT_NEAR(log_h(std::nextafter(-30.0, 0.0)), log_h(-30.0), 1e-8);
  EXPECT_TRUE(std::isfinite(log_expected_improvement(100.0, 1e-6, 0.0)));
  EXPECT_LT(log_expected_improvement(100.0, 1e-6, 0.0), log_expected_improvement(10.0, 1e-6, 0.0));
}

TEST_F(GaussianProcessTest, RejectsMismatchedShapes) {
  Eigen::MatrixXd x(2, 1);
  x << 0.0, 1.0;
  Eigen::VectorXd y(3);
  y << 1, 2, 3;
  GpHyperparams hp;
  hp.length_scales = Eigen::VectorXd::Constant(1, 0.5);
  EXPECT_THROW(GaussianProcess(x, y, hp), ValueError);
  EXPECT_THROW(gp_log_marginal_likelihood(x, y.head(2), Eigen::VectorXd::Zero(2), nullptr), ValueError);
}

}  // namespace
}  // namespace nasforge
