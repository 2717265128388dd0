// What only the SQLite backend promises: persistence, several processes, refusing foreign files, URLs, cache
// freshness across connections.

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "storage/in_memory_storage.h"
#include "storage/sqlite_storage.h"
#include "storage/storage.h"
#include "testing.h"

namespace nasforge {
namespace {

using testing::NasforgeTest;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs SQL through a raw connection, as another program (or an older/newer nasforge) would.
void raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

template <class Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const StorageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a StorageError";
  return "";
}

class SqliteStorageTest : public NasforgeTest {
 protected:
  std::string db_path() const { return tmp("study.db"); }
};

TEST_F(SqliteStorageTest, EverythingPersistsAcrossReopen) {
  std::int64_t s;
  std::vector<Json> before;
  StudyInfo info_before;
  {
    SqliteStorage storage(db_path());
    s = storage.create_study("persist", {StudyDirection::kMaximize, StudyDirection::kMinimize});
    storage.set_study_user_attr(s, "owner", "me");
    storage.set_study_system_attr(s, "config", {{"n_trials", 9}});
    std::map<std::string, Distribution> dists = {{"x", Distribution::make_float(-1, 1)},
                                                 {"c", Distribution::make_categorical({1, "two", 3.5})}};
    for (int i = 0; i < 4; ++i) {
      NewTrial nt;
      nt.params = {{"x", std::uniform_real_distribution<double>(-1, 1)(rng_)}, {"c", i % 2 ? ParamValue("two") : 3.5}};
      nt.distributions = dists;
      nt.user_attrs = {{"i", i}};
      nt.heartbeat = true;
      FrozenTrial t = *storage.create_trial(s, nt);
      storage.set_trial_intermediate_value(t.trial_id, 1, 0.5 * i);
      if (i == 0)
        storage.finish_trial(t.trial_id, TrialState::kComplete,
                             {std::nan(""), -std::numeric_limits<double>::infinity()});
      if (i == 1) storage.fail_trial(t.trial_id, "oops", 1);
      if (i == 2) storage.finish_trial(t.trial_id, TrialState::kPruned, {}, {{"pruned_at", 1}});
    }
    for (const auto& t : storage.get_all_trials(s)) before.push_back(t.to_json());
    info_before = storage.get_study(s);
  }
  SqliteStorage reopened(db_path());
  ASSERT_EQ(reopened.find_study("persist"), s);
  StudyInfo info = reopened.get_study(s);
  EXPECT_EQ(info.directions, info_before.directions);
  EXPECT_EQ(info.user_attrs, info_before.user_attrs);
  EXPECT_EQ(info.system_attrs, info_before.system_attrs);
  std::vector<FrozenTrial> after = reopened.get_all_trials(s);
  ASSERT_EQ(after.size(), before.size());
  ASSERT_EQ(after.size(), 5u);  // four created plus one retry
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].to_json(), before[i]) << i;
  EXPECT_TRUE(std::isnan(after[0].values[0]));
  EXPECT_EQ(reopened.count_trials(s).retried, 1);
  // Numbering continues where it stopped.
  EXPECT_EQ(reopened.create_trial(s, NewTrial{})->number, 5);
}

TEST_F(SqliteStorageTest, UsesWalAndTheDocumentedTables) {
  { SqliteStorage storage(db_path()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  std::set<std::string> tables;
  std::string mode;
  sqlite3_exec(
      db, "SELECT name FROM sqlite_master WHERE type = 'table'",
      [](void* out, int, char** v, char**) {
        static_cast<std::set<std::string>*>(out)->insert(v[0]);
        return 0;
      },
      &tables, nullptr);
  sqlite3_exec(
      db, "PRAGMA journal_mode",
      [](void* out, int, char** v, char**) {
        *static_cast<std::string*>(out) = v[0];
        return 0;
      },
      &mode, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(mode, "wal");
  for (const char* name :
       {"version_info", "studies", "study_directions", "study_user_attributes", "study_system_attributes", "trials",
        "trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes",
        "trial_heartbeats"}) {
    EXPECT_EQ(tables.count(name), 1u) << name;
  }
}

TEST_F(SqliteStorageTest, FourProcessesShareOneStudyWithoutOvershooting) {
  constexpr int kSlots = 200;
  constexpr int kWorkers = 4;
  std::int64_t s;
  {
    SqliteStorage storage(db_path());
    s = storage.create_study("shared", {StudyDirection::kMinimize});
  }
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        SqliteStorage storage(db_path());  // each process its own connection
        auto dist = Distribution::make_int(0, 1000);
        for (int i = 0;; ++i) {
          NewTrial nt;
          nt.params = {{"x", (w * 1000 + i) % 1001}};
          nt.distributions = {{"x", dist}};
          nt.heartbeat = true;
          auto t = storage.create_trial(s, nt, kSlots);
          if (!t) break;
          storage.get_all_trials(s);  // what a sampler does before every trial
          storage.set_trial_intermediate_value(t->trial_id, 0, i);
          if (!storage.finish_trial(t->trial_id, TrialState::kComplete, {static_cast<double>(w)})) code = 3;
        }
      } catch (const std::exception& e) {
        std::cerr << "worker " << w << ": " << e.what() << std::endl;
        code = 2;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  SqliteStorage storage(db_path());
  std::vector<FrozenTrial> all = storage.get_all_trials(s);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kSlots));
  for (int i = 0; i < kSlots; ++i) {
    EXPECT_EQ(all[i].number, i);
    EXPECT_EQ(all[i].state, TrialState::kComplete);
    ASSERT_EQ(all[i].values.size(), 1u);
    EXPECT_GE(all[i].values[0], 0);  // the worker index
    EXPECT_LT(all[i].values[0], kWorkers);
    EXPECT_EQ(all[i].intermediate_values.size(), 1u);
  }
  EXPECT_EQ(storage.count_trials(s).complete, kSlots);
}

TEST_F(SqliteStorageTest, WaitsForAnotherWriterInsteadOfFailing) {
  SqliteStorage storage(db_path());
  std::int64_t s = storage.create_study("locked", {StudyDirection::kMinimize});
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // longer than one busy_timeout
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  EXPECT_NO_THROW(storage.create_trial(s, NewTrial{}));
  release.join();
  sqlite3_close(other);
  EXPECT_EQ(storage.count_trials(s).running, 1);

  // With a short limit and a lock that is never released, the error says what happened.
  SqliteOptions impatient;
  impatient.lock_wait_s = 0.2;
  impatient.busy_timeout_ms = 20;
  SqliteStorage quick(db_path(), impatient);
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string msg = error_message([&] { quick.create_trial(s, NewTrial{}); });
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_NE(msg.find("locked"), std::string::npos) << msg;
  EXPECT_NE(msg.find(db_path()), std::string::npos) << msg;
  EXPECT_EQ(storage.count_trials(s).running, 1);
}

TEST_F(SqliteStorageTest, RefusesAndKeepsFilesThatAreNotSqlite) {
  const std::string text = "this is a text file that someone renamed to .db\nline two\n";
  for (const std::string& content :
       {text, std::string("short"), std::string("SQLite format 3\0", 16) + std::string(200, '\x7f')}) {
    std::string path = write_file("notes.db", content);
    std::string msg = error_message([&] { SqliteStorage storage(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a SQLite database"), std::string::npos) << msg;
    EXPECT_EQ(read_bytes(path), content);
    EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
    EXPECT_THROW(open_storage("sqlite:///" + path), StorageError);
    EXPECT_EQ(read_bytes(path), content);
  }
}

TEST_F(SqliteStorageTest, RefusesAndKeepsAnotherProgramsDatabase) {
  std::string path = tmp("shop.db");
  raw_sql(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'Ann');");
  std::string bytes = read_bytes(path);
  std::string msg = error_message([&] { SqliteStorage storage(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("another program"), std::string::npos) << msg;
  EXPECT_NE(msg.find("customers"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(path), bytes);

  // Optuna's schema has a version_info table of the same shape; it must not pass for ours.
  std::string optuna = tmp("optuna.db");
  raw_sql(optuna,
          "CREATE TABLE version_info (version_info_id INTEGER PRIMARY KEY, schema_version INTEGER, "
          "library_version VARCHAR(256)); INSERT INTO version_info VALUES (1, 12, '3.1.0');"
          "CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name VARCHAR(512));");
  bytes = read_bytes(optuna);
  msg = error_message([&] { SqliteStorage storage(optuna); });
  EXPECT_NE(msg.find("another program"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3.1.0"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(optuna), bytes);
}

TEST_F(SqliteStorageTest, RefusesNewerSchemaVersion) {
  { SqliteStorage storage(db_path()); }
  raw_sql(db_path(), "UPDATE version_info SET schema_version = " + std::to_string(SqliteStorage::schema_version() + 1) +
                         ", library_version = 'nasforge 9.9.9'");
  std::string msg = error_message([&] { SqliteStorage storage(db_path()); });
  EXPECT_NE(msg.find(db_path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("9.9.9"), std::string::npos) << msg;

  raw_sql(db_path(), "UPDATE version_info SET schema_version = 0");
  msg = error_message([&] { SqliteStorage storage(db_path()); });
  EXPECT_NE(msg.find("unknown storage schema version 0"), std::string::npos) << msg;
}

TEST_F(SqliteStorageTest, MissingDirectoryIsAClearError) {
  std::string path = tmp("no/such/dir/study.db");
  std::string msg = error_message([&] { SqliteStorage storage(path); });
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find(tmp("no/such/dir")), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(tmp("no")));
}

TEST_F(SqliteStorageTest, CacheSeesChangesMadeThroughAnotherConnection) {
  SqliteStorage a(db_path());
  SqliteStorage b(db_path());
  std::int64_t s = a.create_study("cache", {StudyDirection::kMinimize});
  FrozenTrial t0 = *a.create_trial(s, NewTrial{});
  a.finish_trial(t0.trial_id, TrialState::kComplete, {1.0});
  FrozenTrial t1 = *a.create_trial(s, NewTrial{});
  ASSERT_EQ(a.get_all_trials(s).size(), 2u);  // fills a's cache

  // Another worker fails and retries the running trial, then starts a new one.
  ASSERT_EQ(b.fail_trial(t1.trial_id, "killed", 1), 2);
  FrozenTrial t3 = *b.create_trial(s, NewTrial{});
  std::vector<FrozenTrial> seen = a.get_all_trials(s);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].state, TrialState::kFail);
  EXPECT_EQ(seen[1].system_attrs.at(attr::kRetriedBy), 2);
  EXPECT_EQ(seen[2].state, TrialState::kWaiting);
  EXPECT_EQ(seen[3].state, TrialState::kRunning);
  EXPECT_EQ(a.count_trials(s).retried, 1);

  // Updates to trials a has already cached show up too.
  b.set_trial_intermediate_value(t3.trial_id, 4, 0.25);
  EXPECT_EQ(a.get_all_trials(s)[3].intermediate_values.at(4), 0.25);
  FrozenTrial popped = *b.pop_waiting_trial(s, false);
  b.finish_trial(popped.trial_id, TrialState::kComplete, {3.0});
  seen = a.get_all_trials(s, {TrialState::kComplete});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].number, 2);
  EXPECT_EQ(seen[1].values, std::vector<double>{3.0});
  EXPECT_EQ(a.get_all_trials(s)[0].values, std::vector<double>{1.0});

  b.delete_study(s);
  EXPECT_THROW(a.get_all_trials(s), NotFoundError);
}

class StorageUrlTest : public NasforgeTest {};

TEST_F(StorageUrlTest, ParsesRelativeAndAbsoluteSqliteUrls) {
  EXPECT_EQ(sqlite_path_from_url("sqlite:///study.db"), "study.db");
  EXPECT_EQ(sqlite_path_from_url("sqlite:///runs/study.db"), "runs/study.db");
  EXPECT_EQ(sqlite_path_from_url("sqlite:////tmp/study.db"), "/tmp/study.db");
  EXPECT_THROW(sqlite_path_from_url("sqlite:///"), ValueError);
  EXPECT_THROW(sqlite_path_from_url("sqlite:///a.db?timeout=5"), ValueError);

  auto absolute = open_storage("sqlite:///" + tmp("abs.db"));
  ASSERT_NE(dynamic_cast<SqliteStorage*>(absolute.get()), nullptr);
  EXPECT_EQ(dynamic_cast<SqliteStorage*>(absolute.get())->path(), tmp("abs.db"));
  EXPECT_TRUE(std::filesystem::exists(tmp("abs.db")));

  // A relative path is resolved against the current directory.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp_);
  std::shared_ptr<Storage> relative;
  EXPECT_NO_THROW(relative = open_storage("sqlite:///rel.db"));
  std::filesystem::current_path(cwd);
  ASSERT_NE(relative, nullptr);
  EXPECT_TRUE(std::filesystem::exists(tmp("rel.db")));
  relative->create_study("r", {StudyDirection::kMinimize});  // still the same file after the directory changed
  EXPECT_TRUE(SqliteStorage(tmp("rel.db")).find_study("r").has_value());
}

TEST_F(StorageUrlTest, MemoryAndUnsupportedUrls) {
  EXPECT_NE(dynamic_cast<InMemoryStorage*>(open_storage("memory").get()), nullptr);
  EXPECT_NE(dynamic_cast<InMemoryStorage*>(open_storage(":memory:").get()), nullptr);
  // Each in-memory storage is private.
  auto one = open_storage("memory");
  one->create_study("x", {StudyDirection::kMinimize});
  EXPECT_EQ(open_storage("memory")->find_study("x"), std::nullopt);

  auto message = [](const std::string& url) {
    try {
      open_storage(url);
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "expected a ValueError for " << url;
    return std::string();
  };
  std::string pg = message("postgresql:///db");
  EXPECT_NE(pg.find("names no host"), std::string::npos) << pg;
  std::string unknown = message("mysql://host/db");
  EXPECT_NE(unknown.find("mysql://host/db"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("sqlite:///"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("memory"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("postgresql://"), std::string::npos) << unknown;
  std::string two_slashes = message("sqlite://study.db");
  EXPECT_NE(two_slashes.find("three slashes"), std::string::npos) << two_slashes;
  EXPECT_FALSE(message("").empty());
}

}  // namespace
}  // namespace nasforge
