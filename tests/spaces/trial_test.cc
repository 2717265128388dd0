#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "spaces/trial.h"
#include "testing.h"

namespace nasforge {
namespace {

using TrialTest = testing::NasforgeTest;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<StudyDirection> kMin = {StudyDirection::kMinimize};
const std::vector<StudyDirection> kMax = {StudyDirection::kMaximize};
const std::vector<StudyDirection> kMinMax = {StudyDirection::kMinimize, StudyDirection::kMaximize};

FrozenTrial finished(int number, std::vector<double> values, TrialState state = TrialState::kComplete) {
  FrozenTrial t;
  t.number = number;
  t.trial_id = 1000 + number;
  t.state = state;
  t.values = std::move(values);
  return t;
}

std::vector<int> numbers(const std::vector<FrozenTrial>& trials) {
  std::vector<int> out;
  for (const auto& t : trials) out.push_back(t.number);
  return out;
}

// ---- names ----

TEST_F(TrialTest, StateNamesRoundTrip) {
  for (TrialState s : {TrialState::kRunning, TrialState::kComplete, TrialState::kPruned, TrialState::kFail,
                       TrialState::kWaiting}) {
    EXPECT_EQ(parse_trial_state(to_string(s)), s) << to_string(s);
  }
  EXPECT_STREQ(to_string(TrialState::kComplete), "COMPLETE");
  EXPECT_STREQ(to_string(TrialState::kPruned), "PRUNED");
  try {
    parse_trial_state("complete");
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'complete'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("RUNNING, COMPLETE, PRUNED, FAIL, WAITING"), std::string::npos) << e.what();
  }
}

TEST_F(TrialTest, OnlyCompletePrunedAndFailAreFinished) {
  EXPECT_TRUE(is_finished(TrialState::kComplete));
  EXPECT_TRUE(is_finished(TrialState::kPruned));
  EXPECT_TRUE(is_finished(TrialState::kFail));
  EXPECT_FALSE(is_finished(TrialState::kRunning));
  EXPECT_FALSE(is_finished(TrialState::kWaiting));
}

TEST_F(TrialTest, DirectionNamesRoundTrip) {
  EXPECT_EQ(parse_direction(to_string(StudyDirection::kMinimize)), StudyDirection::kMinimize);
  EXPECT_EQ(parse_direction(to_string(StudyDirection::kMaximize)), StudyDirection::kMaximize);
  try {
    parse_direction("maximise");
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'maximize'"), std::string::npos) << e.what();
  }
}

// ---- FrozenTrial accessors ----

TEST_F(TrialTest, ValueOnlyForCompleteSingleObjectiveTrials) {
  EXPECT_EQ(finished(0, {1.5}).value(), std::optional<double>(1.5));
  EXPECT_FALSE(finished(0, {1.5}, TrialState::kPruned).value().has_value());
  EXPECT_FALSE(finished(0, {1.5, 2.0}).value().has_value());
  EXPECT_FALSE(finished(0, {}).value().has_value());
}

TEST_F(TrialTest, LastStepIsTheLargestReportedStep) {
  FrozenTrial t;
  EXPECT_FALSE(t.last_step().has_value());
  t.intermediate_values[5] = 1;
  t.intermediate_values[2] = 3;
  t.intermediate_values[11] = 0;
  EXPECT_EQ(t.last_step(), std::optional<int>(11));
}

TEST_F(TrialTest, InternalParamUsesTheDistribution) {
  FrozenTrial t;
  t.params["act"] = "tanh";
  t.distributions.emplace("act", Distribution::make_categorical({"relu", "tanh"}));
  t.params["n"] = 4;
  t.distributions.emplace("n", Distribution::make_int(1, 8));
  t.params["orphan"] = 1.0;
  EXPECT_EQ(t.internal_param("act"), std::optional<double>(1.0));
  EXPECT_EQ(t.internal_param("n"), std::optional<double>(4.0));
  EXPECT_FALSE(t.internal_param("orphan").has_value());  // no distribution recorded
  EXPECT_FALSE(t.internal_param("absent").has_value());
}

// ---- dominance and Pareto front ----

TEST_F(TrialTest, DominatesRespectsDirections) {
  EXPECT_TRUE(dominates({1.0}, {2.0}, kMin));
  EXPECT_FALSE(dominates({2.0}, {1.0}, kMin));
  EXPECT_TRUE(dominates({2.0}, {1.0}, kMax));
  EXPECT_FALSE(dominates({1.0}, {1.0}, kMin));  // equal is not strictly better
  EXPECT_TRUE(dominates({1.0, 5.0}, {2.0, 4.0}, kMinMax));
  EXPECT_TRUE(dominates({1.0, 5.0}, {1.0, 4.0}, kMinMax));  // equal in one, better in the other
  EXPECT_FALSE(dominates({1.0, 3.0}, {2.0, 4.0}, kMinMax));  // a trade-off
  EXPECT_FALSE(dominates({2.0, 4.0}, {1.0, 3.0}, kMinMax));
}

TEST_F(TrialTest, NaNIsWorseThanAnyNumber) {
  EXPECT_TRUE(dominates({5.0}, {kNaN}, kMin));
  EXPECT_TRUE(dominates({-5.0}, {kNaN}, kMax));
  EXPECT_FALSE(dominates({kNaN}, {5.0}, kMin));
  EXPECT_FALSE(dominates({kNaN}, {kNaN}, kMin));
  EXPECT_TRUE(dominates({1.0, 1.0}, {1.0, kNaN}, kMinMax));
  EXPECT_FALSE(dominates({kNaN, 9.0}, {1.0, 1.0}, kMinMax));
}

TEST_F(TrialTest, ParetoFrontOfOneObjectiveIsTheEarliestBest) {
  std::vector<FrozenTrial> trials = {finished(0, {3}), finished(1, {1}), finished(2, {1}), finished(3, {2}),
                                     finished(4, {0}, TrialState::kPruned), finished(5, {kNaN})};
  EXPECT_EQ(numbers(pareto_front(trials, kMin)), std::vector<int>{1});
  EXPECT_EQ(numbers(pareto_front(trials, kMax)), std::vector<int>{0});
}

TEST_F(TrialTest, ParetoFrontKeepsTradeOffsAndTies) {
  std::vector<FrozenTrial> trials = {
      finished(0, {1, 1}),  // worst accuracy, fastest
      finished(1, {3, 5}),
      finished(2, {2, 3}),
      finished(3, {3, 4}),  // dominated by 1
      finished(4, {2, 3}),  // ties with 2: neither dominates the other
      finished(5, {kNaN, 4}),  // dominated by 1: NaN is the worst value
      finished(6, {0, 9}, TrialState::kRunning),
      finished(7, {1}),  // wrong number of values
  };
  EXPECT_EQ(numbers(pareto_front(trials, kMinMax)), (std::vector<int>{0, 1, 2, 4}));
  // NaN in one objective is only the worst there: the best value in the other keeps a trial on the front.
  trials.push_back(finished(8, {kNaN, 6}));
  EXPECT_EQ(numbers(pareto_front(trials, kMinMax)), (std::vector<int>{0, 1, 2, 4, 8}));
}

TEST_F(TrialTest, ParetoFrontWithNaNAndNoCompleteTrials) {
  EXPECT_TRUE(pareto_front({}, kMin).empty());
  EXPECT_TRUE(pareto_front({finished(0, {1}, TrialState::kFail)}, kMin).empty());
  // If every value is NaN nothing dominates anything: the earliest is the best.
  EXPECT_EQ(numbers(pareto_front({finished(0, {kNaN}), finished(1, {kNaN})}, kMin)), std::vector<int>{0});
  // A NaN-free trial beats NaN in either direction.
  EXPECT_EQ(numbers(pareto_front({finished(0, {kNaN}), finished(1, {1e9})}, kMin)), std::vector<int>{1});
  EXPECT_EQ(numbers(pareto_front({finished(0, {kNaN}), finished(1, {-1e9})}, kMax)), std::vector<int>{1});
}

// ---- JSON ----

TEST_F(TrialTest, ToJsonHasEveryField) {
  FrozenTrial t = finished(7, {0.25});
  t.params["lr"] = 0.01;
  t.params["act"] = "relu";
  t.intermediate_values[0] = 0.5;
  t.intermediate_values[3] = kNaN;
  t.user_attrs["note"] = "hello";
  t.system_attrs["grid_id"] = 4;
  Clock::time_point start = Clock::now();
  t.datetime_start = start;
  t.datetime_complete = start + std::chrono::milliseconds(1500);
  Json j = t.to_json();
  EXPECT_EQ(j["number"], 7);
  EXPECT_EQ(j["state"], "COMPLETE");
  EXPECT_EQ(j["values"], Json::array({0.25}));
  EXPECT_EQ(j["params"]["lr"], 0.01);
  EXPECT_EQ(j["params"]["act"], "relu");
  EXPECT_EQ(j["intermediate_values"]["0"], 0.5);
  EXPECT_EQ(j["intermediate_values"]["3"], "nan");  // JSON has no NaN
  EXPECT_EQ(j["user_attrs"]["note"], "hello");
  EXPECT_EQ(j["system_attrs"]["grid_id"], 4);
  EXPECT_EQ(j["datetime_start"], format_time(start));
  EXPECT_EQ(j["datetime_complete"], format_time(*t.datetime_complete));
  EXPECT_DOUBLE_EQ(j["duration_s"].get<double>(), 1.5);
  EXPECT_NO_THROW(Json::parse(j.dump()));
}

TEST_F(TrialTest, ToJsonOfAnUnfinishedTrial) {
  FrozenTrial t = finished(2, {}, TrialState::kRunning);
  Json j = t.to_json();
  EXPECT_EQ(j["state"], "RUNNING");
  EXPECT_TRUE(j["values"].is_null());
  EXPECT_TRUE(j["datetime_start"].is_null());
  EXPECT_TRUE(j["datetime_complete"].is_null());
  EXPECT_FALSE(j.contains("duration_s"));
  EXPECT_TRUE(j["params"].is_object());
  EXPECT_TRUE(j["intermediate_values"].is_object());
  // A pruned trial's values are not reported as objective values.
  EXPECT_TRUE(finished(3, {1.0}, TrialState::kPruned).to_json()["values"].is_null());
  EXPECT_EQ(finished(4, {INFINITY}).to_json()["values"], Json::array({"inf"}));
}

TEST_F(TrialTest, FormatTimeHasMicroseconds) {
  Clock::time_point t = Clock::now();
  std::string s = format_time(t);
  // YYYY-MM-DDTHH:MM:SS.ffffff
  ASSERT_EQ(s.size(), 26u) << s;
  EXPECT_EQ(s[10], 'T');
  EXPECT_EQ(s[19], '.');
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  EXPECT_EQ(std::stoll(s.substr(20)), us);
}

}  // namespace
}  // namespace nasforge
