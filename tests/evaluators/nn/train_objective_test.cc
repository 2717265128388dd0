#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/fake_trial.h"
#include "evaluators/train_config.h"
#include "search/runner.h"
#include "search/study.h"
#include "strategies/sampler.h"
#include "evaluators/nn/train_testing.h"

namespace nasforge {
namespace {

using testing::build_objective;
using testing::FakeTrial;
using testing::kFastSettings;

constexpr const char* kConv = "s1:conv_k3_w16";

class TrainObjectiveTest : public testing::TrainTest {};

// Bitwise equality of two doubles (EXPECT_EQ would also pass for -0 == 0; here every bit must match).
bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST_F(TrainObjectiveTest, LearnsAndReportsEveryEpoch) {
  SearchSpace space = make_space("");
  auto obj = objective("objectives: [val_accuracy, params, macs]\nepochs: 3\nbatch_size: 32\nlr: 0.1\n", space, 3);
  FakeTrial trial(params_of(space, kConv), /*seed=*/5);
  std::vector<double> values = obj->evaluate(trial);
  ASSERT_EQ(values.size(), 3u);
  // 4 balanced classes: chance is 0.25.
  EXPECT_GT(values[0], 0.6);
  EXPECT_LE(values[0], 1.0);
  ASSERT_EQ(trial.reports.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(trial.reports[static_cast<std::size_t>(e)].first, e + 1);
  // The returned accuracy is the best epoch's, which is the largest reported value.
  double best = 0;
  for (const auto& r : trial.reports) best = std::max(best, r.second);
  EXPECT_EQ(values[0], best);
  EXPECT_EQ(trial.attrs.at("val_accuracy").get<double>(), values[0]);

  NetGraph graph = space.architecture()->build(kConv, Shape{1, 8, 8}, 4);
  CostMetrics costs = analyze_costs(graph);
  EXPECT_EQ(values[1], static_cast<double>(costs.params));
  EXPECT_EQ(values[2], static_cast<double>(costs.macs));
  EXPECT_EQ(trial.attrs.at("params"), costs.params);
  EXPECT_EQ(trial.attrs.at("macs"), costs.macs);
  EXPECT_EQ(trial.attrs.at("size_bytes"), costs.size_bytes);
  EXPECT_EQ(trial.attrs.at("peak_mem_bytes"), costs.peak_activation_bytes);
  for (const char* key : {"val_loss", "train_loss", "train_time_s", "images_per_s", "latency_ms"}) {
    ASSERT_TRUE(trial.attrs.count(key)) << key;
    EXPECT_GT(trial.attrs.at(key).get<double>(), 0) << key;
  }
  EXPECT_EQ(trial.attrs.at("epochs_run"), 3);
  EXPECT_EQ(trial.attrs.at("stopped_early"), false);
  int best_epoch = trial.attrs.at("best_epoch").get<int>();
  EXPECT_EQ(trial.reports[static_cast<std::size_t>(best_epoch - 1)].second, values[0]);
  // No artifact folder (in-memory storage): nothing is saved.
  EXPECT_EQ(trial.attrs.count("weights"), 0u);
}

TEST_F(TrainObjectiveTest, PrunesAfterTheReportedEpoch) {
  SearchSpace space = make_space("");
  auto obj = objective("epochs: 4\nbatch_size: 64\n", space);
  FakeTrial trial(params_of(space, kConv));
  trial.prune_after_reports = 2;
  EXPECT_THROW(obj->evaluate(trial), TrialPruned);
  ASSERT_EQ(trial.reports.size(), 2u);
  EXPECT_EQ(trial.reports[1].first, 2);
  EXPECT_EQ(trial.prune_checks, 2);
}

TEST_F(TrainObjectiveTest, TheFinalEpochIsReportedButNeverPruned) {
  SearchSpace space = make_space("");
  auto obj = objective("epochs: 2\nbatch_size: 64\n", space);
  FakeTrial trial(params_of(space, kConv));
  trial.prune_after_reports = 2;  // the pruner would say yes after epoch 2, the last one
  std::vector<double> values = obj->evaluate(trial);
  EXPECT_EQ(trial.reports.size(), 2u);
  EXPECT_EQ(trial.prune_checks, 1);
  EXPECT_EQ(values.size(), 1u);
  // Every epoch's accuracy and losses are kept as the `history` attribute.
  const Json& history = trial.attrs.at("history");
  ASSERT_EQ(history.size(), 2u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_EQ(history[e]["epoch"], e + 1);
    EXPECT_DOUBLE_EQ(history[e]["val_accuracy"].get<double>(), trial.reports[static_cast<std::size_t>(e)].second);
    EXPECT_GT(history[e]["val_loss"].get<double>(), 0);
    EXPECT_GT(history[e]["train_loss"].get<double>(), 0);
  }
}

TEST_F(TrainObjectiveTest, DivergingLossFailsTheTrial) {
  SearchSpace space = make_space("lr: {type: float, low: 1.0e-3, high: 1.0e+30, log: true}\n");
  auto obj = objective("epochs: 2\nbatch_size: 32\nlr: $lr\nschedule: constant\n", space);
  FakeTrial trial(params_of(space, kConv, {{"lr", 1e30}}));
  try {
    obj->evaluate(trial);
    FAIL() << "expected ObjectiveError";
  } catch (const ObjectiveError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("training loss is nan at epoch 1, batch "), std::string::npos) << msg;
    EXPECT_NE(msg.find("(lr=1e+30)"), std::string::npos) << msg;
  }
  EXPECT_TRUE(trial.reports.empty());
}

TEST_F(TrainObjectiveTest, EarlyStoppingEndsTrainingAndKeepsTheBestEpoch) {
  SearchSpace space = make_space("");
  // No epoch can beat the first by more than min_delta 2 (accuracy is at most 1), so training stops after 1 + 2.
  auto obj = objective("epochs: 10\nbatch_size: 64\nearly_stopping: {patience: 2, min_delta: 2}\n", space);
  FakeTrial trial(params_of(space, kConv));
  std::vector<double> values = obj->evaluate(trial);
  EXPECT_EQ(trial.reports.size(), 3u);
  EXPECT_EQ(trial.attrs.at("epochs_run"), 3);
  EXPECT_EQ(trial.attrs.at("stopped_early"), true);
  EXPECT_EQ(trial.attrs.at("best_epoch"), 1);
  EXPECT_EQ(values[0], trial.reports[0].second);
}

TEST_F(TrainObjectiveTest, SameSeedGivesBitwiseIdenticalResults) {
  SearchSpace space = make_space("");
  const std::string yaml =
      "objectives: [val_loss]\nepochs: 2\nbatch_size: 32\nwarmup_epochs: 0.5\nlabel_smoothing: 0.1\n"
      "optimizer: adamw\nlr: 0.01\n";
  auto obj = objective(yaml, space);
  FakeTrial a(params_of(space, "s1:dw_k3_w16"), 11);
  FakeTrial b(params_of(space, "s1:dw_k3_w16"), 11);
  FakeTrial c(params_of(space, "s1:dw_k3_w16"), 12);
  double va = obj->evaluate(a)[0];
  // A second objective reads the data afresh; the result must not depend on that either.
  double vb = objective(yaml, space)->evaluate(b)[0];
  double vc = obj->evaluate(c)[0];
  EXPECT_TRUE(same_bits(va, vb)) << va << " vs " << vb;
  EXPECT_TRUE(same_bits(a.attrs.at("train_loss").get<double>(), b.attrs.at("train_loss").get<double>()));
  ASSERT_EQ(a.reports.size(), b.reports.size());
  for (std::size_t i = 0; i < a.reports.size(); ++i) EXPECT_TRUE(same_bits(a.reports[i].second, b.reports[i].second));
  EXPECT_FALSE(same_bits(va, vc)) << "another seed should give another network";
}

TEST_F(TrainObjectiveTest, ResolvesSearchedHyperparameters) {
  SearchSpace space = make_space(
      "lr: {type: float, low: 1.0e-3, high: 0.2, log: true}\n"
      "opt: {type: categorical, choices: [sgd, adam]}\n"
      "bs: {type: int, low: 16, high: 64, step: 16}\n");
  auto obj = objective("epochs: 1\nlr: $lr\noptimizer: $opt\nbatch_size: $bs\n", space);
  FakeTrial trial(params_of(space, kConv, {{"lr", 0.004}, {"opt", "adam"}, {"bs", std::int64_t{48}}}));
  trial.artifacts = tmp("trial-0");
  obj->evaluate(trial);
  std::ifstream in(tmp("trial-0/model.json"));
  Json model = Json::parse(in);
  EXPECT_EQ(model["hyperparameters"]["lr"], 0.004);
  EXPECT_EQ(model["hyperparameters"]["optimizer"], "adam");
  EXPECT_EQ(model["hyperparameters"]["batch_size"], 48);
  EXPECT_EQ(model["hyperparameters"]["epochs"], 1);
}

TEST_F(TrainObjectiveTest, StopRequestInterruptsPromptly) {
  SearchSpace space = make_space("");
  auto obj = objective("epochs: 5\nbatch_size: 32\n", space);
  FakeTrial trial(params_of(space, kConv));
  trial.stop_after_reports = 1;
  EXPECT_THROW(obj->evaluate(trial), Interrupted);
  EXPECT_EQ(trial.reports.size(), 1u);
  FakeTrial early(params_of(space, kConv));
  early.stop = true;
  EXPECT_THROW(obj->evaluate(early), Interrupted);
  EXPECT_TRUE(early.reports.empty());
}

TEST_F(TrainObjectiveTest, InvalidGenotypeFailsBeforeTraining) {
  SearchSpace space = make_space("", "type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 1\n");
  auto obj = objective("epochs: 1\n", space);
  ParamMap params;
  for (const auto& p : space.architecture()->parameters()) params[p.name] = "none";
  FakeTrial trial(params);
  EXPECT_THROW(obj->evaluate(trial), InvalidArchitecture);
  EXPECT_TRUE(trial.reports.empty());
}

TEST_F(TrainObjectiveTest, TrainsOnFeatureVectors) {
  SearchSpace space = make_space("",
                                 "type: chain\nstem: {channels: 16, kernel: 1}\n"
                                 "stages: [{depth: [1], widths: [16], stride: 1}]\nops: [conv]\nkernels: [1]\n");
  auto obj = build_objective(
      "kind: train\ndataset: {format: synthetic, size: 300, classes: 3, shape: [6, 1, 1], val_size: 60}\n"
      "epochs: 4\nbatch_size: 16\nlr: 0.05\n" +
          std::string(kFastSettings),
      space);
  FakeTrial trial(params_of(space, "s1:conv_k1_w16"));
  EXPECT_GT(obj->evaluate(trial)[0], 0.6);  // chance is 1/3
}

TEST_F(TrainObjectiveTest, CostObjectiveReportsNothing) {
  SearchSpace space = make_space("");
  auto obj = objective("objectives: [latency_ms]\nepochs: 1\nbatch_size: 64\n", space);
  FakeTrial trial(params_of(space, kConv));
  std::vector<double> v = obj->evaluate(trial);
  EXPECT_TRUE(trial.reports.empty());
  EXPECT_EQ(trial.prune_checks, 0);
  EXPECT_EQ(v[0], trial.attrs.at("latency_ms").get<double>());
}

TEST_F(TrainObjectiveTest, BudgetRejectsOverBudgetCellsBeforeTraining) {
  const std::string cell = "type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 1\n";
  SearchSpace space = make_space("", cell);
  const std::string big =
      "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
  const std::string small = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|";
  const std::int64_t big_macs = analyze_costs(space.architecture()->build(big, Shape{1, 8, 8}, 4)).macs;
  const std::int64_t small_macs = analyze_costs(space.architecture()->build(small, Shape{1, 8, 8}, 4)).macs;
  ASSERT_LT(small_macs, big_macs);
  // About one 3x3 conv edge above the parameter-free cell: most random cells are over it, some are not.
  const std::int64_t budget = small_macs + (big_macs - small_macs) / 6;
  auto obj = objective("epochs: 1\nbudget: {macs: " + std::to_string(budget) + "}\n", space);
  EXPECT_EQ(obj->reject(params_of(space, small)), std::nullopt);
  std::optional<std::string> why = obj->reject(params_of(space, big));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "macs " + std::to_string(big_macs) + " > budget " + std::to_string(budget));
  // A disconnected cell is not a budget matter: evaluate() fails it with its own reason.
  ParamMap none;
  for (const auto& p : space.architecture()->parameters()) none[p.name] = "none";
  EXPECT_EQ(obj->reject(none), std::nullopt);

  // Through the study loop: every trained trial is within the budget, and the strategy had to be re-asked.
  Study study = Study::create(open_storage("memory"), "budget", {StudyDirection::kMaximize});
  study.set_space(space);
  study.set_sampler(make_sampler(ConfigNode::parse_string("name: random"), space, 3, StrategyEnv{}));
  RunOptions ro;
  ro.n_trials = 4;
  optimize(study, *obj, ro);
  int rejections = 0;
  for (const FrozenTrial& t : study.trials()) {
    if (t.state == TrialState::kFail) {  // random cells may be disconnected
      EXPECT_NE(t.system_attrs.at(attr::kFailReason).get<std::string>().find("disconnected"), std::string::npos)
          << t.system_attrs.at(attr::kFailReason);
      continue;
    }
    ASSERT_EQ(t.state, TrialState::kComplete) << t.number;
    EXPECT_LE(t.user_attrs.at("macs").get<std::int64_t>(), budget);
    auto it = t.system_attrs.find(trial_attr::kBudgetRejections);
    if (it != t.system_attrs.end()) rejections += it->second.get<int>();
  }
  EXPECT_EQ(study.trials().size(), 4u);
  EXPECT_GT(rejections, 0);
}

}  // namespace
}  // namespace nasforge
