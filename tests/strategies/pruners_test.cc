#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "strategies/pruners.h"
#include "strategies/registry.h"
#include "testing.h"

namespace nasforge {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Every scenario below is written for minimization; under maximization the same history with negated values must
// give the same decisions, which is what makes each test check both directions.
class PrunerTest : public testing::NasforgeTest, public ::testing::WithParamInterface<StudyDirection> {
 protected:
  StudyDirection direction() const { return GetParam(); }
  double flip(double v) const { return direction() == StudyDirection::kMinimize ? v : -v; }

  FrozenTrial trial(int number, TrialState state, const std::map<int, double>& reports) const {
    FrozenTrial t;
    t.trial_id = number + 100;
    t.number = number;
    t.state = state;
    for (const auto& [step, v] : reports) t.intermediate_values[step] = flip(v);
    if (state == TrialState::kComplete && !reports.empty()) t.values = {flip(reports.rbegin()->second)};
    return t;
  }
  FrozenTrial complete(int number, const std::map<int, double>& reports) const {
    return trial(number, TrialState::kComplete, reports);
  }
  FrozenTrial running(int number, const std::map<int, double>& reports) const {
    return trial(number, TrialState::kRunning, reports);
  }

  // The study as the pruner sees it: finished trials plus the running one.
  static std::vector<FrozenTrial> with(std::vector<FrozenTrial> trials, const FrozenTrial& current) {
    trials.push_back(current);
    return trials;
  }
  bool ask(Pruner& pruner, const std::vector<FrozenTrial>& others, const FrozenTrial& current) const {
    return pruner.prune(current, with(others, current), direction());
  }

  // Five finished trials whose values at steps 0..3 are 1, 2, 3, 4, 5 (trial i reports i + 1 at every step).
  std::vector<FrozenTrial> five_completed() const {
    std::vector<FrozenTrial> out;
    for (int i = 0; i < 5; ++i) {
      double v = i + 1;
      out.push_back(complete(i, {{0, v}, {1, v}, {2, v}, {3, v}}));
    }
    return out;
  }

  static ConfigNode section(const std::string& yaml) {
    return ConfigNode::parse_string(yaml, "study.yaml").get("pruner");
  }
};

INSTANTIATE_TEST_SUITE_P(Directions, PrunerTest,
                         ::testing::Values(StudyDirection::kMinimize, StudyDirection::kMaximize),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---- median / percentile ----

TEST_P(PrunerTest, MedianPrunesABadTrialAndKeepsAGoodOne) {
  PercentilePruner median(PercentileOptions{});
  auto others = five_completed();  // median at every step: 3
  EXPECT_TRUE(ask(median, others, running(5, {{0, 10}, {1, 10}})));
  EXPECT_FALSE(ask(median, others, running(5, {{0, 1}, {1, 1}})));
  EXPECT_FALSE(ask(median, others, running(5, {{0, 3}, {1, 3}})));  // equal to the median is not worse
  EXPECT_TRUE(ask(median, others, running(5, {{0, 3.5}})));
}

TEST_P(PrunerTest, MedianComparesTheTrialsBestValueSoFar) {
  // Optuna 3.1 judges the best report of the trial, not its latest one: a good early report protects it.
  PercentilePruner median(PercentileOptions{});
  auto others = five_completed();
  EXPECT_FALSE(ask(median, others, running(5, {{0, 1}, {1, 10}})));
  EXPECT_TRUE(ask(median, others, running(5, {{0, 10}, {1, 4}})));
}

TEST_P(PrunerTest, MedianInterpolatesBetweenTheMiddleValues) {
  std::vector<FrozenTrial> others;
  for (int i = 0; i < 4; ++i) others.push_back(complete(i, {{0, i + 1.0}}));  // median of 1..4 is 2.5
  PercentileOptions o;
  o.n_startup_trials = 4;
  PercentilePruner median(o);
  EXPECT_TRUE(ask(median, others, running(4, {{0, 2.6}})));
  EXPECT_FALSE(ask(median, others, running(4, {{0, 2.4}})));
}

TEST_P(PrunerTest, NoPruningBeforeNStartupTrialsComplete) {
  auto others = five_completed();
  others.pop_back();
  // Running, pruned and failed trials do not count as started-up.
  others.push_back(trial(4, TrialState::kPruned, {{0, 9}}));
  others.push_back(trial(5, TrialState::kFail, {}));
  others.push_back(running(6, {{0, 9}}));
  PercentilePruner median(PercentileOptions{});
  const FrozenTrial bad = running(7, {{0, 10}});
  EXPECT_FALSE(ask(median, others, bad));

  PercentileOptions o;
  o.n_startup_trials = 4;
  PercentilePruner earlier(o);
  EXPECT_TRUE(ask(earlier, others, bad));
}

TEST_P(PrunerTest, NoPruningWithoutAnyCompletedTrialEvenWithZeroStartup) {
  PercentileOptions o;
  o.n_startup_trials = 0;
  PercentilePruner median(o);
  EXPECT_FALSE(ask(median, {running(0, {{0, 1}})}, running(1, {{0, 10}})));
}

TEST_P(PrunerTest, WarmupStepsAreRespected) {
  PercentileOptions o;
  o.n_warmup_steps = 2;
  PercentilePruner median(o);
  auto others = five_completed();
  EXPECT_FALSE(ask(median, others, running(5, {{0, 10}})));
  EXPECT_FALSE(ask(median, others, running(5, {{0, 10}, {1, 10}})));
  EXPECT_TRUE(ask(median, others, running(5, {{0, 10}, {1, 10}, {2, 10}})));
}

TEST_P(PrunerTest, IntervalStepsAreRespected) {
  PercentileOptions o;
  o.interval_steps = 3;
  PercentilePruner median(o);
  auto others = five_completed();
  std::map<int, double> bad;
  std::vector<bool> decisions;
  for (int step = 0; step <= 3; ++step) {
    bad[step] = 10;
    decisions.push_back(ask(median, others, running(5, bad)));
  }
  // Checks happen at steps 0 and 3 only.
  EXPECT_EQ(decisions, (std::vector<bool>{true, false, false, true}));
}

TEST_P(PrunerTest, MissedIntervalCheckIsPostponedToTheNextReport) {
  PercentileOptions o;
  o.interval_steps = 2;
  o.n_warmup_steps = 1;  // check points: 1, 3, 5, ...
  PercentilePruner median(o);
  std::vector<FrozenTrial> others;
  for (int i = 0; i < 5; ++i) others.push_back(complete(i, {{0, i + 1.0}, {2, i + 1.0}, {4, i + 1.0}}));
  // Reports at 0, 2, 4 never hit a check point exactly: the first report after each one is checked.
  EXPECT_FALSE(ask(median, others, running(5, {{0, 10}})));  // warm-up
  EXPECT_TRUE(ask(median, others, running(5, {{0, 10}, {2, 10}})));
  EXPECT_TRUE(ask(median, others, running(5, {{0, 10}, {2, 10}, {4, 10}})));
  // With reports at 3 and 4, step 3 is the check and step 4 is not.
  EXPECT_FALSE(ask(median, others, running(5, {{0, 10}, {3, 10}, {4, 10}})));
}

TEST_P(PrunerTest, NaNReportIsPruned) {
  PercentilePruner median(PercentileOptions{});
  auto others = five_completed();
  EXPECT_FALSE(median.prune(running(5, {}), with(others, running(5, {})), direction()));  // nothing reported yet
  FrozenTrial nan_trial = running(5, {});
  nan_trial.intermediate_values[0] = kNaN;
  EXPECT_TRUE(median.prune(nan_trial, with(others, nan_trial), direction()));
}

TEST_P(PrunerTest, NaNValuesOfOtherTrialsAreIgnored) {
  std::vector<FrozenTrial> others;
  for (int i = 0; i < 5; ++i) others.push_back(complete(i, {{0, i < 2 ? kNaN : 1.0}}));
  PercentilePruner median(PercentileOptions{});
  EXPECT_TRUE(ask(median, others, running(5, {{0, 2}})));   // median of {1, 1, 1}
  EXPECT_FALSE(ask(median, others, running(5, {{0, 1}})));
}

TEST_P(PrunerTest, PercentileTwentyFiveIsStricterThanSeventyFive) {
  auto others = five_completed();  // values 1..5: 25th percentile 2, 75th percentile 4 (for minimization)
  PercentileOptions strict, lenient;
  strict.percentile = 25;
  lenient.percentile = 75;
  PercentilePruner p25(strict), p75(lenient);
  const FrozenTrial middling = running(5, {{0, 3}});
  EXPECT_TRUE(ask(p25, others, middling));
  EXPECT_FALSE(ask(p75, others, middling));
  EXPECT_FALSE(ask(p25, others, running(5, {{0, 2}})));
  EXPECT_TRUE(ask(p75, others, running(5, {{0, 4.5}})));
}

TEST_P(PrunerTest, NMinTrialsNeedsEnoughReportsAtTheStep) {
  auto others = five_completed();
  for (int i = 0; i < 3; ++i) others[i].intermediate_values.erase(2);  // only two trials reported step 2
  PercentileOptions o;
  o.n_min_trials = 3;
  PercentilePruner median(o);
  EXPECT_FALSE(ask(median, others, running(5, {{0, 4}, {1, 4}, {2, 10}})));
  EXPECT_TRUE(ask(median, others, running(5, {{0, 4}, {1, 10}})));
}

// ---- asha (successive halving) ----

SuccessiveHalvingOptions halving(std::int64_t min_resource, std::int64_t reduction_factor) {
  SuccessiveHalvingOptions o;
  o.min_resource = min_resource;
  o.reduction_factor = reduction_factor;
  return o;
}

TEST_P(PrunerTest, AshaRungStepsGrowGeometrically) {
  SuccessiveHalvingOptions o = halving(3, 2);
  o.min_early_stopping_rate = 1;
  SuccessiveHalvingPruner asha(o);
  EXPECT_EQ(asha.rung_step(0), 6);
  EXPECT_EQ(asha.rung_step(1), 12);
  EXPECT_EQ(asha.rung_step(2), 24);
}

TEST_P(PrunerTest, AshaPromotesTheTopHalfAtEachRung) {
  // reduction_factor 2, min_resource 1: rungs at steps 1, 2, 4.
  SuccessiveHalvingPruner asha(halving(1, 2));
  std::vector<FrozenTrial> others = {
      complete(0, {{1, 5}, {2, 5}, {4, 5}}),
      complete(1, {{1, 3}, {2, 2}}),
      trial(2, TrialState::kPruned, {{1, 8}}),
  };
  // Rung 0 holds 5, 3, 8 and the new value: the best 4 / 2 = 2 go on, i.e. values <= the 2nd smallest.
  EXPECT_FALSE(ask(asha, others, running(3, {{0, 100}})));  // before the first rung nothing is judged
  EXPECT_FALSE(ask(asha, others, running(3, {{1, 4}})));    // {3, 4, 5, 8}: 4 is 2nd best
  EXPECT_TRUE(ask(asha, others, running(3, {{1, 6}})));     // {3, 5, 6, 8}: 6 is 3rd
  // Between rungs a promoted trial is not judged again, however bad its new reports.
  EXPECT_FALSE(ask(asha, others, running(3, {{1, 4}, {2, 1}, {3, 100}})));
  // Rung 1 holds 5 and 2 (trial 2 never got there) and the new value: 3 // 2 = 1, so only the best goes on.
  EXPECT_TRUE(ask(asha, others, running(3, {{1, 4}, {2, 3}})));
  EXPECT_FALSE(ask(asha, others, running(3, {{1, 4}, {2, 1}})));
}

TEST_P(PrunerTest, AshaFirstTrialsAtARungMustBeTheBest) {
  SuccessiveHalvingPruner asha(halving(1, 4));
  EXPECT_FALSE(ask(asha, {}, running(0, {{1, 7}})));  // alone at the rung
  std::vector<FrozenTrial> others = {complete(0, {{1, 5}})};
  EXPECT_TRUE(ask(asha, others, running(1, {{1, 6}})));  // 2 // 4 = 0 slots: only the best continues
  EXPECT_FALSE(ask(asha, others, running(1, {{1, 5}})));  // ties continue
}

TEST_P(PrunerTest, AshaJudgesEveryRungASkippingReportCrosses) {
  SuccessiveHalvingPruner asha(halving(1, 2));
  std::vector<FrozenTrial> others = {
      complete(0, {{1, 1}, {2, 9}, {4, 9}}),
      complete(1, {{1, 9}, {2, 1}, {4, 9}}),
      complete(2, {{1, 9}, {2, 9}, {4, 1}}),
  };
  // Jumping straight to step 4 judges rungs 0, 1 and 2 with the step-4 value; each other trial is best at one
  // rung, so a value of 5 passes rung 0 ({1, 9, 9, 5}: 2nd best) but a value of 9.5 does not.
  EXPECT_FALSE(ask(asha, others, running(3, {{4, 5}})));
  EXPECT_TRUE(ask(asha, others, running(3, {{4, 9.5}})));
  // A trial that skipped a rung's step competes there with its first report after it (what Optuna records).
  std::vector<FrozenTrial> late = {complete(0, {{3, 1}})};  // reached rungs 0 and 1 with the value 1
  EXPECT_TRUE(ask(asha, late, running(1, {{1, 2}})));
}

TEST_P(PrunerTest, AshaPrunesNaNAtARung) {
  SuccessiveHalvingPruner asha(halving(2, 2));
  FrozenTrial t = running(0, {});
  t.intermediate_values[1] = kNaN;
  EXPECT_FALSE(asha.prune(t, {t}, direction()));  // step 1 is before the first rung (2)
  t.intermediate_values[2] = kNaN;
  EXPECT_TRUE(asha.prune(t, {t}, direction()));
  // A NaN recorded by another trial never competes.
  FrozenTrial nan_other = complete(1, {});
  nan_other.intermediate_values[2] = kNaN;
  EXPECT_FALSE(ask(asha, {nan_other}, running(2, {{2, 100}})));
}

TEST_P(PrunerTest, AshaBootstrapCountPrunesUntilTheRungIsPopulated) {
  SuccessiveHalvingOptions o = halving(1, 2);
  o.bootstrap_count = 2;
  SuccessiveHalvingPruner asha(o);
  std::vector<FrozenTrial> others = {complete(0, {{1, 5}})};
  EXPECT_TRUE(ask(asha, others, running(1, {{1, 1}})));  // 2 competitors <= bootstrap_count
  others.push_back(complete(1, {{1, 6}}));
  EXPECT_FALSE(ask(asha, others, running(2, {{1, 1}})));  // 3 competitors, and the best
}

TEST_P(PrunerTest, AshaAutoMinResourceComesFromTheFirstCompletedTrial) {
  SuccessiveHalvingPruner asha(SuccessiveHalvingOptions{});  // min_resource auto, reduction_factor 4
  EXPECT_FALSE(asha.min_resource().has_value());
  std::vector<FrozenTrial> running_only = {running(0, {{0, 1}, {500, 1}})};
  EXPECT_FALSE(ask(asha, running_only, running(1, {{500, 100}})));  // unknown yet: never prunes
  EXPECT_FALSE(asha.min_resource().has_value());

  std::map<int, double> long_run;
  for (int s = 0; s <= 250; ++s) long_run[s] = 1;
  std::vector<FrozenTrial> others = {complete(0, long_run)};
  EXPECT_TRUE(ask(asha, others, running(1, {{2, 5}})));  // min_resource = 250 // 100 = 2: rung 0 at step 2
  ASSERT_TRUE(asha.min_resource().has_value());
  EXPECT_EQ(*asha.min_resource(), 2);
  // Once known it stays, even if longer trials complete later.
  long_run[1000] = 1;
  others.push_back(complete(2, long_run));
  EXPECT_TRUE(ask(asha, others, running(3, {{2, 5}})));  // re-estimating (10) would not judge step 2
  EXPECT_EQ(*asha.min_resource(), 2);
}

// ---- hyperband ----

HyperbandOptions hyperband_options(std::int64_t max_resource) {
  HyperbandOptions o;
  o.min_resource = 1;
  o.max_resource = max_resource;
  o.reduction_factor = 3;
  return o;
}

TEST_P(PrunerTest, HyperbandBracketCountAndWeightsFollowOptuna) {
  HyperbandPruner hb(hyperband_options(9));
  ASSERT_TRUE(hb.initialize({}));
  // floor(log3(9 / 1)) + 1 = 3 brackets with budgets ceil(3 * 3^s / (s + 1)) for s = 2, 1, 0: 9, 5, 3.
  EXPECT_EQ(hb.n_brackets(), 3);
  std::vector<int> counts(3, 0);
  const int n = 1700;
  for (int number = 0; number < n; ++number) {
    int b = hb.bracket_of(number);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 3);
    ++counts[b];
  }
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], counts[2]);
  EXPECT_GT(counts[2], 0);
  EXPECT_NEAR(counts[0] / static_cast<double>(n), 9.0 / 17, 0.06);
  EXPECT_NEAR(counts[2] / static_cast<double>(n), 3.0 / 17, 0.06);
}

TEST_P(PrunerTest, HyperbandBracketAssignmentIsDeterministic) {
  HyperbandPruner a(hyperband_options(27)), b(hyperband_options(27));
  ASSERT_TRUE(a.initialize({}));
  ASSERT_TRUE(b.initialize({}));
  EXPECT_EQ(a.n_brackets(), 4);
  std::vector<int> first, second, again;
  for (int number = 0; number < 200; ++number) {
    first.push_back(a.bracket_of(number));
    second.push_back(b.bracket_of(number));
  }
  for (int number = 0; number < 200; ++number) again.push_back(a.bracket_of(number));
  EXPECT_EQ(first, second);
  EXPECT_EQ(first, again);
}

TEST_P(PrunerTest, HyperbandBracketsAreIndependent) {
  HyperbandPruner hb(hyperband_options(9));
  ASSERT_TRUE(hb.initialize({}));
  std::vector<int> in0, in1;
  for (int number = 0; in0.size() < 5 || in1.size() < 5; ++number) {
    int b = hb.bracket_of(number);
    if (b == 0 && in0.size() < 5) in0.push_back(number);
    if (b == 1 && in1.size() < 5) in1.push_back(number);
  }
  // Bracket 0 (rungs at 1, 3, 9): the candidate is alone there, so better trials of bracket 1 do not matter.
  std::vector<FrozenTrial> others;
  for (int i = 0; i < 3; ++i) others.push_back(complete(in1[i], {{1, 1}, {3, 1}}));
  const FrozenTrial candidate = running(in0[0], {{1, 5}});
  EXPECT_FALSE(ask(hb, others, candidate));
  // Three better trials in its own bracket: 4 // 3 = 1 slot, taken by a better one.
  for (int i = 1; i < 4; ++i) others.push_back(complete(in0[i], {{1, 1}, {3, 1}}));
  EXPECT_TRUE(ask(hb, others, candidate));
  // It decides exactly as a plain successive-halving pruner that only sees bracket 0.
  SuccessiveHalvingOptions sh = halving(1, 3);
  SuccessiveHalvingPruner bracket0(sh);
  std::vector<FrozenTrial> only0(others.begin() + 3, others.end());
  EXPECT_TRUE(ask(bracket0, only0, candidate));

  // Bracket 1 has min_early_stopping_rate 1: its first rung is at step 3, so step 1 is never judged.
  const FrozenTrial late = running(in1[3], {{1, 100}});
  EXPECT_FALSE(ask(hb, others, late));
  EXPECT_TRUE(ask(hb, others, running(in1[3], {{1, 100}, {3, 100}})));
}

TEST_P(PrunerTest, HyperbandAutoMaxResourceWaitsForACompletedTrial) {
  HyperbandOptions o;  // min_resource 1, max_resource auto, reduction_factor 3
  HyperbandPruner hb(o);
  EXPECT_FALSE(ask(hb, {running(0, {{0, 1}, {8, 1}})}, running(1, {{8, 100}})));
  EXPECT_EQ(hb.n_brackets(), 0);
  std::map<int, double> run;
  for (int s = 0; s <= 8; ++s) run[s] = 1;
  hb.prune(running(1, {{0, 100}}), {complete(0, run), running(1, {{0, 100}})}, direction());
  EXPECT_EQ(hb.n_brackets(), 3);  // max_resource = 8 + 1 = 9
}

// ---- patient ----

// Records whether it was consulted and answers as told.
class ScriptedPruner : public Pruner {
 public:
  ScriptedPruner(bool answer, int* calls) : answer_(answer), calls_(calls) {}
  bool prune(const FrozenTrial&, const std::vector<FrozenTrial>&, StudyDirection) override {
    ++*calls_;
    return answer_;
  }

 private:
  bool answer_;
  int* calls_;
};

TEST_P(PrunerTest, PatientPrunesWhenRecentReportsAreWorse) {
  PatientPruner patient(nullptr, 2);
  // Needs more than patience + 1 reports.
  EXPECT_FALSE(ask(patient, {}, running(0, {{0, 3}, {1, 4}, {2, 5}})));
  EXPECT_TRUE(ask(patient, {}, running(0, {{0, 3}, {1, 4}, {2, 5}, {3, 4.5}})));
  // An improvement within the last patience + 1 reports keeps it.
  EXPECT_FALSE(ask(patient, {}, running(0, {{0, 3}, {1, 4}, {2, 2.9}, {3, 4.5}})));
  // Equal to the earlier best is not worse, so it is not pruned (Optuna's strict comparison).
  EXPECT_FALSE(ask(patient, {}, running(0, {{0, 3}, {1, 3}, {2, 3}, {3, 3}})));
  // Only the best before the window matters, not the latest report before it.
  EXPECT_TRUE(ask(patient, {}, running(0, {{0, 1}, {1, 9}, {2, 2}, {3, 2}, {4, 2}})));
}

TEST_P(PrunerTest, PatientMinDeltaToleratesSmallRegressions) {
  const FrozenTrial t = running(0, {{0, 3}, {1, 3.4}, {2, 3.5}});
  PatientPruner strict(nullptr, 1, 0.0), tolerant(nullptr, 1, 0.5);
  EXPECT_TRUE(ask(strict, {}, t));
  EXPECT_FALSE(ask(tolerant, {}, t));
  EXPECT_TRUE(ask(tolerant, {}, running(0, {{0, 3}, {1, 3.6}, {2, 3.7}})));
}

TEST_P(PrunerTest, PatientZeroPatienceComparesTheLatestReport) {
  PatientPruner patient(nullptr, 0);
  EXPECT_FALSE(ask(patient, {}, running(0, {{0, 3}})));
  EXPECT_TRUE(ask(patient, {}, running(0, {{0, 3}, {1, 4}})));
  EXPECT_FALSE(ask(patient, {}, running(0, {{0, 3}, {1, 2}})));
}

TEST_P(PrunerTest, PatientAsksTheWrappedPrunerOnlyAfterStagnation) {
  int calls = 0;
  PatientPruner says_no(std::make_unique<ScriptedPruner>(false, &calls), 1);
  EXPECT_FALSE(ask(says_no, {}, running(0, {{0, 3}, {1, 2}, {2, 2.5}})));  // improving
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(ask(says_no, {}, running(0, {{0, 3}, {1, 4}, {2, 5}})));  // stagnated, but the wrapped says no
  EXPECT_EQ(calls, 1);
  PatientPruner says_yes(std::make_unique<ScriptedPruner>(true, &calls), 1);
  EXPECT_TRUE(ask(says_yes, {}, running(0, {{0, 3}, {1, 4}, {2, 5}})));
  EXPECT_EQ(calls, 2);
}

TEST_P(PrunerTest, PatientIgnoresNaNUnlessEverythingIsNaN) {
  PatientPruner patient(nullptr, 1);
  EXPECT_TRUE(ask(patient, {}, running(0, {{0, 3}, {1, kNaN}, {2, 4}})));
  FrozenTrial all_nan = running(0, {{0, 3}});
  all_nan.intermediate_values[1] = kNaN;
  all_nan.intermediate_values[2] = kNaN;
  EXPECT_FALSE(patient.prune(all_nan, {all_nan}, direction()));
}

TEST_P(PrunerTest, PatientFromYamlWrapsANestedPruner) {
  auto others = five_completed();
  const FrozenTrial stagnating_but_good = running(5, {{0, 1}, {1, 2}, {2, 2}});
  const FrozenTrial stagnating_and_bad = running(5, {{0, 9}, {1, 10}, {2, 10}});
  auto alone = make_pruner(section("pruner: {name: patient, patience: 1}"));
  EXPECT_TRUE(ask(*alone, others, stagnating_but_good));
  auto wrapped = make_pruner(section("pruner:\n  name: patient\n  patience: 1\n  wrapped: {name: median}\n"));
  EXPECT_FALSE(ask(*wrapped, others, stagnating_but_good));
  EXPECT_TRUE(ask(*wrapped, others, stagnating_and_bad));
  // `none` means nothing to consult, not "never prune".
  auto none = make_pruner(section("pruner: {name: patient, patience: 1, wrapped: {name: none}}"));
  EXPECT_TRUE(ask(*none, others, stagnating_but_good));
}

// ---- registry ----

using PrunerRegistryTest = testing::NasforgeTest;

TEST_F(PrunerRegistryTest, AbsentSectionIsNone) {
  auto p = make_pruner(ConfigNode::parse_string("study: x\n").get("pruner"));
  EXPECT_NE(dynamic_cast<NopPruner*>(p.get()), nullptr);
  FrozenTrial t;
  t.number = 0;
  t.intermediate_values[0] = kNaN;
  EXPECT_FALSE(p->prune(t, {t}, StudyDirection::kMinimize));
}

TEST_F(PrunerRegistryTest, EveryCatalogEntryBuildsWithItsDefaults) {
  for (const auto& info : pruner_catalog()) {
    std::string extra = info.name == "patient" ? ", patience: 3" : info.name == "percentile" ? ", percentile: 25" : "";
    auto node = ConfigNode::parse_string("pruner: {name: " + info.name + extra + "}\n").get("pruner");
    EXPECT_NE(make_pruner(node), nullptr) << info.name;
  }
}

TEST_F(PrunerRegistryTest, YamlOptionsReachThePruner) {
  auto p = make_pruner(ConfigNode::parse_string("pruner: {name: asha, min_resource: 3, reduction_factor: 2, "
                                                "min_early_stopping_rate: 1}\n")
                           .get("pruner"));
  auto* asha = dynamic_cast<SuccessiveHalvingPruner*>(p.get());
  ASSERT_NE(asha, nullptr);
  EXPECT_EQ(asha->rung_step(0), 6);
  EXPECT_EQ(asha->rung_step(1), 12);
  auto hb = make_pruner(ConfigNode::parse_string("pruner: {name: hyperband, max_resource: 27}\n").get("pruner"));
  auto* hyperband = dynamic_cast<HyperbandPruner*>(hb.get());
  ASSERT_NE(hyperband, nullptr);
  ASSERT_TRUE(hyperband->initialize({}));
  EXPECT_EQ(hyperband->n_brackets(), 4);
}

// Runs make_pruner on `yaml` and returns the ConfigError message ("" if none was thrown).
std::string pruner_error(const std::string& yaml) {
  try {
    make_pruner(ConfigNode::parse_string(yaml, "study.yaml").get("pruner"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(PrunerRegistryTest, UnknownNameSuggestsTheNearestAndListsAll) {
  std::string msg = pruner_error("pruner:\n  name: medain\n");
  EXPECT_NE(msg.find("study.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'medain'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'median'"), std::string::npos) << msg;
  for (const auto& info : pruner_catalog()) EXPECT_NE(msg.find(info.name), std::string::npos) << info.name;
}

TEST_F(PrunerRegistryTest, UnknownOptionSuggestsTheNearestKey) {
  std::string msg = pruner_error("pruner:\n  name: median\n  n_warmup_step: 3\n");
  EXPECT_NE(msg.find("study.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("n_warmup_step'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'n_warmup_steps'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("interval_steps"), std::string::npos) << msg;  // the valid keys are listed
  // Keys of one pruner are not valid for another.
  EXPECT_NE(pruner_error("pruner: {name: median, percentile: 30}\n").find("unknown key 'percentile'"),
            std::string::npos);
}

TEST_F(PrunerRegistryTest, BadValuesAreQuoted) {
  std::string msg = pruner_error("pruner:\n  name: percentile\n  percentile: 150\n");
  EXPECT_NE(msg.find("study.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pruner.percentile"), std::string::npos) << msg;
  EXPECT_NE(msg.find("150"), std::string::npos) << msg;
  EXPECT_NE(pruner_error("pruner: {name: median, interval_steps: 0}").find("got 0"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: median, n_warmup_steps: 1.5}").find("'1.5'"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: asha, min_resource: soon}").find("'soon'"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: asha, reduction_factor: 1}").find("got 1"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: asha, bootstrap_count: 2}").find("auto"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: hyperband, min_resource: 5, max_resource: 4}").find("'4'"),
            std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: patient, patience: -1}").find("got -1"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: patient, patience: 1, min_delta: -0.5}").find("-0.5"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: patient}").find("patience"), std::string::npos);
  EXPECT_NE(pruner_error("pruner: {name: percentile}").find("required"), std::string::npos);
}

TEST_F(PrunerRegistryTest, NestedErrorsNameTheNestedPath) {
  std::string msg = pruner_error("pruner:\n  name: patient\n  patience: 2\n  wrapped:\n    name: median\n"
                                 "    n_startup_trial: 3\n");
  EXPECT_NE(msg.find("study.yaml:6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pruner.wrapped.n_startup_trial'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'n_startup_trials'"), std::string::npos) << msg;
}

TEST_F(PrunerRegistryTest, ConstructorsRejectBadOptions) {
  PercentileOptions p;
  p.percentile = -1;
  EXPECT_THROW(PercentilePruner{p}, ValueError);
  SuccessiveHalvingOptions s;
  s.min_resource = 0;
  EXPECT_THROW(SuccessiveHalvingPruner{s}, ValueError);
  HyperbandOptions h;
  h.reduction_factor = 1;
  EXPECT_THROW(HyperbandPruner{h}, ValueError);
  EXPECT_THROW(PatientPruner(nullptr, -2), ValueError);
}

}  // namespace
}  // namespace nasforge
