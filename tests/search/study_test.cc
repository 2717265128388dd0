// The ask/tell C++ API and the run loop, on the in-memory backend.
#include "search/study.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "search/cli/progress.h"
#include "search/cli/study_loader.h"
#include "search/runner.h"
#include "search/study_config.h"
#include "testing.h"

namespace nasforge {
namespace {

class StudyTest : public testing::NasforgeTest {
 protected:
  Study make_study(const std::string& strategy = "name: random", const std::string& pruner = "name: none") {
    Study study = Study::create(open_storage("memory"), "s", {StudyDirection::kMinimize});
    SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string(
        "x: {type: float, low: -1, high: 1}\nopt: [sgd, adam]\nmomentum: {type: float, low: 0, high: 1, "
        "when: {opt: sgd}}\n"));
    study.set_space(space);
    study.set_sampler(make_sampler(ConfigNode::parse_string(strategy), space, 7, StrategyEnv{}));
    study.set_pruner(make_pruner(ConfigNode::parse_string(pruner)));
    return study;
  }
};

/// Objective with a learning curve, for pruning through the loop.
class CurveObjective : public Objective {
 public:
  std::vector<double> evaluate(TrialContext& trial) override {
    double x = trial.param("x").as_double();
    if (std::fabs(x) > 0.8) throw ObjectiveError("diverged");
    for (int step = 0; step < 5; ++step) {
      trial.report(x * x + (5 - step), step);
      if (trial.should_prune()) throw TrialPruned();
    }
    return {x * x};
  }
};

TEST_F(StudyTest, AskTellNumbersTrialsAndStoresEverything) {
  Study study = make_study();
  for (int i = 0; i < 5; ++i) {
    std::optional<Trial> t = study.ask();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->number(), i);
    // Conditional parameter present exactly when its condition holds.
    bool sgd = t->param("opt").as_string() == "sgd";
    EXPECT_EQ(t->params().count("momentum"), sgd ? 1u : 0u);
    t->set_user_attr("note", Json{{"i", i}});
    EXPECT_EQ(study.tell(*t, {t->param("x").as_double()}), TrialState::kComplete);
  }
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 5u);
  EXPECT_EQ(trials[3].user_attrs.at("note")["i"], 3);
  auto best = study.best_trials();
  ASSERT_EQ(best.size(), 1u);
  for (const auto& t : trials) EXPECT_LE(best[0].values[0], t.values[0]);
}

TEST_F(StudyTest, NanOrWrongArityFailsTheTrialWithAReason) {
  Study study = make_study();
  auto a = study.ask();
  EXPECT_EQ(study.tell(*a, {std::nan("")}), TrialState::kFail);
  auto b = study.ask();
  EXPECT_EQ(study.tell(*b, {1.0, 2.0}), TrialState::kFail);
  auto trials = study.trials();
  EXPECT_EQ(trials[0].system_attrs.at(attr::kFailReason), "objective returned NaN");
  EXPECT_NE(trials[1].system_attrs.at(attr::kFailReason).get<std::string>().find("2 values"), std::string::npos);
  EXPECT_THROW(study.tell(*a, {1.0}), StateError);
}

TEST_F(StudyTest, EnqueuedParametersRunFirstAndAreValidated) {
  Study study = make_study();
  study.enqueue({{"x", 0.5}, {"opt", "adam"}});
  study.enqueue({{"opt", "sgd"}});  // partial: x and momentum are sampled
  EXPECT_THROW(study.enqueue({{"x", 5.0}}), ValueError);
  EXPECT_THROW(study.enqueue({{"y", 1.0}}), ValueError);
  EXPECT_THROW(study.enqueue({{"opt", "adam"}, {"momentum", 0.5}}), ValueError);  // inactive
  auto first = study.ask();
  EXPECT_EQ(first->param("x").as_double(), 0.5);
  EXPECT_EQ(first->param("opt").as_string(), "adam");
  auto second = study.ask();
  EXPECT_EQ(second->param("opt").as_string(), "sgd");
  EXPECT_EQ(second->params().count("momentum"), 1u);
  EXPECT_EQ(study.trials()[1].params.count("momentum"), 1u);  // sampled values are stored too
}

TEST_F(StudyTest, AskRespectsSlotsAcrossStates) {
  Study study = make_study();
  auto a = study.ask(2);
  auto b = study.ask(2);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(study.ask(2));  // two RUNNING trials hold both slots
  study.fail(*a, "crashed");   // no retry policy: the failure counts as finished
  EXPECT_FALSE(study.ask(2));
}

TEST_F(StudyTest, FailedTrialsAreRetriedWithTheSameParameters) {
  Study study = make_study();
  study.set_options(StudyOptions().with_seed(1).with_max_retry(1));
  auto a = study.ask(3);
  study.fail(*a, "worker crashed");
  auto retry = study.ask(3);
  EXPECT_EQ(retry->params(), a->params());
  study.fail(*retry, "crashed again");  // the retry budget is spent: no third attempt
  auto fresh = study.ask(3);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->params(), a->params());
  TrialCounts c = study.counts();
  EXPECT_EQ(c.failed, 2);
  EXPECT_EQ(c.retried, 1);
  EXPECT_EQ(c.finished(), 1);
}

TEST_F(StudyTest, OptimizeHandlesPruningAndObjectiveErrors) {
  Study study = make_study("name: random", "name: median\nn_startup_trials: 3\nn_warmup_steps: 1");
  CurveObjective objective;
  RunOptions options;
  options.n_trials = 40;
  RunSummary s = optimize(study, objective, options);
  EXPECT_EQ(s.completed + s.pruned + s.failed, 40);
  EXPECT_GT(s.pruned, 0);
  EXPECT_GT(s.failed, 0);  // |x| > 0.8 raises
  for (const auto& t : study.trials({TrialState::kPruned})) {
    ASSERT_TRUE(t.system_attrs.count("pruned_at_step"));
    EXPECT_EQ(t.system_attrs.at("pruned_at_step"), *t.last_step());
    EXPECT_LT(*t.last_step(), 4);
  }
  for (const auto& t : study.trials({TrialState::kFail})) {
    EXPECT_NE(t.system_attrs.at(attr::kFailReason).get<std::string>().find("diverged"), std::string::npos);
  }
  EXPECT_EQ(study.counts().finished(), 40);
}

TEST_F(StudyTest, ATrialReapedByAnotherWorkerIsDiscardedAndRetried) {
  Study study = make_study();
  study.set_options(StudyOptions().with_seed(3).with_max_retry(1));
  // Plays the other worker: while trial 0 runs, it is failed as stale and re-enqueued.
  class ReapedOnce : public Objective {
   public:
    explicit ReapedOnce(Study& study) : study_(study) {}
    std::vector<double> evaluate(TrialContext& trial) override {
      if (trial.number() == 0) study_.storage()->fail_trial(dynamic_cast<Trial&>(trial).id(), "stale", 1);
      return {1.0};
    }
    Study& study_;
  } objective(study);
  RunOptions options;
  options.n_trials = 3;
  RunSummary s = optimize(study, objective, options);
  EXPECT_FALSE(s.interrupted);
  auto trials = study.trials();
  ASSERT_EQ(trials.size(), 4u);  // 0 reaped, its retry 1, then 2 and 3
  EXPECT_EQ(trials[0].state, TrialState::kFail);
  EXPECT_EQ(trials[1].params, trials[0].params);
  EXPECT_EQ(study.counts().complete, 3);
}

TEST_F(StudyTest, GridExhaustionStopsTheLoop) {
  Study study = Study::create(open_storage("memory"), "g", {StudyDirection::kMaximize});
  SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string("a: [1, 2, 3]\nb: {type: int, low: 0, high: 1}"));
  study.set_space(space);
  study.set_sampler(make_sampler(ConfigNode::parse_string("name: grid"), space, 1, StrategyEnv{}));
  class Sum : public Objective {
   public:
    std::vector<double> evaluate(TrialContext& t) override {
      return {t.param("a").as_double() + t.param("b").as_double()};
    }
  } sum;
  RunOptions options;
  options.n_trials = 100;
  RunSummary s = optimize(study, sum, options);
  EXPECT_TRUE(s.exhausted);
  EXPECT_EQ(s.completed, 6);
  std::set<std::string> seen;
  for (const auto& t : study.trials()) seen.insert(t.to_json()["params"].dump());
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(study.best_trials()[0].values[0], 4.0);
}

TEST_F(StudyTest, LoadAndCreateErrorsNameTheStudy) {
  auto storage = open_storage("memory");
  Study::create(storage, "alpha", {StudyDirection::kMinimize});
  EXPECT_THROW(Study::create(storage, "alpha", {StudyDirection::kMinimize}), DuplicateStudyError);
  EXPECT_NO_THROW(Study::create(storage, "alpha", {StudyDirection::kMinimize}, /*load_if_exists=*/true));
  try {
    Study::load(storage, "alpah");
    FAIL();
  } catch (const NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'alpha'"), std::string::npos) << e.what();
  }
}

TEST_F(StudyTest, StudyConfigDefaultsAndCrossKeyChecks) {
  StudyConfig cfg = parse_study_config("study: {n_trials: 5}\nspace: {x: [1, 2]}\n", "dir/my_study.yaml", "/tmp");
  EXPECT_EQ(cfg.name, "my_study");
  EXPECT_EQ(cfg.storage_url, "sqlite:///my_study.db");
  EXPECT_EQ(cfg.directions, std::vector<StudyDirection>{StudyDirection::kMinimize});
  EXPECT_FALSE(cfg.has_objective());
  EXPECT_THROW(parse_study_config("study: {name: a}\nspace: {x: [1]}\n", "f.yaml", "/tmp"), ConfigError);
  EXPECT_THROW(parse_study_config("study: {n_trials: 1, direction: up}\nspace: {x: [1]}\n", "f.yaml", "/tmp"),
               ConfigError);
  EXPECT_THROW(parse_study_config("study: {n_trials: 1, directions: [minimize, maximize]}\nspace: {x: [1]}\n"
                                  "pruner: {name: median}\n",
                                  "f.yaml", "/tmp"),
               ConfigError);
  EXPECT_THROW(parse_study_config("study: {n_trials: 1}\nspace: {x: [1]}\nenqueue: [{x: 3}]\n", "f.yaml", "/tmp"),
               ConfigError);
  StudyConfig two = parse_study_config("study: {n_trials: 1, directions: [minimize, maximize]}\nspace: {x: [1, 2]}\n"
                                       "enqueue: [{x: 2}]\n",
                                       "f.yaml", "/tmp");
  EXPECT_EQ(two.directions.size(), 2u);
  ASSERT_EQ(two.enqueue.size(), 1u);
  EXPECT_EQ(two.enqueue[0].at("x").as_int(), 2);
}

TEST_F(StudyTest, OverBudgetProposalsAreResampledAndNeverStored) {
  Study study = make_study();
  const BudgetCheck over_budget = [](const ParamMap& p) -> std::optional<std::string> {
    double x = p.at("x").as_double();
    if (x <= 0) return std::nullopt;
    return "x " + std::to_string(x) + " > budget 0";
  };
  int rejections = 0;
  for (int i = 0; i < 20; ++i) {
    std::optional<Trial> t = study.ask(std::nullopt, over_budget);
    ASSERT_TRUE(t);
    EXPECT_LE(t->param("x").as_double(), 0.0);
    study.tell(*t, {t->param("x").as_double()});
  }
  for (const FrozenTrial& t : study.trials()) {
    auto it = t.system_attrs.find(trial_attr::kBudgetRejections);
    if (it != t.system_attrs.end()) rejections += it->second.get<int>();
  }
  EXPECT_EQ(study.trials().size(), 20u);
  // Half of uniform proposals on [-1, 1] are over the budget; 20 accepted ones must have needed some.
  EXPECT_GT(rejections, 3);
}

TEST_F(StudyTest, NoProposalWithinBudgetIsAClearError) {
  Study study = make_study();
  const BudgetCheck over_budget = [](const ParamMap&) -> std::optional<std::string> {
    return std::string("macs 9 > budget 1");
  };
  StudyOptions o = study.options();
  o.max_rejections = 25;
  study.set_options(o);
  try {
    study.ask(std::nullopt, over_budget);
    FAIL() << "ask() accepted an over-budget candidate";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("25 candidates"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("macs 9 > budget 1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(study.trials().empty());
}

TEST_F(StudyTest, OverBudgetEnqueuedTrialFailsUntrainedWithTheReason) {
  Study study = make_study();
  const BudgetCheck over_budget = [](const ParamMap& p) -> std::optional<std::string> {
    if (p.at("x").as_double() <= 0) return std::nullopt;
    return std::string("x over budget");
  };
  study.enqueue({{"x", 0.5}, {"opt", "adam"}});
  std::optional<Trial> t = study.ask(std::nullopt, over_budget);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->number(), 1);  // trial 0 was the enqueued one
  FrozenTrial first = study.trials().at(0);
  EXPECT_EQ(first.state, TrialState::kFail);
  EXPECT_NE(first.system_attrs.at(attr::kFailReason).get<std::string>().find("over budget: x over budget"),
            std::string::npos);
}

TEST_F(StudyTest, OptimizeHandsTheObjectivesBudgetToAskAndLeavesTheOptionsAlone) {
  Study study = make_study();
  study.set_options(StudyOptions().with_seed(5).with_max_retry(2));
  class NonPositiveX : public Objective {
   public:
    std::vector<double> evaluate(TrialContext& t) override { return {t.param("x").as_double()}; }
    std::optional<std::string> reject(const ParamMap& params) override {
      if (params.at("x").as_double() <= 0) return std::nullopt;
      return std::string("x > budget 0");
    }
  } objective;
  RunOptions options;
  options.n_trials = 10;
  RunSummary s = optimize(study, objective, options);
  EXPECT_EQ(s.completed, 10);
  int rejections = 0;
  for (const FrozenTrial& t : study.trials()) {
    EXPECT_LE(t.params.at("x").as_double(), 0.0) << t.number;
    auto it = t.system_attrs.find(trial_attr::kBudgetRejections);
    if (it != t.system_attrs.end()) rejections += it->second.get<int>();
  }
  EXPECT_GT(rejections, 0);
  EXPECT_EQ(study.options().seed, 5u);
  EXPECT_EQ(study.options().max_retry, 2);
}

TEST_F(StudyTest, StudyOptionsComeFromTheStoredFileAndFeedTheDisplayWhenThereIsOne) {
  LoadedStudy ls;
  ls.config = parse_study_config("study: {n_trials: 4, max_retry: 2, heartbeat_interval_s: 0.5, grace_period_s: 3}\n"
                                 "space: {x: [1, 2]}\n",
                                 "opts.yaml", "/tmp");
  ls.study = std::make_unique<Study>(make_study());
  ls.seed = 7;
  ls.worker_index = 3;
  ls.artifact_dir = tmp("opts");
  const std::atomic<bool> stop{false};
  ls.stop_flag = &stop;

  StudyOptions plain = study_options(ls, nullptr);
  EXPECT_EQ(plain.seed, 7u);
  EXPECT_EQ(plain.worker_index, 3);
  EXPECT_EQ(plain.max_retry, 2);
  EXPECT_EQ(plain.heartbeat_interval_s, 0.5);
  EXPECT_EQ(plain.grace_period_s, 3.0);
  EXPECT_EQ(plain.artifact_root, tmp("opts"));
  EXPECT_EQ(plain.stop_flag, &stop);
  EXPECT_FALSE(plain.on_report || plain.on_progress || plain.on_strategy_progress);

  Progress progress(*ls.study, ls.n_trials, /*quiet=*/true);
  StudyOptions shown = study_options(ls, &progress);
  EXPECT_EQ(shown.seed, 7u);
  EXPECT_EQ(shown.stop_flag, &stop);
  ASSERT_TRUE(shown.on_report && shown.on_progress && shown.on_strategy_progress);
  shown.on_report(0, 1, 0.5);
  shown.on_progress(0, "compressing");
  shown.on_strategy_progress("epoch 1");
}

/// Fails its first proposal the way a darts supernet search with a NaN loss does, then proposes x = 0.5.
class FailingOnceSampler : public Sampler {
 public:
  ParamMap sample(const SampleContext&) override {
    if (calls_++ == 0) throw ObjectiveError("supernet train loss is nan at epoch 1");
    return {{"x", 0.5}, {"opt", "adam"}};
  }

 private:
  int calls_ = 0;
};

TEST_F(StudyTest, AStrategyFailureCostsOneFailedTrialNotTheStudy) {
  Study study = make_study();
  study.set_sampler(std::make_unique<FailingOnceSampler>());
  std::optional<Trial> t = study.ask();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->number(), 1);
  EXPECT_EQ(t->param("x").as_double(), 0.5);
  FrozenTrial failed = study.trials().at(0);
  EXPECT_EQ(failed.state, TrialState::kFail);
  EXPECT_TRUE(failed.params.empty());
  EXPECT_EQ(failed.system_attrs.at(attr::kFailReason).get<std::string>(),
            "strategy: supernet train loss is nan at epoch 1");
  // With every slot taken by the failure, ask() reports that instead of searching again.
  Study capped = make_study();
  capped.set_sampler(std::make_unique<FailingOnceSampler>());
  EXPECT_FALSE(capped.ask(/*max_slots=*/1));
  EXPECT_EQ(capped.counts().failed, 1);
}

}  // namespace
}  // namespace nasforge
