// copy_study between backends: trials, attributes and trial files arrive intact.
#include "storage/storage_copy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "storage/in_memory_storage.h"
#include "storage/sqlite_storage.h"
#include "testing.h"

namespace nasforge {
namespace {

using testing::NasforgeTest;

class StorageCopyTest : public NasforgeTest {
 protected:
  // A study with a trial in each state, NaN values, intermediate values and attributes.
  static void fill(Storage& storage, const std::string& name) {
    std::int64_t s = storage.create_study(name, {StudyDirection::kMinimize}, {{"config", "x: 1"}, {"seed", 3}});
    storage.set_study_user_attr(s, "owner", "me");
    std::map<std::string, Distribution> dists = {{"x", Distribution::make_float(-5, 10)},
                                                 {"op", Distribution::make_categorical({"conv", "skip"})}};
    NewTrial nt;
    nt.params = {{"x", 1.25}, {"op", "skip"}};
    nt.distributions = dists;
    for (TrialState final_state : {TrialState::kComplete, TrialState::kPruned, TrialState::kFail}) {
      FrozenTrial t = *storage.create_trial(s, nt);
      storage.set_trial_intermediate_value(t.trial_id, 0, std::nan(""));
      storage.set_trial_user_attr(t.trial_id, "macs", 1234);
      if (final_state == TrialState::kFail) {
        storage.fail_trial(t.trial_id, "boom", 1);  // enqueues a WAITING retry
      } else {
        storage.finish_trial(
            t.trial_id, final_state,
            final_state == TrialState::kComplete ? std::vector<double>{std::nan("")} : std::vector<double>{});
      }
    }
    storage.create_trial(s, nt);  // RUNNING
  }

  static void expect_same_study(Storage& a, const std::string& name_a, Storage& b, const std::string& name_b) {
    StudyInfo ia = a.get_study(*a.find_study(name_a)), ib = b.get_study(*b.find_study(name_b));
    EXPECT_EQ(ia.directions, ib.directions);
    EXPECT_EQ(ia.user_attrs, ib.user_attrs);
    EXPECT_EQ(ia.system_attrs, ib.system_attrs);
    std::vector<FrozenTrial> ta = a.get_all_trials(ia.study_id), tb = b.get_all_trials(ib.study_id);
    ASSERT_EQ(ta.size(), tb.size());
    for (std::size_t i = 0; i < ta.size(); ++i) {
      // to_json covers every field but trial_id; NaN prints as null on both sides.
      EXPECT_EQ(ta[i].to_json().dump(), tb[i].to_json().dump()) << "trial #" << i;
      EXPECT_EQ(ta[i].datetime_start, tb[i].datetime_start);
      EXPECT_EQ(ta[i].datetime_complete, tb[i].datetime_complete);
    }
  }
};

TEST_F(StorageCopyTest, MemoryToSqliteAndBack) {
  InMemoryStorage memory;
  fill(memory, "s");
  SqliteStorage sqlite(tmp("copy.db"));
  CopySummary there = copy_study(memory, sqlite, "s", "");
  EXPECT_EQ(there.name, "s");
  EXPECT_EQ(there.new_name, "s");
  EXPECT_EQ(there.study_id, *sqlite.find_study("s"));
  EXPECT_EQ(there.trials, 5);
  EXPECT_EQ(there.counts.complete, 1);
  EXPECT_EQ(there.counts.pruned, 1);
  EXPECT_EQ(there.counts.failed, 1);
  EXPECT_EQ(there.counts.waiting, 1);
  EXPECT_EQ(there.counts.running, 1);
  EXPECT_FALSE(there.artifacts_copied);  // memory keeps no files
  EXPECT_EQ(describe_counts(there), "5 trials: 1 COMPLETE, 1 PRUNED, 1 FAIL, 1 RUNNING, 1 WAITING");
  expect_same_study(memory, "s", sqlite, "s");

  InMemoryStorage back;
  CopySummary again = copy_study(sqlite, back, "s", "renamed");
  EXPECT_EQ(again.new_name, "renamed");
  EXPECT_EQ(back.find_study("s"), std::nullopt);
  expect_same_study(memory, "s", back, "renamed");

  // Nothing to copy, or nowhere to copy it: nothing is written.
  EXPECT_THROW(copy_study(memory, back, "missing", ""), NotFoundError);
  EXPECT_THROW(copy_study(memory, back, "s", "renamed"), DuplicateStudyError);
  EXPECT_EQ(back.list_studies().size(), 1u);
  EXPECT_EQ(back.get_all_trials(*back.find_study("renamed")).size(), 5u);
}

TEST_F(StorageCopyTest, TrialFilesComeAlongBetweenStoragesThatKeepThem) {
  namespace fs = std::filesystem;
  fs::create_directories(tmp("a"));
  fs::create_directories(tmp("b"));
  SqliteStorage from(tmp("a/study.db"));
  SqliteStorage to(tmp("b/study.db"));
  fill(from, "s");
  fs::path src = fs::path(from.artifact_root()) / "s";
  fs::create_directories(src / "trial_0");
  std::ofstream(src / "trial_0" / "weights.pt") << "weights of trial 0";
  std::ofstream(src / "trial_0" / "model.json") << "{}";

  CopySummary summary = copy_study(from, to, "s", "t");
  EXPECT_TRUE(summary.artifacts_copied);
  fs::path dst = fs::path(to.artifact_root()) / "t";
  EXPECT_EQ(summary.artifacts_from, src.string());
  EXPECT_EQ(summary.artifacts_to, dst.string());
  std::ifstream in(dst / "trial_0" / "weights.pt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "weights of trial 0");
  EXPECT_TRUE(fs::exists(dst / "trial_0" / "model.json"));
  EXPECT_TRUE(fs::exists(src / "trial_0" / "weights.pt"));  // copied, not moved
  expect_same_study(from, "s", to, "t");

  // A study without a folder copies its trials only.
  fill(from, "bare");
  CopySummary bare = copy_study(from, to, "bare", "");
  EXPECT_FALSE(bare.artifacts_copied);
  EXPECT_FALSE(fs::exists(fs::path(to.artifact_root()) / "bare"));
}

}  // namespace
}  // namespace nasforge
