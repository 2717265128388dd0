#include "strategies/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "strategies/random_sampler.h"
#include "strategies/registry.h"
#include "strategies/sampler_util.h"
#include "tests/strategies/sampler_testing.h"
#include "tests/testing.h"

namespace nasforge {
namespace {

using testing::param;

class TpeSamplerTest : public testing::SamplerTest {
 protected:
  // The study loop in miniature: ask, evaluate, record COMPLETE.
  std::vector<ParamMap> run(Sampler& sampler, int n, const std::function<std::vector<double>(const ParamMap&)>& f) {
    std::vector<ParamMap> asked;
    for (int i = 0; i < n; ++i) {
      ParamMap p = ask(sampler);
      EXPECT_NO_THROW(space_.validate(p, true)) << "trial " << i;
      record(p, TrialState::kComplete, f(p));
      asked.push_back(p);
    }
    return asked;
  }

  static TpeSamplerOptions options(std::uint64_t seed, bool multivariate = true) {
    TpeSamplerOptions o;
    o.seed = seed;
    o.multivariate = multivariate;
    o.group = multivariate;
    return o;
  }
};

TEST_F(TpeSamplerTest, GammaAndWeightsFollowOptunaDefaults) {
  EXPECT_EQ(tpe_gamma(0, std::nullopt), 0u);
  EXPECT_EQ(tpe_gamma(10, std::nullopt), 1u);
  EXPECT_EQ(tpe_gamma(11, std::nullopt), 2u);
  EXPECT_EQ(tpe_gamma(100, std::nullopt), 10u);
  EXPECT_EQ(tpe_gamma(1000, std::nullopt), 25u);
  EXPECT_EQ(tpe_gamma(100, 0.15), 15u);
  EXPECT_EQ(tpe_gamma(1000, 0.5), 25u);

  EXPECT_EQ(tpe_weights(10, TpeWeights::kRamp), std::vector<double>(10, 1.0));
  std::vector<double> w = tpe_weights(27, TpeWeights::kRamp);  // linspace(1/27, 1, 2) + 25 ones
  ASSERT_EQ(w.size(), 27u);
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 27);
  EXPECT_DOUBLE_EQ(w[1], 1.0);
  EXPECT_EQ(std::count(w.begin(), w.end(), 1.0), 26);
  EXPECT_EQ(tpe_weights(27, TpeWeights::kUniform), std::vector<double>(27, 1.0));
}

TEST_F(TpeSamplerTest, HypervolumeOfHandComputedFronts) {
  // Staircase (1,3), (2,2), (3,1) under (4,4): 3*1 + 2*1 + 1*1 = 6; a dominated point adds nothing.
  EXPECT_DOUBLE_EQ(hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}}, {4, 4}), 6.0);
  // Two boxes in 3-D: 0.5 + 0.5 - their overlap, the box of (0.5, 0, 0.5) = 0.25.
  EXPECT_DOUBLE_EQ(hypervolume({{0, 0, 0.5}, {0.5, 0, 0}}, {1, 1, 1}), 0.75);
  // Three points in 3-D by inclusion-exclusion: boxes of 0.25, pairwise and triple overlaps of 0.125.
  EXPECT_DOUBLE_EQ(hypervolume({{0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}}, {1, 1, 1}), 3 * 0.25 - 3 * 0.125 + 0.125);
  EXPECT_DOUBLE_EQ(hypervolume({{5, 5}}, {4, 4}), 0.0);
}

TEST_F(TpeSamplerTest, SameSeedSameHistorySameProposals) {
  space_.add(param("x", Distribution::make_float(-3, 3)));
  space_.add(param("n", Distribution::make_int(1, 64, true)));
  space_.add(param("act", Distribution::make_categorical({"relu", "tanh", "gelu"})));
  auto f = [](const ParamMap& p) {
    double x = p.at("x").as_double();
    return std::vector<double>{x * x + std::log(static_cast<double>(p.at("n").as_int())) +
                               (p.at("act") == ParamValue("gelu") ? 0.0 : 1.0)};
  };
  TpeSampler first(options(17), 1);
  std::vector<ParamMap> a = run(first, 30, f);
  std::vector<FrozenTrial> history = trials_;
  trials_.clear();
  TpeSampler second(options(17), 1);
  std::vector<ParamMap> b = run(second, 30, f);
  EXPECT_EQ(a, b);
  trials_.clear();
  TpeSampler other(options(18), 1);
  std::vector<ParamMap> c = run(other, 30, f);
  EXPECT_NE(a, c);
  // A fresh sampler given the same finished history proposes the same next point.
  trials_ = history;
  TpeSampler again1(options(5), 1), again2(options(5), 1);
  EXPECT_EQ(ask(again1), ask(again2));
}

TEST_F(TpeSamplerTest, StartupIsRandomAndCountsCompleteAndPrunedTrials) {
  space_.add(param("x", Distribution::make_float(0, 1)));
  for (int i = 0; i < 9; ++i) record({{"x", 0.1 * i}}, TrialState::kComplete, {0.1 * i});
  FrozenTrial& failed = record({{"x", 0.95}}, TrialState::kFail);
  // 9 usable trials < 10: the proposal is the internal random sampler's (derived seed).
  TpeSampler tpe(options(3), 1);
  RandomSampler random(derive_seed(3, 1));
  EXPECT_EQ(ask(tpe), ask(random));
  // A PRUNED trial counts towards the 10 (FAIL does not): now TPE models and the proposal differs.
  failed.state = TrialState::kPruned;
  failed.intermediate_values = {{0, 5.0}};
  TpeSampler tpe2(options(3), 1);
  RandomSampler random2(derive_seed(3, 1));
  EXPECT_NE(ask(tpe2), ask(random2));
}

TEST_F(TpeSamplerTest, ConcentratesNearTheOptimum) {
  space_.add(param("x", Distribution::make_float(-10, 10)));
  auto f = [](const ParamMap& p) {
    double x = p.at("x").as_double() - 2.5;
    return std::vector<double>{x * x};
  };
  auto median_distance = [](const std::vector<ParamMap>& asked) {
    std::vector<double> d;
    for (std::size_t i = asked.size() - 20; i < asked.size(); ++i)
      d.push_back(std::fabs(asked[i].at("x").as_double() - 2.5));
    std::nth_element(d.begin(), d.begin() + 10, d.end());
    return d[10];
  };
  for (bool multivariate : {false, true}) {
    trials_.clear();
    TpeSampler tpe(options(4, multivariate), 1);
    double tpe_distance = median_distance(run(tpe, 80, f));
    trials_.clear();
    RandomSampler random(4);
    double random_distance = median_distance(run(random, 80, f));
    // Random's median distance is about 5 here; TPE's last proposals cluster around 2.5.
    EXPECT_LT(tpe_distance, 0.35 * random_distance) << "multivariate=" << multivariate;
    EXPECT_LT(tpe_distance, 2.0) << "multivariate=" << multivariate;
  }
}

TEST_F(TpeSamplerTest, MaximizeFollowsTheDirection) {
  space_.add(param("x", Distribution::make_float(0, 1)));
  directions_ = {StudyDirection::kMaximize};
  TpeSampler tpe(options(6), 1);
  std::vector<ParamMap> asked =
      run(tpe, 60, [](const ParamMap& p) { return std::vector<double>{p.at("x").as_double()}; });
  double mean = 0;
  for (std::size_t i = 40; i < 60; ++i) mean += asked[i].at("x").as_double() / 20;
  EXPECT_GT(mean, 0.75);
}

TEST_F(TpeSamplerTest, ConstantLiarSpreadsParallelProposals) {
  space_.add(param("x", Distribution::make_float(-5, 5)));
  space_.add(param("y", Distribution::make_float(-5, 5)));
  auto f = [](const ParamMap& p) {
    double x = p.at("x").as_double() - 1, y = p.at("y").as_double() + 1;
    return std::vector<double>{x * x + y * y};
  };
  TpeSampler warmup(options(8), 1);
  run(warmup, 30, f);
  const std::vector<FrozenTrial> history = trials_;
  int changed_with_liar = 0, changed_without = 0;
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    for (bool liar : {false, true}) {
      TpeSamplerOptions o = options(seed);
      o.constant_liar = liar;
      trials_ = history;
      TpeSampler a(o, 1);
      ParamMap first = ask(a);
      // A second worker asks while the first proposal is still RUNNING; same seed, so only the lie can differ.
      record(first, TrialState::kRunning);
      TpeSampler b(o, 1);
      ParamMap second = ask(b);
      (liar ? changed_with_liar : changed_without) += first != second ? 1 : 0;
    }
  }
  EXPECT_EQ(changed_without, 0);
  EXPECT_GE(changed_with_liar, 5);
}

TEST_F(TpeSamplerTest, HandlesConditionalParameters) {
  space_.add(param("opt", Distribution::make_categorical({"sgd", "adam"})));
  space_.add(param("lr", Distribution::make_float(1e-4, 1, true), {{"opt", {"sgd"}}}));
  space_.add(param("momentum", Distribution::make_float(0, 0.99), {{"opt", {"sgd"}}}));
  space_.add(param("beta", Distribution::make_float(0.8, 0.999), {{"opt", {"adam"}}}));
  space_.add(param("layers", Distribution::make_int(1, 4)));
  auto f = [](const ParamMap& p) {
    double v = static_cast<double>(p.at("layers").as_int());
    if (p.at("opt") == ParamValue("sgd")) {
      v += std::fabs(std::log10(p.at("lr").as_double()) + 2) + p.at("momentum").as_double();
    } else {
      v += 3 * (1 - p.at("beta").as_double());
    }
    return std::vector<double>{v};
  };
  for (bool multivariate : {false, true}) {
    trials_.clear();
    TpeSampler tpe(options(9, multivariate), 1);
    std::vector<ParamMap> asked = run(tpe, 60, f);  // run() validates every proposal against the space
    int sgd = 0;
    for (std::size_t i = 10; i < asked.size(); ++i) sgd += asked[i].at("opt") == ParamValue("sgd") ? 1 : 0;
    EXPECT_GT(sgd, 0) << "multivariate=" << multivariate;
    EXPECT_LT(sgd, 50) << "multivariate=" << multivariate;
  }
}

TEST_F(TpeSamplerTest, PrunedRunningAndFailedTrialsInHistory) {
  space_.add(param("x", Distribution::make_float(0, 10)));
  space_.add(param("k", Distribution::make_int(0, 20, false, 2)));
  for (int i = 0; i < 12; ++i) {
    ParamMap p = {{"x", 0.8 * i}, {"k", 2 * (i % 11)}};
    switch (i % 4) {
      case 0:
        record(p, TrialState::kComplete, {static_cast<double>(i)});
        break;
      case 1:
        record(p, TrialState::kPruned).intermediate_values = {{0, 3.0}, {4, 1.0 * i}};
        break;
      case 2:
        record(p, TrialState::kPruned);  // pruned before any report
        break;
      default:
        record(p, TrialState::kFail);
    }
  }
  record({{"x", 9.9}, {"k", 20}}, TrialState::kRunning);
  record({}, TrialState::kRunning);  // the trial being asked for, no parameters yet
  record({{"x", 5.0}, {"k", 4}}, TrialState::kWaiting);
  for (bool liar : {false, true}) {
    TpeSamplerOptions o = options(10, false);
    o.n_startup_trials = 4;
    o.constant_liar = liar;
    TpeSampler tpe(o, 1);
    for (int i = 0; i < 5; ++i) EXPECT_NO_THROW(space_.validate(ask(tpe), true));
  }
}

TEST_F(TpeSamplerTest, MultiObjectiveRunsAndImproves) {
  space_.add(param("x", Distribution::make_float(0, 1)));
  space_.add(param("y", Distribution::make_float(0, 1)));
  space_.add(param("c", Distribution::make_categorical({"a", "b"})));
  directions_ = {StudyDirection::kMinimize, StudyDirection::kMaximize};
  // Trade-off between x and 1 - x along y = 0; c = "b" is strictly worse.
  auto f = [](const ParamMap& p) {
    double x = p.at("x").as_double(), y = p.at("y").as_double(), pen = p.at("c") == ParamValue("b") ? 0.5 : 0;
    return std::vector<double>{x + y + pen, (1 - x) - y - pen};
  };
  for (bool multivariate : {false, true}) {
    trials_.clear();
    TpeSampler tpe(options(12, multivariate), 2);
    std::vector<ParamMap> asked = run(tpe, 60, f);  // run() validates every proposal
    if (multivariate) continue;
    // The independent default (for this space) moves towards the front: small y, c = "a".
    double late_y = 0;
    int late_a = 0;
    for (std::size_t i = 40; i < 60; ++i) {
      late_y += asked[i].at("y").as_double() / 20;
      late_a += asked[i].at("c") == ParamValue("a") ? 1 : 0;
    }
    EXPECT_LT(late_y, 0.4);  // uniform would average 0.5
    EXPECT_GT(late_a, 12);   // uniform would give 10
  }
  // Pruned and running trials are ignored with several objectives.
  record({{"x", 0.5}, {"y", 0.5}, {"c", "a"}}, TrialState::kPruned);
  record({{"x", 0.5}, {"y", 0.5}, {"c", "a"}}, TrialState::kRunning);
  TpeSamplerOptions o = options(13);
  o.constant_liar = true;
  TpeSampler tpe(o, 2);
  EXPECT_NO_THROW(space_.validate(ask(tpe), true));
}

TEST_F(TpeSamplerTest, FixedValuesAreKept) {
  space_.add(param("opt", Distribution::make_categorical({"sgd", "adam"})));
  space_.add(param("momentum", Distribution::make_float(0, 1), {{"opt", {"sgd"}}}));
  space_.add(param("x", Distribution::make_float(0, 1)));
  TpeSampler tpe(options(14), 1);
  run(tpe, 15, [](const ParamMap& p) { return std::vector<double>{p.at("x").as_double()}; });
  ParamMap p = ask(tpe, {{"opt", "sgd"}, {"x", 0.25}});
  EXPECT_EQ(p.at("opt"), ParamValue("sgd"));
  EXPECT_EQ(p.at("x"), ParamValue(0.25));
  EXPECT_EQ(p.count("momentum"), 1u);
}

TEST_F(TpeSamplerTest, MultivariateByDefaultOnlyForCategoricalSpaces) {
  auto built = [&](const std::string& yaml) {
    std::unique_ptr<Sampler> s = make_sampler(ConfigNode::parse_string(yaml), space_, 1, StrategyEnv{});
    auto* tpe = dynamic_cast<TpeSampler*>(s.get());
    EXPECT_NE(tpe, nullptr);
    return tpe ? tpe->options() : TpeSamplerOptions();
  };
  space_.add(param("op1", Distribution::make_categorical({"conv", "pool", "skip"})));
  space_.add(param("op2", Distribution::make_categorical({"conv", "pool", "skip"})));
  EXPECT_TRUE(built("name: tpe\n").multivariate);
  EXPECT_TRUE(built("name: tpe\n").group);
  EXPECT_FALSE(built("name: tpe\nmultivariate: false\n").group);
  space_.add(param("lr", Distribution::make_float(1e-4, 1, true)));
  EXPECT_FALSE(built("name: tpe\n").multivariate);
  EXPECT_FALSE(built("name: tpe\n").normalized_kernels);
  TpeSamplerOptions mv = built("name: tpe\nmultivariate: true\nnormalized_kernels: true\n");
  EXPECT_TRUE(mv.multivariate);
  EXPECT_TRUE(mv.group);  // follows multivariate unless given
  EXPECT_TRUE(mv.normalized_kernels);
}

TEST_F(TpeSamplerTest, OptionsAreValidatedWithTheirKey) {
  space_.add(param("x", Distribution::make_float(0, 1)));
  auto build = [&](const std::string& yaml) {
    return make_sampler(ConfigNode::parse_string(yaml), space_, 1, StrategyEnv{});
  };
  EXPECT_NO_THROW(build("name: tpe\nn_startup_trials: 5\ngamma: 0.15\nweights: uniform\nconstant_liar: true\n"));
  EXPECT_NO_THROW(build("name: tpe\nmultivariate: false\n"));
  auto message = [&](const std::string& yaml) {
    try {
      build(yaml);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("name: tpe\ngamma: 1.5\n").find("gamma"), std::string::npos);
  EXPECT_NE(message("name: tpe\ngamma: 1.5\n").find("1.5"), std::string::npos);
  EXPECT_NE(message("name: tpe\nn_ei_candidates: 0\n").find("n_ei_candidates"), std::string::npos);
  EXPECT_NE(message("name: tpe\nmultivariate: false\ngroup: true\n").find("group"), std::string::npos);
  EXPECT_NE(message("name: tpe\nweights: linear\n").find("weights"), std::string::npos);
  EXPECT_NE(message("name: tpe\nprior_weight: -1\n").find("prior_weight"), std::string::npos);
}

TEST_F(TpeSamplerTest, TheConstructorRefusesWhatTheStudyFileRefuses) {
  // Only the study file capped these counts once; options built in code now meet the same rule, in the same words.
  space_.add(param("x", Distribution::make_float(0, 1)));
  struct Case {
    std::string key;
    int TpeSamplerOptions::*field;
    int value;
  };
  for (const Case& c : {Case{"n_startup_trials", &TpeSamplerOptions::n_startup_trials, 2'000'000'000},
                        Case{"n_ei_candidates", &TpeSamplerOptions::n_ei_candidates, 2'000'000}}) {
    TpeSamplerOptions o = options(1);
    o.*c.field = c.value;
    expect_same_range_error(c.key, [&] { TpeSampler(o, 1); },
                            "name: tpe\n" + c.key + ": " + std::to_string(c.value) + "\n");
  }
}

}  // namespace
}  // namespace nasforge
