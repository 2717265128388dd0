#pragma once

// Throw-away databases on the test PostgreSQL server that scripts/pg-test-server.sh starts (ctest starts one as a
// fixture when the server binaries are installed; see tests/CMakeLists.txt).

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace nasforge::testing {

/// URL of the test server's maintenance database: $NASFORGE_TEST_POSTGRES_URL, else the url file in
/// $NASFORGE_TEST_POSTGRES_DIR; nullopt when neither is there.
inline std::optional<std::string> postgres_server_url() {
  if (const char* url = std::getenv("NASFORGE_TEST_POSTGRES_URL"); url && *url) return std::string(url);
  if (const char* dir = std::getenv("NASFORGE_TEST_POSTGRES_DIR"); dir && *dir) {
    std::ifstream in(std::string(dir) + "/url");
    std::string url;
    if (in >> url) return url;
  }
  return std::nullopt;
}

/// True when the build registered the server fixture: then a missing server is a failure, not a skip.
inline bool postgres_required() {
  const char* v = std::getenv("NASFORGE_TEST_POSTGRES_DIR");
  return v != nullptr && *v != '\0';
}

/// Runs one SQL command on the server; returns libpq's error message, empty on success.
inline std::string postgres_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

/// A database created for one test and dropped with it.
class TestDatabase {
 public:
  /// Creates a fresh database on the server at `server_url`; check ok() and error().
  explicit TestDatabase(const std::string& server_url) : server_(server_url) {
    static std::atomic<int> counter{0};
    name_ = "nasforge_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    error_ = postgres_exec(server_, "CREATE DATABASE " + name_);
    std::size_t slash = server_.rfind('/');
    url_ = server_.substr(0, slash + 1) + name_;
  }
  ~TestDatabase() {
    if (error_.empty()) postgres_exec(server_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  /// True when the database was created.
  bool ok() const { return error_.empty(); }
  /// Why it was not.
  const std::string& error() const { return error_; }
  /// Its postgresql:// URL.
  const std::string& url() const { return url_; }

 private:
  std::string server_, name_, url_, error_;
};

}  // namespace nasforge::testing

/// In a test body or SetUp: skips without a test server, or fails when the build promised one.
#define NASFORGE_REQUIRE_POSTGRES(url_var)                                                                    \
  std::optional<std::string> url_var = ::nasforge::testing::postgres_server_url();                            \
  if (!url_var) {                                                                                             \
    if (::nasforge::testing::postgres_required()) {                                                           \
      FAIL() << "no test PostgreSQL server: the ctest fixture did not write $NASFORGE_TEST_POSTGRES_DIR/url"; \
    }                                                                                                         \
    GTEST_SKIP() << "no PostgreSQL test server (set NASFORGE_TEST_POSTGRES_URL or run through ctest)";        \
  }
