// One suite, every backend: the Storage contract in storage/storage.h, method by method.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "storage/in_memory_storage.h"
#include "storage/postgres_testing.h"
#include "storage/sqlite_storage.h"
#include "storage/storage.h"
#include "testing.h"

namespace nasforge {
namespace {

using testing::NasforgeTest;

class StorageConformanceTest : public NasforgeTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    NasforgeTest::SetUp();
    if (GetParam() == "postgresql") {
      NASFORGE_REQUIRE_POSTGRES(server);
      database_ = std::make_unique<testing::TestDatabase>(*server);
      ASSERT_TRUE(database_->ok()) << database_->error();
    }
    storage_ = open();
  }
  void TearDown() override {
    storage_.reset();
    database_.reset();
    NasforgeTest::TearDown();
  }

  // A fresh storage of the backend under test (for SQLite and PostgreSQL, a second connection to the same data).
  std::shared_ptr<Storage> open() {
    if (GetParam() == "memory") return open_storage("memory");
    if (GetParam() == "postgresql") return open_storage(database_->url());
    return open_storage("sqlite:///" + tmp("conformance.db"));
  }

  std::int64_t make_study(const std::string& name = "s", int n_objectives = 1) {
    return storage_->create_study(name, std::vector<StudyDirection>(n_objectives, StudyDirection::kMinimize));
  }

  FrozenTrial running(std::int64_t study, ParamMap params = {}, std::map<std::string, Distribution> dists = {},
                      bool heartbeat = false) {
    NewTrial t;
    t.params = std::move(params);
    t.distributions = std::move(dists);
    t.heartbeat = heartbeat;
    return *storage_->create_trial(study, t);
  }

  FrozenTrial waiting(std::int64_t study, ParamMap params = {}, std::map<std::string, Distribution> dists = {}) {
    NewTrial t;
    t.state = TrialState::kWaiting;
    t.params = std::move(params);
    t.distributions = std::move(dists);
    return *storage_->create_trial(study, t);
  }

  static std::vector<int> numbers(const std::vector<FrozenTrial>& trials) {
    std::vector<int> out;
    for (const auto& t : trials) out.push_back(t.number);
    return out;
  }

  std::unique_ptr<testing::TestDatabase> database_;  // PostgreSQL: this test's own database
  std::shared_ptr<Storage> storage_;
};

TEST_P(StorageConformanceTest, NamesThatCannotBeFoldersAreRefusedAndRenameKeepsTheTrials) {
  for (const std::string& bad : std::vector<std::string>{"..", ".", "/tmp/x", "./alpha", "a/b", "a\\b", "a b", "a\nb", "a\x1b[2Jb",
                                std::string("a\0b", 3), "-rf", ".hidden", "caf\xc3\xa9", std::string(129, 'x')}) {
    EXPECT_THROW(storage_->create_study(bad, {StudyDirection::kMinimize}), ValueError) << bad;
    EXPECT_THROW(storage_->import_study(StudyInfo{-1, bad, {StudyDirection::kMinimize}, {}, {}}, {}), ValueError)
        << bad;
  }
  EXPECT_TRUE(storage_->list_studies().empty());

  std::int64_t a = storage_->create_study("alpha", {StudyDirection::kMinimize});
  storage_->create_study("beta", {StudyDirection::kMinimize});
  FrozenTrial t = running(a);
  storage_->rename_study(a, "alpha-2");
  EXPECT_EQ(storage_->find_study("alpha"), std::nullopt);
  EXPECT_EQ(storage_->find_study("alpha-2"), a);
  EXPECT_EQ(storage_->get_trial(t.trial_id).number, t.number);
  storage_->rename_study(a, "alpha-2");  // to its own name: nothing to do
  EXPECT_THROW(storage_->rename_study(a, "beta"), DuplicateStudyError);
  EXPECT_THROW(storage_->rename_study(a, "../beta"), ValueError);
  EXPECT_THROW(storage_->rename_study(a + 1000, "gamma"), NotFoundError);
  EXPECT_EQ(storage_->get_study(a).name, "alpha-2");
}

TEST_P(StorageConformanceTest, StudyCreateFindListDelete) {
  std::int64_t a = storage_->create_study("alpha", {StudyDirection::kMinimize});
  std::int64_t b = storage_->create_study("beta", {StudyDirection::kMaximize, StudyDirection::kMinimize});
  EXPECT_NE(a, b);
  EXPECT_THROW(storage_->create_study("alpha", {StudyDirection::kMaximize}), DuplicateStudyError);
  EXPECT_THROW(storage_->create_study("gamma", {}), ValueError);
  EXPECT_THROW(storage_->create_study("", {StudyDirection::kMinimize}), ValueError);

  EXPECT_EQ(storage_->find_study("alpha"), a);
  EXPECT_EQ(storage_->find_study("beta"), b);
  EXPECT_EQ(storage_->find_study("nope"), std::nullopt);

  StudyInfo info = storage_->get_study(b);
  EXPECT_EQ(info.study_id, b);
  EXPECT_EQ(info.name, "beta");
  EXPECT_EQ(info.directions, (std::vector<StudyDirection>{StudyDirection::kMaximize, StudyDirection::kMinimize}));
  EXPECT_TRUE(info.user_attrs.empty());
  EXPECT_TRUE(info.system_attrs.empty());

  std::vector<StudyInfo> all = storage_->list_studies();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alpha");
  EXPECT_EQ(all[1].name, "beta");

  FrozenTrial t = running(a);
  storage_->delete_study(a);
  EXPECT_EQ(storage_->find_study("alpha"), std::nullopt);
  EXPECT_THROW(storage_->get_study(a), NotFoundError);
  EXPECT_THROW(storage_->get_trial(t.trial_id), NotFoundError);
  EXPECT_THROW(storage_->get_all_trials(a), NotFoundError);
  EXPECT_THROW(storage_->delete_study(a), NotFoundError);
  ASSERT_EQ(storage_->list_studies().size(), 1u);
  // The name is free again, under a new id.
  std::int64_t again = storage_->create_study("alpha", {StudyDirection::kMinimize});
  EXPECT_NE(again, a);
  EXPECT_TRUE(storage_->get_all_trials(again).empty());
}

TEST_P(StorageConformanceTest, StudyAttributesAndClaims) {
  std::int64_t s = make_study();
  Json nested = {{"layers", {64, 128}}, {"name", "ünïcode"}, {"ratio", 0.125}, {"flag", true}, {"none", nullptr}};
  storage_->set_study_user_attr(s, "config", nested);
  storage_->set_study_user_attr(s, "note", "first");
  storage_->set_study_user_attr(s, "note", "second");
  storage_->set_study_system_attr(s, "n_trials", 50);
  StudyInfo info = storage_->get_study(s);
  EXPECT_EQ(info.user_attrs.at("config"), nested);
  EXPECT_EQ(info.user_attrs.at("note"), "second");
  EXPECT_EQ(info.system_attrs.at("n_trials"), 50);
  EXPECT_EQ(info.user_attrs.count("n_trials"), 0u);

  EXPECT_TRUE(storage_->claim_study_key(s, "grid:3", 7));
  EXPECT_FALSE(storage_->claim_study_key(s, "grid:3", 8));
  EXPECT_TRUE(storage_->claim_study_key(s, "grid:4", 9));
  info = storage_->get_study(s);
  EXPECT_EQ(info.system_attrs.at("grid:3"), 7);
  EXPECT_EQ(info.system_attrs.at("grid:4"), 9);
  // A key set by set_study_system_attr is claimed too.
  EXPECT_FALSE(storage_->claim_study_key(s, "n_trials", 1));

  EXPECT_THROW(storage_->set_study_user_attr(s + 1000, "k", 1), NotFoundError);
  EXPECT_THROW(storage_->set_study_system_attr(s + 1000, "k", 1), NotFoundError);
  EXPECT_THROW(storage_->claim_study_key(s + 1000, "k", 1), NotFoundError);

  // Attributes given at creation are part of the same write.
  std::int64_t t = storage_->create_study("with-attrs", {StudyDirection::kMaximize},
                                          {{"config_yaml", "space: {}"}, {"seed", 42}});
  EXPECT_EQ(storage_->get_study(t).system_attrs.at("config_yaml"), "space: {}");
  EXPECT_EQ(storage_->get_study(t).system_attrs.at("seed"), 42);
  EXPECT_THROW(storage_->create_study("with-attrs", {StudyDirection::kMaximize}, {{"seed", 1}}), DuplicateStudyError);
  EXPECT_EQ(storage_->get_study(t).system_attrs.at("seed"), 42);
}

TEST_P(StorageConformanceTest, CreateTrialNumbersPerStudy) {
  std::int64_t a = make_study("a");
  std::int64_t b = make_study("b");
  FrozenTrial a0 = running(a);
  FrozenTrial a1 = waiting(a);
  FrozenTrial b0 = running(b);
  FrozenTrial a2 = running(a);
  EXPECT_EQ(a0.number, 0);
  EXPECT_EQ(a1.number, 1);
  EXPECT_EQ(a2.number, 2);
  EXPECT_EQ(b0.number, 0);
  std::set<std::int64_t> ids = {a0.trial_id, a1.trial_id, a2.trial_id, b0.trial_id};
  EXPECT_EQ(ids.size(), 4u);

  EXPECT_EQ(a0.state, TrialState::kRunning);
  EXPECT_TRUE(a0.datetime_start.has_value());
  EXPECT_FALSE(a0.datetime_complete.has_value());
  EXPECT_EQ(a1.state, TrialState::kWaiting);
  EXPECT_FALSE(a1.datetime_start.has_value());

  FrozenTrial stored = storage_->get_trial(a0.trial_id);
  EXPECT_EQ(stored.number, 0);
  EXPECT_EQ(stored.datetime_start, a0.datetime_start);
  EXPECT_EQ(stored.to_json(), a0.to_json());

  NewTrial bad;
  bad.state = TrialState::kComplete;
  EXPECT_THROW(storage_->create_trial(a, bad), ValueError);
  EXPECT_THROW(storage_->create_trial(a + b + 1000, NewTrial{}), NotFoundError);
}

TEST_P(StorageConformanceTest, MaxSlotsRefusesWhenFullAndIgnoresRetriedFailures) {
  std::int64_t s = make_study();
  NewTrial t;
  ASSERT_TRUE(storage_->create_trial(s, t, 3).has_value());
  ASSERT_TRUE(storage_->create_trial(s, t, 3).has_value());
  FrozenTrial third = *storage_->create_trial(s, t, 3);
  EXPECT_EQ(third.number, 2);
  EXPECT_FALSE(storage_->create_trial(s, t, 3).has_value());
  EXPECT_EQ(storage_->get_all_trials(s).size(), 3u);
  EXPECT_TRUE(storage_->create_trial(s, t, 4).has_value());  // a bigger budget has room

  // A retried failure frees its slot, but its WAITING copy takes it again.
  ASSERT_EQ(storage_->fail_trial(third.trial_id, "boom", 1), 4);
  TrialCounts c = storage_->count_trials(s);
  EXPECT_EQ(c.running + c.waiting + c.failed, 5);
  EXPECT_EQ(c.slots(), 4);
  EXPECT_FALSE(storage_->create_trial(s, t, 4).has_value());
  EXPECT_EQ(storage_->create_trial(s, t, 5)->number, 5);
  // A failure that is not retried keeps its slot.
  FrozenTrial first = storage_->get_all_trials(s).front();
  EXPECT_EQ(storage_->fail_trial(first.trial_id, "boom", 0), std::nullopt);
  EXPECT_EQ(storage_->count_trials(s).slots(), 5);
  EXPECT_FALSE(storage_->create_trial(s, t, 5).has_value());
}

TEST_P(StorageConformanceTest, PopWaitingTrialTakesLowestNumberFirst) {
  std::int64_t s = make_study();
  auto d = Distribution::make_int(0, 10);
  EXPECT_EQ(storage_->pop_waiting_trial(s, false), std::nullopt);
  running(s);
  waiting(s, {{"x", 1}}, {{"x", d}});
  running(s);
  waiting(s, {{"x", 2}}, {{"x", d}});
  waiting(s, {{"x", 3}}, {{"x", d}});

  std::vector<int> xs;
  std::vector<int> popped;
  while (auto t = storage_->pop_waiting_trial(s, true)) {
    EXPECT_EQ(t->state, TrialState::kRunning);
    EXPECT_TRUE(t->datetime_start.has_value());
    EXPECT_EQ(t->distributions.at("x"), d);
    xs.push_back(static_cast<int>(t->params.at("x").as_int()));
    popped.push_back(t->number);
    EXPECT_EQ(storage_->get_trial(t->trial_id).state, TrialState::kRunning);
  }
  EXPECT_EQ(popped, (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(xs, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(storage_->count_trials(s).waiting, 0);
  EXPECT_EQ(storage_->count_trials(s).running, 5);
  EXPECT_THROW(storage_->pop_waiting_trial(s + 1000, false), NotFoundError);
}

TEST_P(StorageConformanceTest, ParamsRoundTripWithTheirDistributions) {
  std::int64_t s = make_study();
  std::map<std::string, Distribution> dists = {
      {"lr", Distribution::make_float(1e-5, 1e-1, true)},
      {"dropout", Distribution::make_float(0.0, 0.5, false, 0.1)},
      {"width", Distribution::make_int(16, 256, false, 16)},
      {"batch", Distribution::make_int(1, 1024, true)},
      {"act", Distribution::make_categorical(
                  {ParamValue(1), ParamValue(2.5), ParamValue("relu"), ParamValue(true), ParamValue()})},
  };
  std::uniform_real_distribution<double> u(-11.5, -2.31);
  const double lr = std::exp(u(rng_));
  FrozenTrial t = running(s, {{"lr", lr}, {"act", "relu"}}, dists);
  // Extra distributions without a value are not stored.
  EXPECT_EQ(t.distributions.size(), 2u);
  storage_->set_trial_params(t.trial_id, {{"dropout", 0.3}, {"width", 48}, {"batch", 64}}, dists);

  for (const FrozenTrial& got : {storage_->get_trial(t.trial_id), storage_->get_all_trials(s).at(0)}) {
    ASSERT_EQ(got.params.size(), 5u);
    EXPECT_EQ(got.params.at("lr"), ParamValue(lr));
    EXPECT_NEAR(got.params.at("dropout").as_double(), 0.3, 1e-12);
    EXPECT_TRUE(got.params.at("width").is_int());
    EXPECT_EQ(got.params.at("width"), ParamValue(48));
    EXPECT_EQ(got.params.at("batch"), ParamValue(64));
    EXPECT_EQ(got.params.at("act"), ParamValue("relu"));
    for (const auto& [name, d] : dists) EXPECT_EQ(got.distributions.at(name), d) << name;
    EXPECT_EQ(*got.internal_param("act"), 2.0);
  }

  // Every categorical choice comes back with its own type.
  for (const ParamValue& choice : dists.at("act").choices()) {
    FrozenTrial c = running(s, {{"act", choice}}, dists);
    ParamValue back = storage_->get_trial(c.trial_id).params.at("act");
    EXPECT_EQ(back, choice) << choice.to_string();
    EXPECT_STREQ(back.type_name(), choice.type_name());
  }

  EXPECT_THROW(storage_->set_trial_params(t.trial_id, {{"width", 17}}, dists), ValueError);  // off the step grid
  EXPECT_THROW(storage_->set_trial_params(t.trial_id, {{"act", "tanh"}}, dists), ValueError);
  EXPECT_THROW(storage_->set_trial_params(t.trial_id, {{"depth", 3}}, dists), ValueError);  // no distribution
  EXPECT_THROW(storage_->set_trial_params(t.trial_id + 1000, {{"lr", 0.01}}, dists), NotFoundError);
  ASSERT_TRUE(storage_->finish_trial(t.trial_id, TrialState::kComplete, {1.0}));
  EXPECT_THROW(storage_->set_trial_params(t.trial_id, {{"lr", 0.01}}, dists), StateError);
}

TEST_P(StorageConformanceTest, FinishTrialStoresValuesIncludingNanAndInfinity) {
  std::int64_t s = make_study("multi", 4);
  FrozenTrial t = running(s);
  const double inf = std::numeric_limits<double>::infinity();
  ASSERT_TRUE(
      storage_->finish_trial(t.trial_id, TrialState::kComplete, {1.5, std::nan(""), inf, -inf}, {{"elapsed", 0.25}}));
  FrozenTrial got = storage_->get_trial(t.trial_id);
  EXPECT_EQ(got.state, TrialState::kComplete);
  ASSERT_EQ(got.values.size(), 4u);
  EXPECT_EQ(got.values[0], 1.5);
  EXPECT_TRUE(std::isnan(got.values[1]));
  EXPECT_EQ(got.values[2], inf);
  EXPECT_EQ(got.values[3], -inf);
  EXPECT_EQ(got.system_attrs.at("elapsed"), 0.25);
  ASSERT_TRUE(got.datetime_complete.has_value());
  EXPECT_GE(*got.datetime_complete, *got.datetime_start);

  // Not RUNNING any more: nothing changes.
  EXPECT_FALSE(storage_->finish_trial(t.trial_id, TrialState::kPruned, {}));
  EXPECT_EQ(storage_->get_trial(t.trial_id).state, TrialState::kComplete);
  EXPECT_EQ(storage_->get_trial(t.trial_id).values[0], 1.5);
  FrozenTrial w = waiting(s);
  EXPECT_FALSE(storage_->finish_trial(w.trial_id, TrialState::kComplete, {1, 2, 3, 4}));
  EXPECT_EQ(storage_->get_trial(w.trial_id).state, TrialState::kWaiting);

  FrozenTrial r = running(s);
  EXPECT_THROW(storage_->finish_trial(r.trial_id, TrialState::kComplete, {1.0}), ValueError);  // 4 objectives
  EXPECT_THROW(storage_->finish_trial(r.trial_id, TrialState::kRunning, {}), ValueError);
  EXPECT_EQ(storage_->get_trial(r.trial_id).state, TrialState::kRunning);
  ASSERT_TRUE(storage_->finish_trial(r.trial_id, TrialState::kPruned, {}));
  EXPECT_EQ(storage_->get_trial(r.trial_id).state, TrialState::kPruned);
  EXPECT_THROW(storage_->finish_trial(r.trial_id + 1000, TrialState::kPruned, {}), NotFoundError);
}

TEST_P(StorageConformanceTest, IntermediateValuesReplaceSameStep) {
  std::int64_t s = make_study();
  FrozenTrial t = running(s);
  const double inf = std::numeric_limits<double>::infinity();
  storage_->set_trial_intermediate_value(t.trial_id, 0, 1.0);
  storage_->set_trial_intermediate_value(t.trial_id, 5, 2.0);
  storage_->set_trial_intermediate_value(t.trial_id, 5, 3.0);
  storage_->set_trial_intermediate_value(t.trial_id, 2, std::nan(""));
  storage_->set_trial_intermediate_value(t.trial_id, 7, -inf);
  FrozenTrial got = storage_->get_trial(t.trial_id);
  ASSERT_EQ(got.intermediate_values.size(), 4u);
  EXPECT_EQ(got.intermediate_values.at(0), 1.0);
  EXPECT_EQ(got.intermediate_values.at(5), 3.0);
  EXPECT_TRUE(std::isnan(got.intermediate_values.at(2)));
  EXPECT_EQ(got.intermediate_values.at(7), -inf);
  EXPECT_EQ(got.last_step(), 7);

  ASSERT_TRUE(storage_->finish_trial(t.trial_id, TrialState::kPruned, {}));
  EXPECT_THROW(storage_->set_trial_intermediate_value(t.trial_id, 8, 1.0), StateError);
  EXPECT_THROW(storage_->set_trial_intermediate_value(t.trial_id + 1000, 8, 1.0), NotFoundError);
}

TEST_P(StorageConformanceTest, TrialAttributesRoundTripAsJson) {
  std::int64_t s = make_study();
  NewTrial nt;
  nt.user_attrs = {{"origin", "enqueued"}};
  nt.system_attrs = {{"grid_id", 12}};
  FrozenTrial t = *storage_->create_trial(s, nt);
  EXPECT_EQ(t.user_attrs.at("origin"), "enqueued");
  Json report = {{"acc", {0.5, 0.75}}, {"big", 9007199254740993LL}, {"tiny", 1e-300}, {"text", "a\"b\nc"}};
  storage_->set_trial_user_attr(t.trial_id, "report", report);
  storage_->set_trial_user_attr(t.trial_id, "origin", "replaced");
  storage_->set_trial_system_attr(t.trial_id, "worker", {{"pid", 42}, {"host", "node-1"}});
  FrozenTrial got = storage_->get_trial(t.trial_id);
  EXPECT_EQ(got.user_attrs.at("report"), report);
  EXPECT_EQ(got.user_attrs.at("origin"), "replaced");
  EXPECT_EQ(got.system_attrs.at("grid_id"), 12);
  EXPECT_EQ(got.system_attrs.at("worker").at("host"), "node-1");
  EXPECT_EQ(got.user_attrs.count("worker"), 0u);

  ASSERT_TRUE(storage_->finish_trial(t.trial_id, TrialState::kComplete, {0.0}));
  EXPECT_THROW(storage_->set_trial_user_attr(t.trial_id, "late", 1), StateError);
  EXPECT_THROW(storage_->set_trial_system_attr(t.trial_id, "late", 1), StateError);
  EXPECT_EQ(storage_->get_trial(t.trial_id).user_attrs.count("late"), 0u);
  EXPECT_THROW(storage_->set_trial_user_attr(t.trial_id + 1000, "k", 1), NotFoundError);
  EXPECT_THROW(storage_->set_trial_system_attr(t.trial_id + 1000, "k", 1), NotFoundError);
}

TEST_P(StorageConformanceTest, FailTrialWithoutRetry) {
  std::int64_t s = make_study();
  FrozenTrial t = running(s);
  EXPECT_EQ(storage_->fail_trial(t.trial_id, "objective threw: boom", 0), std::nullopt);
  FrozenTrial got = storage_->get_trial(t.trial_id);
  EXPECT_EQ(got.state, TrialState::kFail);
  EXPECT_EQ(got.system_attrs.at(attr::kFailReason), "objective threw: boom");
  EXPECT_EQ(got.system_attrs.count(attr::kRetriedBy), 0u);
  EXPECT_TRUE(got.datetime_complete.has_value());
  EXPECT_EQ(storage_->get_all_trials(s).size(), 1u);
  TrialCounts c = storage_->count_trials(s);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 0);
  EXPECT_EQ(c.finished(), 1);
  // Not RUNNING any more: nothing happens, even with retries allowed.
  EXPECT_EQ(storage_->fail_trial(t.trial_id, "again", 5), std::nullopt);
  EXPECT_EQ(storage_->get_trial(t.trial_id).system_attrs.at(attr::kFailReason), "objective threw: boom");
  EXPECT_EQ(storage_->get_all_trials(s).size(), 1u);
  EXPECT_THROW(storage_->fail_trial(t.trial_id + 1000, "x", 1), NotFoundError);
}

TEST_P(StorageConformanceTest, FailTrialRetriesUpToTheLimit) {
  std::int64_t s = make_study();
  std::map<std::string, Distribution> dists = {{"x", Distribution::make_float(0, 1)},
                                               {"k", Distribution::make_categorical({"a", "b"})}};
  FrozenTrial t0 = running(s, {{"x", 0.25}, {"k", "b"}}, dists);

  ASSERT_EQ(storage_->fail_trial(t0.trial_id, "crash 1", 2), 1);
  FrozenTrial failed = storage_->get_trial(t0.trial_id);
  EXPECT_EQ(failed.state, TrialState::kFail);
  EXPECT_EQ(failed.system_attrs.at(attr::kRetriedBy), 1);
  std::vector<FrozenTrial> all = storage_->get_all_trials(s);
  ASSERT_EQ(all.size(), 2u);
  const FrozenTrial& copy = all[1];
  EXPECT_EQ(copy.state, TrialState::kWaiting);
  EXPECT_EQ(copy.params, t0.params);
  EXPECT_EQ(copy.distributions, t0.distributions);
  EXPECT_EQ(copy.system_attrs.at(attr::kRetryOf), 0);
  EXPECT_EQ(copy.system_attrs.at(attr::kRetryCount), 1);
  TrialCounts c = storage_->count_trials(s);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.retried, 1);
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(c.finished(), 0);
  EXPECT_EQ(c.slots(), 1);

  FrozenTrial t1 = *storage_->pop_waiting_trial(s, false);
  ASSERT_EQ(t1.number, 1);
  ASSERT_EQ(storage_->fail_trial(t1.trial_id, "crash 2", 2), 2);
  FrozenTrial t2 = *storage_->pop_waiting_trial(s, false);
  ASSERT_EQ(t2.number, 2);
  EXPECT_EQ(t2.system_attrs.at(attr::kRetryOf), 0);  // the root, not the previous retry
  EXPECT_EQ(t2.system_attrs.at(attr::kRetryCount), 2);
  EXPECT_EQ(t2.params, t0.params);
  EXPECT_EQ(storage_->get_trial(t1.trial_id).system_attrs.at(attr::kRetriedBy), 2);

  // The limit is reached: the third failure is final.
  EXPECT_EQ(storage_->fail_trial(t2.trial_id, "crash 3", 2), std::nullopt);
  FrozenTrial last = storage_->get_trial(t2.trial_id);
  EXPECT_EQ(last.state, TrialState::kFail);
  EXPECT_EQ(last.system_attrs.count(attr::kRetriedBy), 0u);
  EXPECT_EQ(last.system_attrs.at(attr::kFailReason), "crash 3");
  EXPECT_EQ(storage_->get_all_trials(s).size(), 3u);
  c = storage_->count_trials(s);
  EXPECT_EQ(c.failed, 3);
  EXPECT_EQ(c.retried, 2);
  EXPECT_EQ(c.finished(), 1);
  EXPECT_EQ(c.slots(), 1);
}

TEST_P(StorageConformanceTest, ReapStaleTrialsFailsOnlyOldHeartbeats) {
  std::int64_t s = make_study();
  FrozenTrial stale = running(s, {}, {}, true);
  FrozenTrial silent = running(s, {}, {}, false);  // never had a heartbeat: left alone
  FrozenTrial fresh = running(s, {}, {}, true);
  FrozenTrial done = running(s, {}, {}, true);
  ASSERT_TRUE(storage_->finish_trial(done.trial_id, TrialState::kComplete, {1.0}));
  // Generous margins: only `stale` can be older than the grace period, even on a loaded machine.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  storage_->record_heartbeat(fresh.trial_id);
  storage_->record_heartbeat(done.trial_id);  // no-op on a finished trial

  EXPECT_EQ(storage_->reap_stale_trials(s, 0.25, 1), std::vector<int>{0});
  FrozenTrial reaped = storage_->get_trial(stale.trial_id);
  EXPECT_EQ(reaped.state, TrialState::kFail);
  EXPECT_NE(reaped.system_attrs.at(attr::kFailReason).get<std::string>().find("heartbeat"), std::string::npos);
  EXPECT_EQ(reaped.system_attrs.at(attr::kRetriedBy), 4);
  EXPECT_EQ(storage_->get_trial(silent.trial_id).state, TrialState::kRunning);
  EXPECT_EQ(storage_->get_trial(fresh.trial_id).state, TrialState::kRunning);
  EXPECT_EQ(storage_->get_trial(done.trial_id).state, TrialState::kComplete);
  std::vector<FrozenTrial> waiting_trials = storage_->get_all_trials(s, {TrialState::kWaiting});
  ASSERT_EQ(waiting_trials.size(), 1u);
  EXPECT_EQ(waiting_trials[0].system_attrs.at(attr::kRetryOf), 0);

  // Reaped trials are FAIL now, so a second pass finds nothing new.
  EXPECT_TRUE(storage_->reap_stale_trials(s, 0.25, 1).empty());
  EXPECT_THROW(storage_->reap_stale_trials(s + 1000, 0.1, 1), NotFoundError);
  EXPECT_THROW(storage_->reap_stale_trials(s, -1.0, 1), ValueError);
  EXPECT_THROW(storage_->reap_stale_trials(s, std::nan(""), 1), ValueError);
  EXPECT_THROW(storage_->record_heartbeat(stale.trial_id + 1000), NotFoundError);
}

TEST_P(StorageConformanceTest, GetAllTrialsOrdersByNumberAndFiltersByState) {
  std::int64_t s = make_study();
  std::int64_t other = make_study("other");
  running(other);
  std::vector<TrialState> plan;
  const std::vector<TrialState> kinds = {TrialState::kComplete, TrialState::kPruned, TrialState::kFail,
                                         TrialState::kRunning, TrialState::kWaiting};
  for (int i = 0; i < 12; ++i) plan.push_back(kinds[rng_() % kinds.size()]);
  TrialCounts expected;
  for (TrialState st : plan) {
    if (st == TrialState::kWaiting) {
      waiting(s);
      ++expected.waiting;
      continue;
    }
    FrozenTrial t = running(s);
    switch (st) {
      case TrialState::kComplete:
        storage_->finish_trial(t.trial_id, st, {1.0 * t.number});
        ++expected.complete;
        break;
      case TrialState::kPruned:
        storage_->finish_trial(t.trial_id, st, {});
        ++expected.pruned;
        break;
      case TrialState::kFail:
        storage_->fail_trial(t.trial_id, "x", 0);
        ++expected.failed;
        break;
      default:
        ++expected.running;
        break;
    }
  }
  std::vector<FrozenTrial> all = storage_->get_all_trials(s);
  ASSERT_EQ(all.size(), plan.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].number, static_cast<int>(i));
    EXPECT_EQ(all[i].state, plan[i]);
  }
  for (const std::vector<TrialState>& filter : std::vector<std::vector<TrialState>>{
           {TrialState::kComplete}, {TrialState::kFail, TrialState::kWaiting}, {TrialState::kRunning}}) {
    std::vector<int> want;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      if (std::find(filter.begin(), filter.end(), plan[i]) != filter.end()) want.push_back(static_cast<int>(i));
    }
    EXPECT_EQ(numbers(storage_->get_all_trials(s, filter)), want);
  }
  TrialCounts c = storage_->count_trials(s);
  EXPECT_EQ(c.complete, expected.complete);
  EXPECT_EQ(c.pruned, expected.pruned);
  EXPECT_EQ(c.failed, expected.failed);
  EXPECT_EQ(c.running, expected.running);
  EXPECT_EQ(c.waiting, expected.waiting);
  EXPECT_EQ(c.retried, 0);
  EXPECT_EQ(storage_->count_trials(other).running, 1);
  EXPECT_THROW(storage_->count_trials(s + other + 1000), NotFoundError);

  // Repeated reads see every later change (SQLite serves these from its cache).
  FrozenTrial extra = running(s);
  storage_->set_trial_intermediate_value(extra.trial_id, 1, 0.5);
  std::vector<FrozenTrial> again = storage_->get_all_trials(s);
  ASSERT_EQ(again.size(), plan.size() + 1);
  EXPECT_EQ(again.back().intermediate_values.at(1), 0.5);
  storage_->finish_trial(extra.trial_id, TrialState::kComplete, {-2.0});
  EXPECT_EQ(storage_->get_all_trials(s).back().values, std::vector<double>{-2.0});
  EXPECT_EQ(storage_->get_all_trials(s, {TrialState::kComplete}).back().number, extra.number);
}

TEST_P(StorageConformanceTest, TrialsSinceReturnsOnlyWhatChanged) {
  std::int64_t study = make_study();
  FrozenTrial a = running(study);
  FrozenTrial b = running(study);
  TrialChanges all = storage_->get_trials_since(study, -1);
  EXPECT_TRUE(all.complete);
  EXPECT_EQ(numbers(all.trials), (std::vector<int>{0, 1}));

  TrialChanges none = storage_->get_trials_since(study, all.stamp);
  EXPECT_FALSE(none.complete);
  EXPECT_TRUE(none.trials.empty());
  EXPECT_EQ(none.stamp, all.stamp);

  // Every kind of write shows up once, as the trial's current state; untouched trials stay out.
  storage_->set_trial_intermediate_value(a.trial_id, 0, 1.5);
  TrialChanges one = storage_->get_trials_since(study, all.stamp);
  ASSERT_EQ(numbers(one.trials), (std::vector<int>{0}));
  EXPECT_EQ(one.trials[0].intermediate_values.at(0), 1.5);

  storage_->finish_trial(b.trial_id, TrialState::kComplete, {2.0});
  storage_->fail_trial(a.trial_id, "crash", 1);  // FAIL plus a WAITING retry
  // A write through another connection (another process, for SQLite) is seen too.
  auto other = GetParam() == "memory" ? storage_ : open();
  other->set_trial_user_attr(storage_->get_all_trials(study, {TrialState::kWaiting}).at(0).trial_id, "k", 1);
  TrialChanges more = storage_->get_trials_since(study, one.stamp);
  ASSERT_EQ(numbers(more.trials), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(more.trials[0].state, TrialState::kFail);
  EXPECT_EQ(more.trials[0].system_attrs.at(attr::kRetriedBy), 2);
  EXPECT_EQ(more.trials[1].values, std::vector<double>{2.0});
  EXPECT_EQ(more.trials[2].user_attrs.at("k"), 1);
  EXPECT_GT(more.stamp, one.stamp);
  EXPECT_THROW(storage_->get_trials_since(study + 100, -1), NotFoundError);
}

TEST_P(StorageConformanceTest, UnknownIdsAreNotFound) {
  std::int64_t s = make_study();
  const std::int64_t bad_trial = 987654, bad_study = s + 987654;
  EXPECT_THROW(storage_->get_trial(bad_trial), NotFoundError);
  EXPECT_THROW(storage_->get_study(bad_study), NotFoundError);
  EXPECT_THROW(storage_->delete_study(bad_study), NotFoundError);
  EXPECT_THROW(storage_->get_all_trials(bad_study), NotFoundError);
  EXPECT_THROW(storage_->count_trials(bad_study), NotFoundError);
  EXPECT_THROW(storage_->create_trial(bad_study, NewTrial{}, 10), NotFoundError);
  EXPECT_THROW(storage_->record_heartbeat(bad_trial), NotFoundError);
  EXPECT_THROW(storage_->fail_trial(bad_trial, "x", 0), NotFoundError);
  EXPECT_THROW(storage_->set_trial_params(bad_trial, {}, {}), NotFoundError);
  // NotFoundError is a ValueError, so callers can catch user mistakes together.
  EXPECT_THROW(storage_->get_trial(bad_trial), ValueError);
}

TEST_P(StorageConformanceTest, ConcurrentThreadsNeverOvershootMaxSlots) {
  std::int64_t s = make_study();
  constexpr int kSlots = 40;
  std::vector<std::thread> workers;
  std::vector<int> made(4, 0);
  for (int w = 0; w < 4; ++w) {
    // Each thread has its own connection where the backend has connections, as separate worker processes do.
    std::shared_ptr<Storage> mine = GetParam() == "memory" ? storage_ : open();
    workers.emplace_back([&, w, mine] {
      while (auto t = mine->create_trial(s, NewTrial{}, kSlots)) {
        mine->finish_trial(t->trial_id, TrialState::kComplete, {static_cast<double>(w)});
        mine->get_all_trials(s);
        ++made[w];
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(made[0] + made[1] + made[2] + made[3], kSlots);
  std::vector<FrozenTrial> all = storage_->get_all_trials(s);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kSlots));
  for (int i = 0; i < kSlots; ++i) {
    EXPECT_EQ(all[i].number, i);
    EXPECT_EQ(all[i].state, TrialState::kComplete);
  }
}

TEST_P(StorageConformanceTest, ConcurrentConnectionsNeverDuplicateClaimsPopsOrRetries) {
  std::int64_t s = make_study();
  constexpr int kEnqueued = 30;
  for (int i = 0; i < kEnqueued; ++i) waiting(s);
  std::vector<std::thread> workers;
  std::vector<std::vector<int>> popped(4);
  std::vector<std::vector<int>> claimed(4);
  for (int w = 0; w < 4; ++w) {
    std::shared_ptr<Storage> mine = GetParam() == "memory" ? storage_ : open();
    workers.emplace_back([&, w, mine] {
      for (int k = 0; k < kEnqueued; ++k) {
        if (mine->claim_study_key(s, "grid:" + std::to_string(k), w)) claimed[w].push_back(k);
      }
      // Even-numbered originals fail once and are re-enqueued; their retries are popped like any waiting trial.
      while (auto t = mine->pop_waiting_trial(s, true)) {
        popped[w].push_back(t->number);
        if (t->number < kEnqueued && t->number % 2 == 0) {
          mine->fail_trial(t->trial_id, "crash", 1);
        } else {
          mine->finish_trial(t->trial_id, TrialState::kComplete, {1.0});
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  std::multiset<int> all_popped, all_claimed;
  for (int w = 0; w < 4; ++w) {
    all_popped.insert(popped[w].begin(), popped[w].end());
    all_claimed.insert(claimed[w].begin(), claimed[w].end());
  }
  constexpr int kTotal = kEnqueued + kEnqueued / 2;
  ASSERT_EQ(all_popped.size(), static_cast<std::size_t>(kTotal));
  for (int n = 0; n < kTotal; ++n) EXPECT_EQ(all_popped.count(n), 1u) << "trial #" << n;
  ASSERT_EQ(all_claimed.size(), static_cast<std::size_t>(kEnqueued));
  for (int k = 0; k < kEnqueued; ++k) EXPECT_EQ(all_claimed.count(k), 1u) << "grid:" << k;
  TrialCounts c = storage_->count_trials(s);
  EXPECT_EQ(c.complete, kTotal - kEnqueued / 2);
  EXPECT_EQ(c.failed, kEnqueued / 2);
  EXPECT_EQ(c.retried, kEnqueued / 2);
  EXPECT_EQ(c.finished(), kEnqueued);
  std::set<int> retry_of;
  for (const FrozenTrial& t : storage_->get_all_trials(s)) {
    if (t.system_attrs.count(attr::kRetryOf)) retry_of.insert(t.system_attrs.at(attr::kRetryOf).get<int>());
  }
  EXPECT_EQ(retry_of.size(), static_cast<std::size_t>(kEnqueued / 2));
}

// ---- import_study ----

bool same_number(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

// Every field but trial_id, NaN equal to NaN.
void expect_same_trial(const FrozenTrial& got, const FrozenTrial& want) {
  SCOPED_TRACE("trial #" + std::to_string(want.number));
  EXPECT_EQ(got.number, want.number);
  EXPECT_EQ(got.state, want.state);
  ASSERT_EQ(got.values.size(), want.values.size());
  for (std::size_t i = 0; i < want.values.size(); ++i) {
    EXPECT_TRUE(same_number(got.values[i], want.values[i])) << got.values[i] << " vs " << want.values[i];
  }
  EXPECT_EQ(got.params, want.params);
  for (const auto& [name, value] : want.params) EXPECT_STREQ(got.params.at(name).type_name(), value.type_name());
  EXPECT_EQ(got.distributions, want.distributions);
  ASSERT_EQ(got.intermediate_values.size(), want.intermediate_values.size());
  for (const auto& [step, value] : want.intermediate_values) {
    ASSERT_EQ(got.intermediate_values.count(step), 1u) << "step " << step;
    EXPECT_TRUE(same_number(got.intermediate_values.at(step), value)) << "step " << step;
  }
  EXPECT_EQ(got.user_attrs, want.user_attrs);
  EXPECT_EQ(got.system_attrs, want.system_attrs);
  EXPECT_EQ(got.datetime_start, want.datetime_start);
  EXPECT_EQ(got.datetime_complete, want.datetime_complete);
}

TEST_P(StorageConformanceTest, ImportStudyRoundTripsEveryField) {
  const double inf = std::numeric_limits<double>::infinity();
  std::int64_t src = storage_->create_study("source", {StudyDirection::kMinimize, StudyDirection::kMaximize},
                                            {{"config", "space: {x: 1}"}, {"base_dir", "/some/where"}, {"seed", 7}});
  storage_->set_study_user_attr(src, "note", Json{{"owner", "ünïcode"}, {"tags", {1, 2}}});
  std::map<std::string, Distribution> dists = {
      {"lr", Distribution::make_float(1e-5, 1e-1, true)},
      {"dropout", Distribution::make_float(0.0, 0.5, false, 0.1)},
      {"width", Distribution::make_int(16, 256, false, 16)},
      {"act", Distribution::make_categorical(
                  {ParamValue(1), ParamValue(2.5), ParamValue("relu"), ParamValue(true), ParamValue()})},
  };
  std::uniform_real_distribution<double> u(-11.5, -2.31);
  auto params = [&](ParamValue act) {
    return ParamMap{{"lr", std::exp(u(rng_))}, {"dropout", 0.2}, {"width", 48}, {"act", std::move(act)}};
  };
  // #0 COMPLETE with NaN and -inf, intermediate values including inf, attributes.
  FrozenTrial t0 = running(src, params("relu"), dists);
  storage_->set_trial_intermediate_value(t0.trial_id, 0, 0.5);
  storage_->set_trial_intermediate_value(t0.trial_id, 3, inf);
  storage_->set_trial_intermediate_value(t0.trial_id, 7, std::nan(""));
  storage_->set_trial_user_attr(t0.trial_id, "val_accuracy", 0.93);
  storage_->set_trial_user_attr(t0.trial_id, "genotype", Json{{"cells", {"conv", "skip"}}});
  storage_->set_trial_system_attr(t0.trial_id, "worker", 2);
  ASSERT_TRUE(storage_->finish_trial(t0.trial_id, TrialState::kComplete, {std::nan(""), -inf}));
  // #1 PRUNED at a step.
  FrozenTrial t1 = running(src, params(ParamValue()), dists);
  storage_->set_trial_intermediate_value(t1.trial_id, 1, 3.25);
  ASSERT_TRUE(storage_->finish_trial(t1.trial_id, TrialState::kPruned, {}));
  // #2 FAIL retried by #3 (WAITING): the retry attributes link the two.
  FrozenTrial t2 = running(src, params(true), dists, true);
  ASSERT_EQ(storage_->fail_trial(t2.trial_id, "boom", 2), 3);
  // #4 COMPLETE with finite values; #5 RUNNING without a heartbeat; #6 WAITING enqueued by hand.
  FrozenTrial t4 = running(src, params(2.5), dists);
  ASSERT_TRUE(storage_->finish_trial(t4.trial_id, TrialState::kComplete, {1.5, inf}));
  running(src, params(1), dists);
  waiting(src, {{"width", 256}}, dists);
  // #7 FAIL without retry.
  FrozenTrial t7 = running(src);
  ASSERT_EQ(storage_->fail_trial(t7.trial_id, "out of memory", 0), std::nullopt);

  StudyInfo info = storage_->get_study(src);
  std::vector<FrozenTrial> source = storage_->get_all_trials(src);
  ASSERT_EQ(source.size(), 8u);
  info.name = "copy";
  std::int64_t dst = storage_->import_study(info, source);
  EXPECT_NE(dst, src);
  EXPECT_EQ(storage_->find_study("copy"), dst);

  StudyInfo copied = storage_->get_study(dst);
  EXPECT_EQ(copied.study_id, dst);
  EXPECT_EQ(copied.name, "copy");
  EXPECT_EQ(copied.directions, info.directions);
  EXPECT_EQ(copied.user_attrs, info.user_attrs);
  EXPECT_EQ(copied.system_attrs, info.system_attrs);

  // For the persistent backends a second connection: the import is committed, not only cached.
  auto reader = GetParam() == "memory" ? storage_ : open();
  for (Storage* st : {storage_.get(), reader.get()}) {
    std::vector<FrozenTrial> got = st->get_all_trials(dst);
    ASSERT_EQ(got.size(), source.size());
    std::set<std::int64_t> source_ids, copy_ids;
    for (std::size_t i = 0; i < source.size(); ++i) {
      expect_same_trial(got[i], source[i]);
      expect_same_trial(st->get_trial(got[i].trial_id), source[i]);
      source_ids.insert(source[i].trial_id);
      copy_ids.insert(got[i].trial_id);
    }
    for (std::int64_t id : copy_ids) EXPECT_EQ(source_ids.count(id), 0u) << "trial ids must be new";
    TrialCounts a = st->count_trials(src), b = st->count_trials(dst);
    EXPECT_EQ(std::make_tuple(a.running, a.waiting, a.complete, a.pruned, a.failed, a.retried),
              std::make_tuple(b.running, b.waiting, b.complete, b.pruned, b.failed, b.retried));
    EXPECT_EQ(b.retried, 1);
    std::vector<FrozenTrial> filtered = st->get_all_trials(dst, {TrialState::kFail, TrialState::kWaiting});
    EXPECT_EQ(numbers(filtered), (std::vector<int>{2, 3, 6, 7}));
    // Readers that follow changes see the imported trials, and later writes after them.
    TrialChanges all = st->get_trials_since(dst, -1);
    EXPECT_TRUE(all.complete);
    EXPECT_EQ(numbers(all.trials), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_TRUE(st->get_trials_since(dst, all.stamp).trials.empty());
  }
  // The source is untouched.
  std::vector<FrozenTrial> again = storage_->get_all_trials(src);
  for (std::size_t i = 0; i < source.size(); ++i) {
    EXPECT_EQ(again[i].trial_id, source[i].trial_id);
    expect_same_trial(again[i], source[i]);
  }

  // The copy carries on where the source stopped: the next trial is #8, the WAITING ones run first.
  TrialChanges before = storage_->get_trials_since(dst, -1);
  FrozenTrial popped = *storage_->pop_waiting_trial(dst, true);
  EXPECT_EQ(popped.number, 3);
  EXPECT_EQ(popped.params, source[3].params);
  EXPECT_EQ(numbers(storage_->get_trials_since(dst, before.stamp).trials), std::vector<int>{3});
  EXPECT_EQ(running(dst).number, 8);
  // slots: 9 trials, one retried FAIL.
  NewTrial more;
  EXPECT_EQ(storage_->create_trial(dst, more, 8), std::nullopt);
  EXPECT_TRUE(storage_->create_trial(dst, more, 9).has_value());
}

TEST_P(StorageConformanceTest, ImportStudyKeepsGivenDatetimesAndAcceptsAnyOrder) {
  auto at = [](std::int64_t us) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
  };
  const std::int64_t base = 1577836800123456;  // 2020-01-01 00:00:00.123456 UTC
  std::vector<FrozenTrial> trials(3);
  for (int i = 0; i < 3; ++i) {
    trials[static_cast<std::size_t>(i)].number = 2 - i;  // given last to first
    trials[static_cast<std::size_t>(i)].state = TrialState::kComplete;
    trials[static_cast<std::size_t>(i)].values = {static_cast<double>(i)};
    trials[static_cast<std::size_t>(i)].datetime_start = at(base + i * 1000001);
    trials[static_cast<std::size_t>(i)].datetime_complete = at(base + i * 1000001 + 7);
    trials[static_cast<std::size_t>(i)].trial_id = 12345;  // ignored
  }
  StudyInfo info;
  info.name = "dated";
  info.directions = {StudyDirection::kMaximize};
  std::int64_t s = storage_->import_study(info, trials);
  std::vector<FrozenTrial> got = storage_->get_all_trials(s);
  ASSERT_EQ(numbers(got), (std::vector<int>{0, 1, 2}));
  for (const FrozenTrial& t : got) {
    const FrozenTrial& want = trials[static_cast<std::size_t>(2 - t.number)];
    expect_same_trial(t, want);
    EXPECT_NE(t.trial_id, 12345);
  }
  EXPECT_TRUE(storage_->get_study(s).user_attrs.empty());
  // An empty study imports too.
  info.name = "empty";
  std::int64_t e = storage_->import_study(info, {});
  EXPECT_TRUE(storage_->get_all_trials(e).empty());
  EXPECT_EQ(running(e).number, 0);
}

TEST_P(StorageConformanceTest, ImportStudyRejectsBadInputAndWritesNothing) {
  std::int64_t existing = make_study("taken");
  running(existing);
  auto complete = [](int number, std::vector<double> values) {
    FrozenTrial t;
    t.number = number;
    t.state = TrialState::kComplete;
    t.values = std::move(values);
    return t;
  };
  StudyInfo info;
  info.name = "new";
  info.directions = {StudyDirection::kMinimize};
  std::vector<FrozenTrial> good = {complete(0, {1.0}), complete(1, {2.0})};

  auto expect_nothing_written = [&] {
    EXPECT_EQ(storage_->find_study("new"), std::nullopt);
    ASSERT_EQ(storage_->list_studies().size(), 1u);
    EXPECT_EQ(storage_->get_all_trials(existing).size(), 1u);
    EXPECT_TRUE(storage_->get_study(existing).user_attrs.empty());
  };

  StudyInfo dup = info;
  dup.name = "taken";
  dup.user_attrs["x"] = 1;
  EXPECT_THROW(storage_->import_study(dup, good), DuplicateStudyError);
  expect_nothing_written();

  // Duplicate numbers, a gap, a negative number: numbers must be 0..n-1, each once.
  for (const auto& numbers_given : std::vector<std::vector<int>>{{0, 1, 1}, {1, 1}, {0, 2}, {-1, 0}}) {
    std::vector<FrozenTrial> bad;
    for (int n : numbers_given) bad.push_back(complete(n, {0.0}));
    EXPECT_THROW(storage_->import_study(info, bad), ValueError) << ::testing::PrintToString(numbers_given);
    expect_nothing_written();
  }
  // COMPLETE needs one value per direction.
  EXPECT_THROW(storage_->import_study(info, {complete(0, {1.0}), complete(1, {})}), ValueError);
  EXPECT_THROW(storage_->import_study(info, {complete(0, {1.0, 2.0})}), ValueError);
  expect_nothing_written();
  // Parameters must lie in their distribution and have one.
  FrozenTrial off_grid = complete(1, {1.0});
  off_grid.params = {{"width", 17}};
  off_grid.distributions = {{"width", Distribution::make_int(16, 256, false, 16)}};
  EXPECT_THROW(storage_->import_study(info, {complete(0, {1.0}), off_grid}), ValueError);
  off_grid.distributions.clear();
  EXPECT_THROW(storage_->import_study(info, {complete(0, {1.0}), off_grid}), ValueError);
  expect_nothing_written();
  // A study needs a name and a direction.
  StudyInfo nameless = info;
  nameless.name = "";
  EXPECT_THROW(storage_->import_study(nameless, good), ValueError);
  StudyInfo directionless = info;
  directionless.directions.clear();
  EXPECT_THROW(storage_->import_study(directionless, {}), ValueError);
  expect_nothing_written();

  // Non-COMPLETE trials keep whatever values they had (finish_trial allows values on PRUNED too).
  FrozenTrial pruned = complete(1, {4.0, 5.0});
  pruned.state = TrialState::kPruned;
  std::int64_t s = storage_->import_study(info, {complete(0, {1.0}), pruned});
  EXPECT_EQ(storage_->get_all_trials(s).at(1).values, (std::vector<double>{4.0, 5.0}));
}

TEST_P(StorageConformanceTest, ImportedRunningTrialsGetAHeartbeatAndAreReaped) {
  std::int64_t src = make_study("source");
  running(src, {}, {}, false);  // never had a heartbeat in the source
  FrozenTrial done = running(src);
  ASSERT_TRUE(storage_->finish_trial(done.trial_id, TrialState::kComplete, {1.0}));
  StudyInfo info = storage_->get_study(src);
  info.name = "copy";
  std::int64_t dst = storage_->import_study(info, storage_->get_all_trials(src));
  EXPECT_TRUE(storage_->reap_stale_trials(dst, 60.0, 1).empty());  // the heartbeat is fresh
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(storage_->reap_stale_trials(dst, 0.25, 1), std::vector<int>{0});
  std::vector<FrozenTrial> got = storage_->get_all_trials(dst);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].state, TrialState::kFail);
  EXPECT_EQ(got[0].system_attrs.at(attr::kRetriedBy), 2);
  EXPECT_EQ(got[2].state, TrialState::kWaiting);
  EXPECT_EQ(got[2].system_attrs.at(attr::kRetryOf), 0);
  // The source's trial had no heartbeat, so it is still left alone there.
  EXPECT_TRUE(storage_->reap_stale_trials(src, 0.25, 1).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageConformanceTest, ::testing::Values("memory", "sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace nasforge
