#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/test_functions.h"
#include "evaluators/fake_trial.h"
#include "testing.h"

namespace nasforge::testing {
namespace {

using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;

class FunctionObjectiveTest : public NasforgeTest {
 protected:
  // A space with float parameters x0..x{dim-1} over a wide range.
  static SearchSpace xs(int dim) {
    std::string yaml;
    for (int i = 0; i < dim; ++i) yaml += "x" + std::to_string(i) + ": {type: float, low: -40, high: 40}\n";
    return parse_space(yaml);
  }

  static ParamMap point(const std::vector<double>& x) {
    ParamMap p;
    for (std::size_t i = 0; i < x.size(); ++i) p["x" + std::to_string(i)] = x[i];
    return p;
  }

  static double eval(const std::string& yaml, const std::vector<double>& x, std::uint64_t seed = 1) {
    auto objective = build_objective(yaml, xs(static_cast<int>(x.size())));
    FakeTrial trial(point(x), seed);
    std::vector<double> values = objective->evaluate(trial);
    EXPECT_EQ(values.size(), 1u);
    return values.at(0);
  }

  static std::string config_error(const std::string& yaml, const SearchSpace& space, std::size_t n_objectives = 1) {
    try {
      build_objective(yaml, space, n_objectives);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for " << yaml;
    return "";
  }
};

struct KnownValue {
  std::string yaml;
  std::vector<double> x;
  double expected;
  double tolerance;
};

class FunctionValueTest : public FunctionObjectiveTest, public ::testing::WithParamInterface<KnownValue> {};

TEST_P(FunctionValueTest, MatchesKnownValue) {
  const KnownValue& c = GetParam();
  EXPECT_NEAR(eval(c.yaml, c.x), c.expected, c.tolerance) << c.yaml;
}

// Optima are the published ones; the other points are worked out by hand from the definitions.
INSTANTIATE_TEST_SUITE_P(
    Functions, FunctionValueTest,
    ::testing::Values(
        KnownValue{"{kind: function, name: branin}", {kPi, 2.275}, 0.397887, 1e-6},
        KnownValue{"{kind: function, name: branin}", {-kPi, 12.275}, 0.397887, 1e-6},
        KnownValue{"{kind: function, name: branin}", {9.42478, 2.475}, 0.397887, 1e-6},
        // (0 - 0 + 0 - 6)^2 + 10 (1 - 1/(8 pi)) cos 0 + 10
        KnownValue{"{kind: function, name: branin}", {0, 0}, 56 - 10 / (8 * kPi), 1e-9},
        KnownValue{"{kind: function, name: hartmann6}",
                   {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573},
                   -3.32237,
                   1e-5},
        // Only the a_4 term matters at the origin: -(1.0 e^-3.8364... + ...); evaluated independently in Python.
        KnownValue{"{kind: function, name: hartmann6}", {0, 0, 0, 0, 0, 0}, -0.00508911288366444, 1e-12},
        KnownValue{"{kind: function, name: rosenbrock}", {1, 1}, 0, 0},
        KnownValue{"{kind: function, name: rosenbrock, dim: 4}", {1, 1, 1, 1}, 0, 0},
        // 100 (1 - 2^2)^2 + (1 - 2)^2
        KnownValue{"{kind: function, name: rosenbrock}", {2, 1}, 901, 1e-12},
        // Two terms of (1 - 0)^2.
        KnownValue{"{kind: function, name: rosenbrock, dim: 3}", {0, 0, 0}, 2, 1e-12},
        KnownValue{"{kind: function, name: ackley}", {0, 0}, 0, 1e-12},
        KnownValue{"{kind: function, name: ackley, dim: 5}", {0, 0, 0, 0, 0}, 0, 1e-12},
        // cos(2 pi) = 1 cancels e, leaving 20 - 20 e^-0.2.
        KnownValue{"{kind: function, name: ackley}", {1, 1}, 20 - 20 * std::exp(-0.2), 1e-12}));

TEST_F(FunctionObjectiveTest, CatalogueOptimaAreAttained) {
  EXPECT_NEAR(branin({kPi, 2.275}), 0.397887, 1e-6);
  for (const auto& f : test_functions()) {
    std::vector<double> at;
    if (f.name == "branin") at = {kPi, 2.275};
    if (f.name == "hartmann6") at = {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573};
    if (f.name == "rosenbrock") at = {1, 1, 1};
    if (f.name == "ackley") at = {0, 0, 0};
    ASSERT_FALSE(at.empty()) << f.name;
    EXPECT_NEAR(f.evaluate(at), f.optimum, 1e-5) << f.name;
  }
}

TEST_F(FunctionObjectiveTest, NoisyVariantIsSeededGaussianAroundClean) {
  const std::vector<double> x = {1.0, 2.0};
  const double clean = eval("{kind: function, name: branin}", x);
  const std::string noisy = "{kind: function, name: noisy_branin, noise_std: 0.5}";
  EXPECT_DOUBLE_EQ(eval(noisy, x, 7), eval(noisy, x, 7));
  EXPECT_NE(eval(noisy, x, 7), eval(noisy, x, 8));
  EXPECT_NE(eval(noisy, x, 7), clean);

  // The noise should be centred with the configured spread.
  auto objective = build_objective(noisy, xs(2));
  const int n = 400;
  double sum = 0, sum_sq = 0;
  for (int seed = 0; seed < n; ++seed) {
    FakeTrial trial(point(x), static_cast<std::uint64_t>(seed) * 7919 + 3);
    double d = objective->evaluate(trial)[0] - clean;
    sum += d;
    sum_sq += d * d;
  }
  double mean = sum / n;
  double sd = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_LT(std::abs(mean), 4 * 0.5 / std::sqrt(n));
  EXPECT_NEAR(sd, 0.5, 0.1);
}

TEST_F(FunctionObjectiveTest, ZeroNoiseEqualsClean) {
  const std::vector<double> x = {0.3, 0.4, 0.5};
  EXPECT_DOUBLE_EQ(eval("{kind: function, name: noisy_ackley, dim: 3, noise_std: 0}", x, 5),
                   eval("{kind: function, name: ackley, dim: 3}", x, 5));
}

TEST_F(FunctionObjectiveTest, DefaultNoiseIsSmall) {
  const std::vector<double> x = {1, 1};
  double clean = eval("{kind: function, name: rosenbrock}", x);
  double noisy = eval("{kind: function, name: noisy_rosenbrock}", x, 11);
  EXPECT_NE(noisy, clean);
  EXPECT_LT(std::abs(noisy - clean), 0.1 * 6);
}

TEST_F(FunctionObjectiveTest, StepsReportDecreasingCurveEndingAtValue) {
  auto objective = build_objective("{kind: function, name: branin, steps: 5}", xs(2));
  FakeTrial trial(point({0, 0}));
  double value = objective->evaluate(trial)[0];
  ASSERT_EQ(trial.reports.size(), 5u);
  for (std::size_t i = 0; i < trial.reports.size(); ++i) EXPECT_EQ(trial.reports[i].first, static_cast<int>(i));
  for (std::size_t i = 1; i < trial.reports.size(); ++i)
    EXPECT_LT(trial.reports[i].second, trial.reports[i - 1].second);
  EXPECT_DOUBLE_EQ(trial.reports.back().second, value);
  EXPECT_EQ(trial.prune_checks, 5);
}

TEST_F(FunctionObjectiveTest, BetterConfigurationHasBetterCurveAtEveryStep) {
  auto objective = build_objective("{kind: function, name: hartmann6, steps: 4}", xs(6));
  FakeTrial good(point({0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}));
  FakeTrial bad(point({0.9, 0.9, 0.9, 0.9, 0.9, 0.9}));
  objective->evaluate(good);
  objective->evaluate(bad);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_LT(good.reports[i].second, bad.reports[i].second) << i;
}

TEST_F(FunctionObjectiveTest, PrunesWhenTold) {
  auto objective = build_objective("{kind: function, name: rosenbrock, steps: 10}", xs(2));
  FakeTrial trial(point({0.5, 0.5}));
  trial.prune_after_reports = 3;
  EXPECT_THROW(objective->evaluate(trial), TrialPruned);
  EXPECT_EQ(trial.reports.size(), 3u);
}

TEST_F(FunctionObjectiveTest, SleepHonoursStopRequest) {
  auto objective = build_objective("{kind: function, name: branin, sleep_ms: 600000}", xs(2));
  FakeTrial trial(point({0, 0}));
  trial.stop = true;
  EXPECT_THROW(objective->evaluate(trial), Interrupted);
}

TEST_F(FunctionObjectiveTest, UnknownNameSuggestsNearest) {
  std::string msg = config_error("{kind: function, name: branni}", xs(2));
  EXPECT_THAT(msg, HasSubstr("'branni'"));
  EXPECT_THAT(msg, HasSubstr("did you mean 'branin'"));
  EXPECT_THAT(msg, HasSubstr("noisy_hartmann6"));
}

TEST_F(FunctionObjectiveTest, DimensionMustBeAtLeastTwo) {
  EXPECT_THAT(config_error("{kind: function, name: rosenbrock, dim: 1}", xs(2)), HasSubstr("at least 2, got 1"));
  EXPECT_THAT(config_error("{kind: function, name: branin, dim: 3}", xs(3)), HasSubstr("fixed dimension of 2"));
}

TEST_F(FunctionObjectiveTest, MissingParametersAreListed) {
  SearchSpace space = parse_space("a: {type: float, low: 0, high: 1}\nb: {type: int, low: 0, high: 3}\n");
  std::string msg = config_error("{kind: function, name: branin}", space);
  EXPECT_THAT(msg, HasSubstr("function branin needs parameters x0, x1 in the space"));
  EXPECT_THAT(msg, HasSubstr("the space has: a, b"));
  EXPECT_THAT(config_error("{kind: function, name: ackley, dim: 3}", xs(2)), HasSubstr("missing: x2"));
}

TEST_F(FunctionObjectiveTest, ConditionalParameterItNeedsIsRefused) {
  // It validated, and then every trial where x1 was inactive failed.
  SearchSpace space =
      parse_space("x0: {type: float, low: -5, high: 10}\nx1: {type: float, low: 0, high: 15, when: {x0: 0}}\n");
  std::string msg = config_error("{kind: function, name: branin}", space);
  EXPECT_THAT(msg, HasSubstr("key 'name'"));
  EXPECT_THAT(msg, HasSubstr("needs 'x1' in every trial, but it is conditional"));
}

TEST_F(FunctionObjectiveTest, RejectsNonNumericParameterAndBadKeys) {
  SearchSpace space = parse_space("x0: [a, b]\nx1: {type: float, low: 0, high: 1}\n");
  EXPECT_THAT(config_error("{kind: function, name: branin}", space), HasSubstr("needs numeric parameters"));
  EXPECT_THAT(config_error("{kind: function, name: branin, noise_std: 0.2}", xs(2)), HasSubstr("noisy_branin"));
  EXPECT_THAT(config_error("{kind: function, name: noisy_branin, noise_std: -1}", xs(2)), HasSubstr("got -1"));
  EXPECT_THAT(config_error("{kind: function, name: branin, steps: -2}", xs(2)), HasSubstr("got -2"));
  EXPECT_THAT(config_error("{kind: function, name: branin, stpes: 2}", xs(2)), HasSubstr("did you mean 'steps'"));
  EXPECT_THAT(config_error("{kind: function, name: branin}", xs(2), 2), HasSubstr("2 directions"));
}

TEST_F(FunctionObjectiveTest, NumericCategoricalParametersWork) {
  SearchSpace space = parse_space("x0: [1, 2]\nx1: {type: int, low: 0, high: 3}\n");
  auto objective = build_objective("{kind: function, name: rosenbrock}", space);
  FakeTrial trial(ParamMap{{"x0", 2}, {"x1", std::int64_t{1}}});
  EXPECT_DOUBLE_EQ(objective->evaluate(trial)[0], 901);
}

}  // namespace
}  // namespace nasforge::testing
