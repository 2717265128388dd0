// What only the PostgreSQL backend has: URLs, schema migrations, reconnection. The Storage contract itself is in
// storage_conformance_test.cc, which runs against this backend too.

#include "storage/postgres_storage.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gmock/gmock.h>

#include "core/error.h"
#include "storage/postgres_testing.h"
#include "testing.h"

namespace nasforge {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::NasforgeTest;
using testing::TestDatabase;

TEST(PostgresUrlTest, SplitsNasforgeOptionsFromLibpqOnes) {
  PostgresUrl u = parse_postgres_url(
      "postgresql://me:pw@db.example.org:5433/studies?sslmode=disable&reconnect_wait_s=12.5&artifacts=%2Fshared%2Fa"
      "&connect_wait_s=0");
  EXPECT_EQ(u.conninfo, "postgresql://me:pw@db.example.org:5433/studies?sslmode=disable");
  EXPECT_DOUBLE_EQ(u.options.reconnect_wait_s, 12.5);
  EXPECT_DOUBLE_EQ(u.options.connect_wait_s, 0.0);
  EXPECT_EQ(u.options.artifact_root, "/shared/a");

  PostgresUrl plain = parse_postgres_url("postgres://h/db");
  EXPECT_EQ(plain.conninfo, "postgres://h/db");
  EXPECT_DOUBLE_EQ(plain.options.reconnect_wait_s, PostgresOptions{}.reconnect_wait_s);
}

/// The ValueError parse_postgres_url raises for `url`, or "no error".
std::string url_error(const std::string& url) {
  try {
    parse_postgres_url(url);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no error";
}

TEST(PostgresUrlTest, RejectsWhatItCannotUseAndQuotesIt) {
  EXPECT_NE(url_error("postgresql:///db").find("names no host"), std::string::npos);
  EXPECT_NE(url_error("postgresql://h/db?reconnect_wait_s=soon").find("reconnect_wait_s=soon"), std::string::npos);
  EXPECT_NE(url_error("postgresql://h/db?reconnect_wait_s=-1").find("seconds from 0 to 1e9"), std::string::npos);
  EXPECT_NE(url_error("postgresql://h/db?sslmode").find("'sslmode' has no '=value'"), std::string::npos);
  EXPECT_NE(url_error("mysql://h/db").find("not a PostgreSQL URL"), std::string::npos);
}

TEST(PostgresUrlTest, UrlThatNoServerCouldAcceptFailsAtOnceQuotingTheValue) {
  EXPECT_THAT(url_error("postgresql://u@127.0.0.1:99999/db"), HasSubstr("port '99999' is not a port number"));
  EXPECT_THAT(url_error("postgresql://u@127.0.0.1:abc/db"), HasSubstr("port 'abc'"));
  EXPECT_THAT(url_error("postgresql://u@127.0.0.1:0/db"), HasSubstr("from 1 to 65535"));
  EXPECT_THAT(url_error("postgresql://u@h1:5432,h2:70000/db"), HasSubstr("port '70000'"));
  EXPECT_THAT(url_error("postgresql://u@h/db?port=5432x"), HasSubstr("port '5432x'"));
  EXPECT_THAT(url_error("postgresql://u@h/db?connect_timeout=soon"), HasSubstr("connect_timeout=soon must be a whole"));
  EXPECT_THAT(url_error("postgresql://u@h/db?sslmode=bogus"), HasSubstr("sslmode 'bogus' is not an SSL mode; use disable"));
  std::string unknown = url_error("postgresql://u@h/db?conect_timeout=5");
  EXPECT_THAT(unknown, HasSubstr("conect_timeout"));
  EXPECT_THAT(unknown, HasSubstr("reconnect_wait_s, connect_wait_s and artifacts"));
  std::string malformed = url_error("postgresql://u:hunter2@[::1/db");
  EXPECT_THAT(malformed, HasSubstr("IPv6"));
  EXPECT_THAT(malformed, Not(HasSubstr("hunter2")));
  EXPECT_THAT(url_error("postgresql://h/db?connect_wait_s=1e300"), HasSubstr("connect_wait_s=1e300 must be a number"));
  // A port left out is libpq's default, and an empty one in a multi-host list too.
  EXPECT_EQ(url_error("postgresql://u@h1:5432,h2/db?port=,5433&connect_timeout=-1&sslmode=verify-full"), "no error");
}

TEST(PostgresUrlTest, BadPortIsNotRetriedForConnectWait) {
  // The default connect_wait_s is 30 s; a URL error must not wait for any of it.
  ASSERT_GE(PostgresOptions{}.connect_wait_s, 30.0);
  auto started = std::chrono::steady_clock::now();
  try {
    PostgresStorage s("postgresql://u:secret@127.0.0.1:99999/db");
    FAIL() << "opened a storage on port 99999";
  } catch (const ValueError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("'99999'"));
    EXPECT_THAT(std::string(e.what()), Not(HasSubstr("secret")));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(PostgresUrlTest, OptionsOnlyLibpqsConnectStepRejectsAreNotRetried) {
  // libpq's parser accepts these; its connect step refuses them before any network traffic, every time.
  for (const std::string query : {"target_session_attrs=bogus", "host=127.0.0.1,127.0.0.2&port=1,2,3"}) {
    auto started = std::chrono::steady_clock::now();
    try {
      PostgresStorage s("postgresql://u@127.0.0.1/db?" + query);
      FAIL() << "opened a storage with " << query;
    } catch (const StorageError& e) {
      EXPECT_THAT(std::string(e.what()), HasSubstr("retrying cannot help")) << query;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << query;
  }
}

TEST(PostgresUrlTest, RedactsPasswords) {
  EXPECT_EQ(redact_url("postgresql://me:secret@h:5432/db"), "postgresql://me:***@h:5432/db");
  EXPECT_EQ(redact_url("postgresql://me@h:5432/db"), "postgresql://me@h:5432/db");
  EXPECT_EQ(redact_url("postgresql://h:5432/db"), "postgresql://h:5432/db");
}

TEST(PostgresUrlTest, UnreachableServerIsAStorageErrorWithoutThePassword) {
  try {
    PostgresStorage s("postgresql://me:secret@127.0.0.1:1/db?connect_wait_s=0.2");
    FAIL() << "connected to port 1";
  } catch (const StorageError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
    EXPECT_NE(msg.find("postgresql://me:***@127.0.0.1:1/db"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cannot reach"), std::string::npos) << msg;
  }
}

class PostgresStorageTest : public NasforgeTest {
 protected:
  void SetUp() override {
    NasforgeTest::SetUp();
    NASFORGE_REQUIRE_POSTGRES(server);
    db_ = std::make_unique<TestDatabase>(*server);
    ASSERT_TRUE(db_->ok()) << db_->error();
  }
  void TearDown() override {
    db_.reset();
    NasforgeTest::TearDown();
  }
  std::string sql(const std::string& command) { return testing::postgres_exec(db_->url(), command); }

  std::unique_ptr<TestDatabase> db_;
};

TEST_F(PostgresStorageTest, MigratesAnOlderSchemaKeepingItsData) {
  std::int64_t study = -1;
  {
    PostgresStorage old(db_->url(), PostgresOptions().with_schema_version(1));
    EXPECT_EQ(old.database_schema_version(), 1);
    study = old.create_study("kept", {StudyDirection::kMinimize});
    auto t = old.create_trial(study, NewTrial{});
    old.finish_trial(t->trial_id, TrialState::kComplete, {0.5});
  }
  PostgresStorage fresh(db_->url());
  EXPECT_EQ(fresh.database_schema_version(), PostgresStorage::schema_version());
  ASSERT_GE(PostgresStorage::schema_version(), 2);
  auto trials = fresh.get_all_trials(study);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].values, std::vector<double>{0.5});
  // The newest schema's writes work on the migrated database (they record commit tokens since version 2).
  EXPECT_TRUE(fresh.create_trial(study, NewTrial{}).has_value());
}

TEST_F(PostgresStorageTest, RefusesADatabaseWithANewerSchema) {
  { PostgresStorage s(db_->url()); }
  ASSERT_EQ(sql("UPDATE nasforge.version_info SET schema_version = 99, library_version = 'nasforge 9.0.0'"), "");
  try {
    PostgresStorage s(db_->url());
    FAIL() << "opened a newer schema";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("newer than version"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nasforge 9.0.0"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStorageTest, LeavesOtherProgramsTablesAlone) {
  // Optuna's RDB storage has public.studies; nasforge's tables live in schema nasforge.
  ASSERT_EQ(sql("CREATE TABLE public.studies (study_id INTEGER PRIMARY KEY, study_name TEXT)"), "");
  ASSERT_EQ(sql("INSERT INTO public.studies VALUES (1, 'optuna-study')"), "");
  PostgresStorage s(db_->url());
  std::int64_t id = s.create_study("ours", {StudyDirection::kMaximize});
  EXPECT_EQ(s.list_studies().size(), 1u);
  EXPECT_EQ(s.get_study(id).name, "ours");
  PostgresStorage again(db_->url());  // the schema exists now: no migration runs twice
  EXPECT_EQ(again.find_study("ours"), id);
}

TEST_F(PostgresStorageTest, ReconnectsWhenTheServerDropsItsConnection) {
  PostgresStorage s(db_->url());
  std::int64_t study = s.create_study("s", {StudyDirection::kMinimize});
  auto first = s.create_trial(study, NewTrial{});
  EXPECT_EQ(s.connection_count(), 1);
  // What a server restart or an administrator's pg_terminate_backend does to a worker's session.
  ASSERT_EQ(sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nasforge' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"),
            "");
  EXPECT_TRUE(s.finish_trial(first->trial_id, TrialState::kComplete, {1.0}));
  EXPECT_EQ(s.connection_count(), 2);
  auto second = s.create_trial(study, NewTrial{});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->number, 1);  // the retried write did not run twice
  EXPECT_EQ(s.count_trials(study).complete, 1);
}

TEST_F(PostgresStorageTest, ACommitWhoseReplyWasLostIsLookedUpNotRepeated) {
  PostgresOptions lossy;
  lossy.lose_commit_replies = 4;
  PostgresStorage s(db_->url(), lossy);
  // Each of these would give a different answer if it ran a second time: a second trial, a failed claim, a
  // "no longer RUNNING", a retry of the retry.
  std::int64_t study = s.create_study("s", {StudyDirection::kMinimize});
  auto t = s.create_trial(study, NewTrial{});
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->number, 0);
  EXPECT_TRUE(s.claim_study_key(study, "grid:0", 1));
  EXPECT_TRUE(s.finish_trial(t->trial_id, TrialState::kComplete, {2.0}));
  EXPECT_EQ(s.connection_count(), 5);  // the first connection and one reconnect per lost reply
  TrialCounts c = s.count_trials(study);
  EXPECT_EQ(c.complete, 1);
  EXPECT_EQ(c.slots(), 1);
  EXPECT_EQ(s.list_studies().size(), 1u);
}

TEST_F(PostgresStorageTest, HeartbeatsDoNotQueueBehindTheWorkersOwnTrialWrites) {
  PostgresStorage s(db_->url());
  std::int64_t study = s.create_study("s", {StudyDirection::kMinimize});
  auto t = s.create_trial(study, NewTrial{});
  // Another worker holds the study's lock (a long transaction), so this worker's finish_trial waits for it.
  PGconn* other = PQconnectdb(db_->url().c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK);
  PQclear(PQexec(other, "BEGIN"));
  PQclear(PQexec(other, ("UPDATE nasforge.studies SET seq = seq WHERE study_id = " + std::to_string(study)).c_str()));
  std::atomic<bool> written{false};
  std::thread writer([&] {
    s.finish_trial(t->trial_id, TrialState::kComplete, {1.0});
    written = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The heartbeat goes through meanwhile (on the shared connection it would wait for the writer).
  auto start = std::chrono::steady_clock::now();
  s.record_heartbeat(t->trial_id);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(written);  // the writer is still waiting for the lock
  PQclear(PQexec(other, "COMMIT"));
  writer.join();
  PQfinish(other);
  EXPECT_LT(waited, 5.0);  // a bound, not a timing claim: without the fix the beat waits until the COMMIT above
  EXPECT_EQ(s.get_trial(t->trial_id).state, TrialState::kComplete);
}

TEST_F(PostgresStorageTest, GivesUpAfterReconnectWaitWhenTheDatabaseIsGone) {
  PostgresStorage s(db_->url(), PostgresOptions().with_reconnect_wait(0.5));
  std::int64_t study = s.create_study("s", {StudyDirection::kMinimize});
  // Drops this test's database (and with it the connection): every reconnect now fails.
  db_.reset();
  try {
    s.count_trials(study);
    FAIL() << "read from a dropped database";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStorageTest, OpenStorageDispatchesBothSchemes) {
  EXPECT_NE(dynamic_cast<PostgresStorage*>(open_storage(db_->url()).get()), nullptr);
  std::string alias = "postgres://" + db_->url().substr(std::string("postgresql://").size());
  EXPECT_NE(dynamic_cast<PostgresStorage*>(open_storage(alias).get()), nullptr);
}

TEST_F(PostgresStorageTest, ArtifactRootComesFromTheUrl) {
  EXPECT_EQ(PostgresStorage(db_->url()).artifact_root(), "");
  EXPECT_EQ(PostgresStorage(db_->url() + "?artifacts=" + tmp("files")).artifact_root(), tmp("files"));
}

}  // namespace
}  // namespace nasforge
