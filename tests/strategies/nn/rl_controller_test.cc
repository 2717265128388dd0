#include "strategies/nn/rl_controller.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "core/config.h"
#include "evaluators/objective.h"
#include "storage/storage.h"
#include "search/study.h"
#include "spaces/architecture.h"
#include "spaces/nn/graph_module.h"
#include "strategies/random_sampler.h"
#include "tests/strategies/sampler_testing.h"

namespace nasforge::testing {
namespace {

class RlControllerTest : public SamplerTest {
 protected:
  void SetUp() override {
    SamplerTest::SetUp();
    seed_torch(kTestSeed);
  }

  static RlOptions options(std::uint64_t seed = 0) {
    RlOptions o;
    o.seed = seed;
    return o;
  }

  // A mixed space: log float, int, stepped float, categorical and a child active for one parent value.
  void make_mixed_space() {
    space_.add(param("lr", Distribution::make_float(1e-4, 1e-1, true)));
    space_.add(param("units", Distribution::make_int(8, 512, true)));
    space_.add(param("layers", Distribution::make_int(1, 4)));
    space_.add(param("dropout", Distribution::make_float(0.0, 0.5, false, 0.05)));
    space_.add(param("opt", Distribution::make_categorical({"sgd", "adam"})));
    space_.add(param("momentum", Distribution::make_float(0.0, 0.99), {{"opt", {"sgd"}}}));
  }
};

TEST_F(RlControllerTest, RefusesOptionsTheStudyFileWouldRefuse) {
  space_.add(param("arm", Distribution::make_categorical({"a", "b"})));
  RlOptions o = options();
  o.hidden_size = 5000;  // the YAML allows 1..4096
  EXPECT_THROW(RlController(o, space_), ValueError);
  o = options();
  o.baseline_decay = 1;  // [0, 1)
  EXPECT_THROW(RlController(o, space_), ValueError);
  EXPECT_NO_THROW(RlController(options(), space_));
}

TEST_F(RlControllerTest, ReinforceGradientHasTheSignOfTheAdvantage) {
  space_.add(param("arm", Distribution::make_categorical({"a", "b", "c"})));
  RlOptions o = options();
  o.entropy_weight = 0;  // the policy-gradient term alone
  const ParamMap pick{{"arm", "c"}};
  for (double advantage : {1.0, -1.0}) {
    RlController controller(o, space_);
    RlRollout r = *controller.score(pick);
    ASSERT_EQ(r.logits.size(), 1u);
    r.logits[0].retain_grad();
    controller.loss(r, advantage).backward();
    torch::Tensor g = r.logits[0].grad();
    // d(-A log p_c)/dz_k = -A (1[k = c] - p_k): against the advantage for the chosen arm, with it for the others.
    EXPECT_EQ(g[2].item<double>() < 0, advantage > 0) << "advantage " << advantage;
    EXPECT_EQ(g[0].item<double>() > 0, advantage > 0) << "advantage " << advantage;
    EXPECT_EQ(g[1].item<double>() > 0, advantage > 0) << "advantage " << advantage;

    torch::Tensor before = controller.probabilities(pick)[0];
    controller.step(*controller.score(pick), advantage);
    torch::Tensor after = controller.probabilities(pick)[0];
    const double sign = advantage > 0 ? 1 : -1;
    EXPECT_GT(sign * (after[2] - before[2]).item<double>(), 0) << "advantage " << advantage;
    EXPECT_LT(sign * (after[0] - before[0]).item<double>(), 0) << "advantage " << advantage;
    EXPECT_LT(sign * (after[1] - before[1]).item<double>(), 0) << "advantage " << advantage;
  }
}

TEST_F(RlControllerTest, LearnsANoisyBandit) {
  space_.add(param("arm", Distribution::make_categorical({0, 1, 2, 3, 4})));
  directions_ = {StudyDirection::kMaximize};
  auto sampler = make_rl_sampler_nn(options(3), space_);
  std::normal_distribution<double> noise(0.0, 0.5);
  for (int i = 0; i < 60; ++i) {
    ParamMap p = ask(*sampler);
    record(p, TrialState::kComplete, {static_cast<double>(p.at("arm").as_int()) + noise(rng_)});
  }
  int best = 0;
  for (int i = 0; i < 20; ++i) best += ask(*sampler).at("arm").as_int() == 4;
  EXPECT_GE(best, 12) << "chance is 4 of 20";
}

TEST_F(RlControllerTest, DiscretizesNumbersOntoTheirDomains) {
  make_mixed_space();
  RlController controller(options(), space_);
  const std::vector<double>& lr = controller.bins(0);
  ASSERT_EQ(lr.size(), 10u);
  EXPECT_DOUBLE_EQ(lr.front(), 1e-4);
  EXPECT_NEAR(lr.back(), 1e-1, 1e-12);
  EXPECT_NEAR(lr[1] / lr[0], lr[9] / lr[8], 1e-9) << "log-spaced";
  EXPECT_EQ(controller.bins(2), (std::vector<double>{1, 2, 3, 4})) << "few ints: the values themselves";
  for (double d : controller.bins(3)) EXPECT_TRUE(space_.params()[3].distribution.contains(d)) << d;
  EXPECT_EQ(controller.bins(4).size(), 2u);
}

TEST_F(RlControllerTest, ProposesValidParamsForAMixedSpaceAndKeepsFixedOnes) {
  make_mixed_space();
  auto sampler = make_rl_sampler_nn(options(1), space_);
  std::map<std::string, int> opts;
  for (int i = 0; i < 40; ++i) {
    ParamMap p = ask(*sampler);
    ASSERT_NO_THROW(space_.validate(p, true)) << "trial " << i;
    EXPECT_EQ(p.count("momentum"), p.at("opt") == ParamValue("sgd") ? 1u : 0u);
    ++opts[p.at("opt").as_string()];
    record(p, TrialState::kComplete, {std::log(p.at("lr").as_double()) + p.at("layers").as_double()});
  }
  EXPECT_EQ(opts.size(), 2u) << "both optimisers proposed";
  // Fixed values are kept as given, even off the bins, and condition the decisions after them.
  ParamMap p = ask(*sampler, {{"lr", 0.0123}, {"opt", "adam"}});
  EXPECT_EQ(p.at("lr"), ParamValue(0.0123));
  EXPECT_EQ(p.at("opt"), ParamValue("adam"));
  EXPECT_EQ(p.count("momentum"), 0u);
  EXPECT_NO_THROW(space_.validate(p, true));
  p = ask(*sampler, {{"opt", "sgd"}});
  EXPECT_EQ(p.count("momentum"), 1u);
  EXPECT_NO_THROW(space_.validate(p, true));
}

TEST_F(RlControllerTest, ProposesValidNasBench201Cells) {
  auto arch = make_architecture(ConfigNode::parse_string("type: cell\n", "arch.yaml"));
  space_.set_architecture(arch);
  auto sampler = make_rl_sampler_nn(options(2), space_);
  for (int i = 0; i < 30; ++i) {
    ParamMap p = ask(*sampler);
    ASSERT_NO_THROW(space_.validate(p, true)) << "trial " << i;
    EXPECT_EQ(p.size(), 6u);
    record(p, TrialState::kComplete, {static_cast<double>(i % 7)});
  }
}

TEST_F(RlControllerTest, ReplaysTheSameUpdatesFromTheHistory) {
  make_mixed_space();
  directions_ = {StudyDirection::kMinimize};
  auto first = make_rl_sampler_nn(options(5), space_);
  // Half its own proposals, half foreign ones (enqueued or from another worker), plus unfinished trials.
  RandomSampler other(9);
  for (int i = 0; i < 30; ++i) {
    ParamMap p = i % 2 ? ask(*first) : ask(other);
    TrialState state = i % 7 == 3 ? TrialState::kFail : TrialState::kComplete;
    record(p, state,
           state == TrialState::kComplete ? std::vector<double>{p.at("dropout").as_double()} : std::vector<double>{});
  }
  auto resumed = make_rl_sampler_nn(options(5), space_);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask(*first), ask(*resumed)) << "proposal " << i;
  auto other_seed = make_rl_sampler_nn(options(6), space_);
  bool differs = false;
  for (int i = 0; i < 5; ++i) differs |= ask(*other_seed) != ask(*first);
  EXPECT_TRUE(differs) << "the seed matters";
}

TEST_F(RlControllerTest, IgnoresTheScaleAndOffsetOfTheObjective) {
  make_mixed_space();
  RandomSampler other(4);
  RlController fresh(options(7), space_), unit(options(7), space_), tiny(options(7), space_);
  ParamMap probe;
  for (int i = 0; i < 30; ++i) {
    probe = ask(other);
    const double reward = -std::log(probe.at("lr").as_double()) - probe.at("layers").as_double();
    unit.learn(probe, reward);
    // An HPOLib-like scale (values ~1e-4) and an offset: advantages are normalised, so the same updates happen.
    tiny.learn(probe, 1e-4 * reward + 3);
  }
  std::vector<torch::Tensor> p0 = fresh.probabilities(probe), p1 = unit.probabilities(probe),
                             p2 = tiny.probabilities(probe);
  double learnt = 0;
  for (std::size_t d = 0; d < p0.size(); ++d) {
    EXPECT_TRUE(torch::allclose(p1[d], p2[d], 1e-4, 1e-6)) << "decision " << d;
    learnt = std::max(learnt, (p1[d] - p0[d]).abs().max().item<double>());
  }
  EXPECT_GT(learnt, 0.02) << "the updates changed the policy";
}

// NAS-Bench-201 CIFAR-10 (noisy single-seed validation accuracy per query): the controller's best-found accuracy
// after 100 queries beats random search's on average over five seeds.
TEST_F(RlControllerTest, BeatsRandomSearchOnNasBench201) {
  const std::string table = std::string(NASFORGE_SOURCE_DIR) + "/data/benchmarks/nasbench201/cifar10_valid.csv.gz";
  if (!std::filesystem::exists(table)) GTEST_SKIP() << "no " << table;
  std::string space_yaml;
  for (const char* edge : {"edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"}) {
    space_yaml += std::string(edge) + ": [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]\n";
  }
  SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string(space_yaml, "space.yaml"));
  auto objective = make_objective(
      ConfigNode::parse_string("kind: tabular\ntable: '" + table + "'\nkey: nasbench201\naggregate: random\n",
                               "objective.yaml"),
      space, 1, tmp_.string());
  auto best_of = [&](const std::string& strategy, std::uint64_t seed) {
    Study study = Study::create(open_storage("memory"), "nb201", {StudyDirection::kMaximize});
    study.set_space(space);
    study.set_sampler(
        make_sampler(ConfigNode::parse_string("name: " + strategy, "strategy.yaml"), space, seed, StrategyEnv{}));
    study.set_options(StudyOptions().with_seed(seed));
    double best = -1;
    for (int i = 0; i < 100; ++i) {
      std::optional<Trial> trial = study.ask();
      double v = objective->evaluate(*trial).at(0);
      study.tell(*trial, {v});
      best = std::max(best, v);
    }
    return best;
  };
  double rl = 0, random = 0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    rl += best_of("rl", seed) / 5;
    random += best_of("random", seed) / 5;
  }
  EXPECT_GT(rl, random) << "mean best accuracy over 5 seeds";
}

}  // namespace
}  // namespace nasforge::testing
