#include "storage/postgres_storage.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/strings.h"
#include "storage/storage_common.h"

namespace nasforge {

namespace {

using storage_detail::describe_trial;
using storage_detail::dump_json;
using Steady = std::chrono::steady_clock;

// Recorded in version_info.library_version; keep in step with project(VERSION) in the top CMakeLists.txt.
constexpr const char* kLibraryVersion = "nasforge 0.1.0";
// Serializes schema creation and migration among processes that open the same database at once.
constexpr std::int64_t kMigrationLockKey = 0x6e6173666f726765;  // "nasforge"

// Migration k takes the schema from version k to k + 1; every one runs in the same transaction as its version bump.
// Append, never edit: databases in the field are at every version. Modeled on Optuna's RDB schema, with datetimes as
// microseconds since the epoch (UTC), heartbeats as the server's timestamptz, and per-study change stamps
// (studies.seq, trials.seq): a write to a study's trials takes the next stamp by updating its study row, which is
// also the lock that serializes those writes.
const char* const kMigrations[] = {
    // 1: the tables.
    R"sql(
CREATE TABLE studies (
  study_id BIGSERIAL PRIMARY KEY,
  study_name TEXT NOT NULL UNIQUE,
  seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE study_directions (
  study_id BIGINT NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  objective INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('minimize', 'maximize')),
  PRIMARY KEY (study_id, objective)
);
CREATE TABLE study_user_attributes (
  study_id BIGINT NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (study_id, key)
);
CREATE TABLE study_system_attributes (
  study_id BIGINT NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (study_id, key)
);
CREATE TABLE trials (
  trial_id BIGSERIAL PRIMARY KEY,
  number INTEGER NOT NULL,
  study_id BIGINT NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING')),
  datetime_start BIGINT,
  datetime_complete BIGINT,
  seq BIGINT NOT NULL,
  UNIQUE (study_id, number)
);
CREATE INDEX ix_trials_study_seq ON trials (study_id, seq);
CREATE INDEX ix_trials_study_state ON trials (study_id, state, number);
CREATE TABLE trial_params (
  trial_id BIGINT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  param_name TEXT NOT NULL,
  param_value DOUBLE PRECISION NOT NULL,
  distribution_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, param_name)
);
CREATE TABLE trial_values (
  trial_id BIGINT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  objective INTEGER NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (trial_id, objective)
);
CREATE TABLE trial_intermediate_values (
  trial_id BIGINT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  intermediate_value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (trial_id, step)
);
CREATE TABLE trial_user_attributes (
  trial_id BIGINT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, key)
);
CREATE TABLE trial_system_attributes (
  trial_id BIGINT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, key)
);
CREATE TABLE trial_heartbeats (
  trial_id BIGINT PRIMARY KEY REFERENCES trials (trial_id) ON DELETE CASCADE,
  heartbeat TIMESTAMPTZ NOT NULL
);
)sql",
    // 2: tokens of committed non-idempotent operations, so that a client whose connection dropped during COMMIT can
    // tell whether its transaction landed instead of running it twice.
    R"sql(
CREATE TABLE committed_ops (
  token BIGINT PRIMARY KEY,
  committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_committed_ops_time ON committed_ops (committed_at);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
constexpr int kOpsSchemaVersion = 2;

// Thrown when the connection is gone (server restart, network); the operation reconnects and runs again.
struct Lost {
  std::string message;
};
// Thrown for serialization failures and deadlocks; the transaction runs again.
struct Conflict {};

// Waits beyond this are typos (1e30), and deadlines after them would overflow the steady clock.
constexpr double kMaxWaitS = 1e9;

// Options nasforge reads from the URL's query string; the rest goes to libpq.
bool take_option(const std::string& key, const std::string& value, PostgresOptions& o, const std::string& url) {
  auto seconds = [&](double& out) {
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > kMaxWaitS) {
      throw ValueError("PostgreSQL URL '" + redact_url(url) + "': option " + key + "=" + value +
                       " must be a number of seconds from 0 to 1e9");
    }
    out = v;
  };
  if (key == "reconnect_wait_s") {
    seconds(o.reconnect_wait_s);
  } else if (key == "connect_wait_s") {
    seconds(o.connect_wait_s);
  } else if (key == "artifacts") {
    o.artifact_root = value;
  } else {
    return false;
  }
  return true;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably means ..."); ours
// are one line each.
std::string one_line(const std::string& msg) {
  std::string out;
  for (char c : msg) {
    bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A query parameter in PostgreSQL's text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;
Param p(std::int64_t v) {
  return std::to_string(v);
}
Param p(int v) {
  return std::to_string(v);
}
Param p(double v) {
  return format_number(v);
}
Param p(const std::string& v) {
  return v;
}
Param p(const char* v) {
  return std::string(v);
}
Param p(const std::optional<Clock::time_point>& t) {
  return t ? Param(std::to_string(storage_detail::to_micros(*t))) : std::nullopt;
}

// An owned query result.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() {
    if (r_) PQclear(r_);
  }
  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
  }
  std::int64_t i64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
  // strtod reads PostgreSQL's "NaN", "Infinity" and "-Infinity".
  double f64(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
  std::optional<Clock::time_point> time(int row, int col) const {
    if (null(row, col)) return std::nullopt;
    return storage_detail::from_micros(i64(row, col));
  }
  // Rows changed by an INSERT, UPDATE or DELETE.
  int affected() const { return std::atoi(PQcmdTuples(r_)); }

 private:
  PGresult* r_;
};

// The URL's password as written (still percent-encoded), "" when it has none; libpq quotes URLs and tokens in
// its messages, and those must not carry it.
std::string url_password(const std::string& url) {
  std::string redacted = redact_url(url);
  if (redacted == url) return "";
  std::size_t colon = redacted.find("***");
  std::size_t tail = redacted.size() - colon - 3;
  return url.substr(colon, url.size() - colon - tail);
}

std::string without_password(std::string msg, const std::string& url) {
  std::string password = url_password(url);
  if (password.empty()) return msg;
  for (std::size_t at = msg.find(password); at != std::string::npos; at = msg.find(password, at + 3)) {
    msg.replace(at, password.size(), "***");
  }
  return msg;
}

// Values of libpq options that no connection attempt can accept, checked before the first one so that a typo
// fails at once instead of after connect_wait_s of retries. libpq parses these as integers.
void check_libpq_option(const std::string& key, const std::string& value, const std::string& url) {
  const std::string where = "PostgreSQL URL '" + redact_url(url) + "': ";
  auto integer = [](const std::string& text, long min, long max) {
    if (text.empty() || text.size() > 10) return false;
    std::size_t i = text[0] == '-' ? 1 : 0;
    if (i == text.size() || !std::all_of(text.begin() + static_cast<long>(i), text.end(),
                                         [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    long v = std::stol(text);
    return v >= min && v <= max;
  };
  if (key == "port") {
    // One port per host in a multi-host URL; an empty one means the default.
    for (const std::string& port : split_on(value, ',')) {
      if (!port.empty() && !integer(port, 1, 65535)) {
        throw ValueError(where + "port '" + port + "' is not a port number; use an integer from 1 to 65535, or no " +
                         "port for the default 5432 (postgresql://user@host:5432/database)");
      }
    }
  } else if (key == "connect_timeout" || key == "keepalives" || key == "keepalives_idle" ||
             key == "keepalives_interval" || key == "keepalives_count" || key == "tcp_user_timeout") {
    if (!integer(value, std::numeric_limits<int>::min(), std::numeric_limits<int>::max())) {
      throw ValueError(where + "option " + key + "=" + value + " must be a whole number (libpq reads it as an int)");
    }
  } else if (key == "sslmode") {
    static const char* const modes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
    if (std::find(std::begin(modes), std::end(modes), value) == std::end(modes)) {
      throw ValueError(where + "sslmode '" + value +
                       "' is not an SSL mode; use disable, allow, prefer, require, verify-ca or verify-full");
    }
  }
}

// Whether a failed connection attempt was libpq refusing the connection options themselves (a value only the
// connect step checks, such as target_session_attrs=bogus, or more ports than hosts): retrying cannot help.
bool option_error(const std::string& msg) {
  static const char* const signs[] = {"invalid URI",
                                      "invalid connection option",
                                      "invalid port number",
                                      "invalid integer value",
                                      "could not match",
                                      "invalid SSL protocol version",
                                      " invalid when "};
  for (const char* sign : signs) {
    if (msg.find(sign) != std::string::npos) return true;
  }
  // "invalid sslmode value: ...", "invalid target_session_attrs value: ...", one per enumerated option
  for (std::size_t at = msg.find("invalid "); at != std::string::npos; at = msg.find("invalid ", at + 1)) {
    std::size_t end = at + 8;
    while (end < msg.size() && (std::islower(static_cast<unsigned char>(msg[end])) || msg[end] == '_')) ++end;
    if (end > at + 8 && msg.compare(end, 8, " value: ") == 0) return true;
  }
  return false;
}

TrialState parse_state(const std::string& text) {
  try {
    return parse_trial_state(text);
  } catch (const ValueError& e) {
    throw StorageError(std::string("corrupt trial state in the PostgreSQL database: ") + e.what());
  }
}

}  // namespace

PostgresUrl parse_postgres_url(const std::string& url) {
  const std::string forms =
      "use postgresql://user:password@host:port/database (e.g. postgresql://nasforge@db.example.org:5432/studies), "
      "optionally with ?reconnect_wait_s=S&connect_wait_s=S&artifacts=/shared/folder and libpq's own options";
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
    throw ValueError("'" + redact_url(url) + "' is not a PostgreSQL URL; " + forms);
  }
  PostgresUrl out;
  std::size_t q = url.find('?');
  std::string base = url.substr(0, q);
  std::size_t host = base.find("://") + 3;
  if (host >= base.size() || base[host] == '/') {
    // libpq would fall back to a local socket and the current user silently; a study URL should say where it goes.
    throw ValueError("PostgreSQL URL '" + redact_url(url) + "' names no host; " + forms);
  }
  std::vector<std::string> kept;
  if (q != std::string::npos) {
    for (const std::string& item : split_on(url.substr(q + 1), '&')) {
      if (item.empty()) continue;
      std::size_t eq = item.find('=');
      if (eq == std::string::npos) {
        throw ValueError("PostgreSQL URL '" + redact_url(url) + "': option '" + item + "' has no '=value'; " + forms);
      }
      if (!take_option(item.substr(0, eq), percent_decode(item.substr(eq + 1)), out.options, url)) {
        kept.push_back(item);
      }
    }
  }
  out.conninfo = base + (kept.empty() ? "" : "?" + join(kept, "&"));
  // libpq's own parser rejects malformed URLs and unknown options without connecting.
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(out.conninfo.c_str(), &error);
  if (parsed == nullptr) {
    std::string msg = error ? one_line(error) : "out of memory parsing it";
    if (error) PQfreemem(error);
    if (msg.find("invalid URI query parameter") != std::string::npos) {
      msg += " (nasforge's own URL options are reconnect_wait_s, connect_wait_s and artifacts, the rest must be "
             "libpq connection parameters: sslmode, connect_timeout, application_name, ...)";
    }
    throw ValueError("PostgreSQL URL '" + redact_url(url) + "': " + without_password(msg, url) + "; " + forms);
  }
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> owned(parsed, &PQconninfoFree);
  for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) check_libpq_option(option->keyword, option->val, url);
  }
  return out;
}

struct PostgresStorage::Impl {
  struct TrialRow {
    std::int64_t trial_id = -1;
    std::int64_t study_id = -1;
    int number = -1;
    TrialState state = TrialState::kRunning;
  };

  std::string url;       // as given, for messages (redacted)
  std::string conninfo;  // for libpq
  PostgresOptions options;
  PGconn* conn = nullptr;
  int connections = 0;
  int schema = 0;                                         // the database's version once open
  std::unordered_map<std::string, std::string> prepared;  // SQL -> statement name, per connection
  std::unordered_map<std::string, Distribution> distributions;
  std::unordered_map<std::int64_t, storage_detail::TrialCache> caches;
  std::string doing;  // what the current transaction is for, for messages
  std::mt19937_64 rng{std::random_device{}()};
  std::int64_t writes = 0;
  std::optional<Steady::time_point> outage;  // since when the connection has been gone, while it is

  Impl(const std::string& u, PostgresOptions o) : url(u), conninfo(parse_postgres_url(u).conninfo), options(o) {}

  ~Impl() { disconnect(); }

  std::string where() const { return "PostgreSQL database '" + redact_url(url) + "'"; }

  void disconnect() {
    if (conn) PQfinish(conn);
    conn = nullptr;
    prepared.clear();
  }

  // One connection attempt; throws Lost when the server may come back, StorageError when retrying cannot help.
  void connect_once() {
    disconnect();
    // Defaults first: with expand_dbname the URL's own values override them.
    const char* keys[] = {"connect_timeout",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "application_name",
                          "dbname",
                          nullptr};
    const char* values[] = {"10", "30", "10", "3", "nasforge", conninfo.c_str(), nullptr};
    conn = PQconnectdbParams(keys, values, 1);
    if (conn == nullptr) throw StorageError("out of memory connecting to " + where());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string msg = one_line(PQerrorMessage(conn));
      msg = without_password(msg, url);
      bool options = option_error(msg);
      bool fatal = options || PQconnectionNeedsPassword(conn) || msg.find("does not exist") != std::string::npos ||
                   msg.find("authentication failed") != std::string::npos;
      disconnect();
      if (options) msg += " (libpq rejects the URL's connection options; fix the URL, retrying cannot help)";
      if (fatal) throw StorageError("cannot connect to " + where() + ": " + msg);
      throw Lost{msg};
    }
    ++connections;
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);  // "relation already exists, skipping" etc.
    // Unqualified table names resolve to nasforge's schema (created by the first migration's caller).
    exec("SET search_path TO nasforge; SET TIME ZONE 'UTC'", "configuring the connection");
  }

  [[noreturn]] void raise(PGresult* res, const std::string& what) {
    std::string state;
    if (const char* s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr) state = s;
    std::string msg = res ? PQresultErrorMessage(res) : "";
    if (msg.empty() && conn) msg = PQerrorMessage(conn);
    msg = one_line(msg);
    if (res) PQclear(res);
    bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD || state.rfind("08", 0) == 0 || state == "57P01" ||
                state == "57P02" || state == "57P03";
    if (lost) throw Lost{msg};
    if (state == "40001" || state == "40P01") throw Conflict{};
    throw StorageError("error in " + where() + " while " + what + ": " + msg +
                       (state.empty() ? "" : " (SQLSTATE " + state + ")"));
  }

  // Runs SQL text without parameters (several statements allowed).
  void exec(const char* sql, const std::string& what) {
    PGresult* res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) raise(res, what);
    PQclear(res);
  }

  // Runs one statement with parameters $1.. as a prepared statement cached per connection.
  Result q(const std::string& sql, const std::vector<Param>& params = {}) {
    auto it = prepared.find(sql);
    if (it == prepared.end()) {
      std::string name = "s" + std::to_string(prepared.size());
      PGresult* res = PQprepare(conn, name.c_str(), sql.c_str(), 0, nullptr);
      if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) raise(res, doing + " (preparing " + sql + ")");
      PQclear(res);
      it = prepared.emplace(sql, name).first;
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& v : params) values.push_back(v ? v->c_str() : nullptr);
    PGresult* res =
        PQexecPrepared(conn, it->second.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) raise(res, doing);
    return Result(res);
  }

  void rollback() {
    if (conn && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      PGresult* res = PQexec(conn, "ROLLBACK");
      if (res) PQclear(res);
    }
  }

  void sleep_backoff(int attempt) {
    double base_ms = std::min(2000.0, 50.0 * std::ldexp(1.0, std::min(attempt, 6)));
    double ms = base_ms * std::uniform_real_distribution<double>(0.5, 1.5)(rng);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }

  Steady::time_point deadline_after(double s) {
    // Options set in code skip the URL's bound; converting a larger wait to clock ticks would overflow.
    if (!(s <= kMaxWaitS)) s = kMaxWaitS;
    return Steady::now() + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(std::max(0.0, s)));
  }

  // Connects, retrying while the server is unreachable until `deadline`.
  void ensure_connected(Steady::time_point deadline, double wait_s) {
    for (int attempt = 0; !conn || PQstatus(conn) != CONNECTION_OK; ++attempt) {
      try {
        connect_once();
        if (outage) {
          // Operators watching a worker's log should see that it rode out the outage, and for how long.
          char took[32];
          std::snprintf(took, sizeof took, "%.2f", std::chrono::duration<double>(Steady::now() - *outage).count());
          std::cerr << "nasforge: reconnected to " << where() << " after " << took << " s\n";
          outage.reset();
        }
      } catch (const Lost& e) {
        if (Steady::now() >= deadline) {
          throw StorageError("cannot reach " + where() + " (tried for " + format_double(wait_s) + " s): " + e.message);
        }
        sleep_backoff(attempt);
      }
    }
  }

  // One transaction. Read transactions see one snapshot; write transactions run at READ COMMITTED and take row
  // locks (the study row first) before they read what they change. The body may run several times (after a
  // conflict or a lost connection), so it must assign, not accumulate, its results. A non-idempotent write records
  // a token in the same transaction: when the connection drops during COMMIT, the token tells whether it landed,
  // and if it did, the results the body assigned are the committed ones.
  void transaction(bool write, bool idempotent, const std::string& what, const std::function<void()>& body,
                   bool one_statement = false) {
    doing = what;
    const auto deadline = deadline_after(options.reconnect_wait_s);
    const bool use_token = write && !idempotent && schema >= kOpsSchemaVersion;
    const std::int64_t token = static_cast<std::int64_t>(rng() >> 1);
    bool commit_sent = false;
    for (int attempt = 0;; ++attempt) {
      try {
        ensure_connected(deadline, options.reconnect_wait_s);
        if (commit_sent) {
          commit_sent = false;
          Result r = q("SELECT 1 FROM committed_ops WHERE token = $1", {p(token)});
          if (r.rows() == 1) return;
        }
        if (one_statement) {
          body();  // a single statement is atomic and sees one snapshot by itself; BEGIN/COMMIT would cost 2 trips
          return;
        }
        exec(write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what);
        body();
        if (use_token) {
          q("INSERT INTO committed_ops (token) VALUES ($1)", {p(token)});
          if (++writes % 5000 == 0) q("DELETE FROM committed_ops WHERE committed_at < now() - interval '1 day'");
        }
        commit_sent = use_token;
        exec("COMMIT", what + " (committing)");
        if (use_token && options.lose_commit_replies > 0) {
          --options.lose_commit_replies;
          throw Lost{"reply to COMMIT lost (injected fault)"};
        }
        return;
      } catch (const Lost& e) {
        disconnect();
        if (!outage && connections > 0) {
          outage = Steady::now();
          std::cerr << "nasforge: warning: lost the connection to " << where() << " while " << what << " (" << e.message
                    << "); reconnecting for up to " << format_double(options.reconnect_wait_s) << " s\n";
        }
        if (Steady::now() >= deadline) {
          throw StorageError("lost the connection to " + where() + " while " + what + " and could not get it back in " +
                             format_double(options.reconnect_wait_s) +
                             " s (URL option reconnect_wait_s): " + e.message);
        }
        sleep_backoff(attempt);
      } catch (const Conflict&) {
        rollback();
        commit_sent = false;
        if (Steady::now() >= deadline) {
          throw StorageError("gave up " + what + " in " + where() + " after " +
                             format_double(options.reconnect_wait_s) + " s of serialization conflicts or deadlocks");
        }
        sleep_backoff(std::min(attempt, 3));
      } catch (...) {
        rollback();
        throw;
      }
    }
  }

  // A read that is one statement.
  void read_statement(const std::string& what, const std::function<void()>& body) {
    transaction(false, true, what, body, /*one_statement=*/true);
  }

  void open() {
    ensure_connected(deadline_after(options.connect_wait_s), options.connect_wait_s);
    const int target = options.schema_version > 0 ? options.schema_version : kSchemaVersion;
    transaction(true, true, "creating or migrating the schema", [&] {
      q("SELECT pg_advisory_xact_lock($1)", {p(kMigrationLockKey)});
      exec("CREATE SCHEMA IF NOT EXISTS nasforge", "creating schema nasforge");
      exec(
          "CREATE TABLE IF NOT EXISTS version_info (version_info_id INTEGER PRIMARY KEY CHECK (version_info_id = 1), "
          "schema_version INTEGER NOT NULL, library_version TEXT NOT NULL)",
          "creating table version_info");
      Result r = q("SELECT schema_version, library_version FROM version_info WHERE version_info_id = 1");
      int current = r.rows() ? static_cast<int>(r.i64(0, 0)) : 0;
      if (current > target) {
        throw StorageError(where() + " uses nasforge storage schema version " + std::to_string(current) +
                           " (written by " + r.text(0, 1) + "), newer than version " + std::to_string(target) +
                           " that this " + kLibraryVersion + " understands; upgrade nasforge to open it");
      }
      for (int v = current; v < target; ++v)
        exec(kMigrations[v], "migrating the schema to version " + std::to_string(v + 1));
      q("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, $1, $2) "
        "ON CONFLICT (version_info_id) DO UPDATE SET schema_version = excluded.schema_version, "
        "library_version = excluded.library_version",
        {p(target), p(kLibraryVersion)});
      schema = target;
    });
  }

  const Distribution& distribution(const std::string& json) {
    auto it = distributions.find(json);
    if (it != distributions.end()) return it->second;
    if (distributions.size() > 100000) distributions.clear();
    try {
      return distributions.emplace(json, Distribution::from_json(Json::parse(json))).first->second;
    } catch (const std::exception& e) {
      throw StorageError("corrupt distribution_json '" + json + "' in " + where() + ": " + e.what());
    }
  }

  Json parse_json(const std::string& text) const {
    try {
      return Json::parse(text);
    } catch (const Json::exception& e) {
      throw StorageError("corrupt attribute JSON '" + text + "' in " + where() + ": " + e.what());
    }
  }

  [[noreturn]] void no_study(std::int64_t study_id) const {
    throw NotFoundError("no study with id " + std::to_string(study_id) + " in " + where());
  }
  [[noreturn]] void no_trial(std::int64_t trial_id) const {
    throw NotFoundError("no trial with id " + std::to_string(trial_id) + " in " + where());
  }

  // ---- studies ----

  void require_study(std::int64_t study_id) {
    if (q("SELECT 1 FROM studies WHERE study_id = $1", {p(study_id)}).rows() == 0) no_study(study_id);
  }

  // Locks the study's row until the transaction ends and returns the stamp for the trials this transaction writes.
  std::int64_t lock_study(std::int64_t study_id) {
    Result r = q("UPDATE studies SET seq = seq + 1 WHERE study_id = $1 RETURNING seq", {p(study_id)});
    if (r.rows() == 0) no_study(study_id);
    return r.i64(0, 0);
  }

  StudyInfo load_study(std::int64_t study_id) {
    StudyInfo info;
    Result r = q("SELECT study_name FROM studies WHERE study_id = $1", {p(study_id)});
    if (r.rows() == 0) no_study(study_id);
    info.study_id = study_id;
    info.name = r.text(0, 0);
    Result d = q("SELECT direction FROM study_directions WHERE study_id = $1 ORDER BY objective", {p(study_id)});
    for (int i = 0; i < d.rows(); ++i) info.directions.push_back(parse_direction(d.text(i, 0)));
    for (auto [table, out] : {std::make_pair("study_user_attributes", &info.user_attrs),
                              std::make_pair("study_system_attributes", &info.system_attrs)}) {
      Result a = q(std::string("SELECT key, value_json FROM ") + table + " WHERE study_id = $1", {p(study_id)});
      for (int i = 0; i < a.rows(); ++i) (*out)[a.text(i, 0)] = parse_json(a.text(i, 1));
    }
    return info;
  }

  void upsert_study_attr(const char* table, std::int64_t study_id, const std::string& key, const std::string& json) {
    q(std::string("INSERT INTO ") + table + " (study_id, key, value_json) VALUES ($1, $2, $3) " +
          "ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
      {p(study_id), p(key), p(json)});
  }

  std::int64_t insert_study(const std::string& name, const std::vector<StudyDirection>& directions,
                            const std::map<std::string, std::string>& system_json,
                            const std::map<std::string, std::string>& user_json) {
    Result r = q("INSERT INTO studies (study_name) VALUES ($1) ON CONFLICT (study_name) DO NOTHING RETURNING study_id",
                 {p(name)});
    if (r.rows() == 0) {
      Result e = q("SELECT study_id FROM studies WHERE study_name = $1", {p(name)});
      throw DuplicateStudyError("a study named '" + name + "' already exists in " + where() +
                                (e.rows() ? " (id " + e.text(0, 0) + ")" : std::string()) +
                                "; pick another name or load it");
    }
    std::int64_t id = r.i64(0, 0);
    for (std::size_t i = 0; i < directions.size(); ++i) {
      q("INSERT INTO study_directions (study_id, objective, direction) VALUES ($1, $2, $3)",
        {p(id), p(static_cast<std::int64_t>(i)), p(to_string(directions[i]))});
    }
    for (const auto& [key, json] : system_json) upsert_study_attr("study_system_attributes", id, key, json);
    for (const auto& [key, json] : user_json) upsert_study_attr("study_user_attributes", id, key, json);
    return id;
  }

  // ---- trials ----

  // The trial's study, number and state; call after lock_study() for a state the transaction relies on.
  TrialRow trial_row(std::int64_t trial_id) {
    Result r = q("SELECT study_id, number, state FROM trials WHERE trial_id = $1", {p(trial_id)});
    if (r.rows() == 0) no_trial(trial_id);
    return TrialRow{trial_id, r.i64(0, 0), static_cast<int>(r.i64(0, 1)), parse_state(r.text(0, 2))};
  }

  // Locks the trial's study and returns the trial as of that lock, with the stamp for this transaction.
  std::pair<TrialRow, std::int64_t> locked_row(std::int64_t trial_id) {
    // A trial never changes study, so the lock can find the study through it; the state is read only after the lock
    // (the join's trial row could be a snapshot from before it).
    Result r =
        q("UPDATE studies s SET seq = s.seq + 1 FROM trials t WHERE t.trial_id = $1 AND s.study_id = t.study_id "
          "RETURNING s.seq",
          {p(trial_id)});
    if (r.rows() == 0) no_trial(trial_id);
    return {trial_row(trial_id), r.i64(0, 0)};
  }

  TrialRow writable_row(std::int64_t trial_id, const std::string& what) {
    auto [r, seq] = locked_row(trial_id);
    if (is_finished(r.state)) {
      throw StateError("cannot " + what + " on " + describe_trial(trial_id, r.number) + ": it is already " +
                       to_string(r.state));
    }
    q("UPDATE trials SET seq = $1 WHERE trial_id = $2", {p(seq), p(trial_id)});
    return r;
  }

  int next_number(std::int64_t study_id) {
    return static_cast<int>(
        q("SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE study_id = $1", {p(study_id)}).i64(0, 0));
  }

  int retried_count(std::int64_t study_id) {
    return static_cast<int>(q("SELECT COUNT(*) FROM trials t JOIN trial_system_attributes a ON a.trial_id = t.trial_id "
                              "WHERE t.study_id = $1 AND t.state = 'FAIL' AND a.key = $2",
                              {p(study_id), p(attr::kRetriedBy)})
                                .i64(0, 0));
  }

  std::int64_t insert_trial(std::int64_t study_id, int number, TrialState state,
                            const std::optional<Clock::time_point>& start,
                            const std::optional<Clock::time_point>& complete, std::int64_t seq) {
    return q("INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete, seq) "
             "VALUES ($1, $2, $3, $4, $5, $6) RETURNING trial_id",
             {p(number), p(study_id), p(to_string(state)), p(start), p(complete), p(seq)})
        .i64(0, 0);
  }

  void upsert_param(std::int64_t trial_id, const std::string& name, double internal, const Distribution& d) {
    q("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (trial_id, param_name) DO UPDATE SET param_value = excluded.param_value, "
      "distribution_json = excluded.distribution_json",
      {p(trial_id), p(name), p(internal), p(d.to_json().dump())});
  }

  void upsert_trial_attr(const char* table, std::int64_t trial_id, const std::string& key, const std::string& json) {
    q(std::string("INSERT INTO ") + table + " (trial_id, key, value_json) VALUES ($1, $2, $3) " +
          "ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
      {p(trial_id), p(key), p(json)});
  }

  void upsert_heartbeat(std::int64_t trial_id) {
    q("INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, clock_timestamp()) "
      "ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat",
      {p(trial_id)});
  }

  void insert_value(const char* table, const char* key_col, const char* value_col, std::int64_t trial_id, int key,
                    double value) {
    q(std::string("INSERT INTO ") + table + " (trial_id, " + key_col + ", " + value_col + ") VALUES ($1, $2, $3) " +
          "ON CONFLICT (trial_id, " + key_col + ") DO UPDATE SET " + value_col + " = excluded." + value_col,
      {p(trial_id), p(key), p(value)});
  }

  // Marks a RUNNING trial FAIL and, below the retry limit, enqueues a WAITING copy; the caller holds the study lock.
  std::optional<int> fail_row(const TrialRow& r, std::int64_t seq, const std::string& reason, int max_retry) {
    q("UPDATE trials SET state = 'FAIL', datetime_complete = $1, seq = $2 WHERE trial_id = $3",
      {p(std::optional<Clock::time_point>(storage_detail::now())), p(seq), p(r.trial_id)});
    upsert_trial_attr("trial_system_attributes", r.trial_id, attr::kFailReason, dump_json(reason));
    std::map<std::string, Json> retry_attrs;
    Result a = q("SELECT key, value_json FROM trial_system_attributes WHERE trial_id = $1 AND key IN ($2, $3)",
                 {p(r.trial_id), p(attr::kRetryCount), p(attr::kRetryOf)});
    for (int i = 0; i < a.rows(); ++i) retry_attrs[a.text(i, 0)] = parse_json(a.text(i, 1));
    int count = storage_detail::retry_count(retry_attrs);
    if (count >= max_retry) return std::nullopt;
    int number = next_number(r.study_id);
    std::int64_t copy_id = insert_trial(r.study_id, number, TrialState::kWaiting, std::nullopt, std::nullopt, seq);
    q("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
      "SELECT $1, param_name, param_value, distribution_json FROM trial_params WHERE trial_id = $2",
      {p(copy_id), p(r.trial_id)});
    upsert_trial_attr("trial_system_attributes", copy_id, attr::kRetryOf,
                      dump_json(storage_detail::retry_root(retry_attrs, r.number)));
    upsert_trial_attr("trial_system_attributes", copy_id, attr::kRetryCount, dump_json(count + 1));
    upsert_trial_attr("trial_system_attributes", r.trial_id, attr::kRetriedBy, dump_json(number));
    return number;
  }

  // Trials selected by `where` (on alias t, parameters $1 and $2), ordered by number.
  std::vector<FrozenTrial> load_trials(const std::string& cond, const std::vector<Param>& params) {
    std::vector<FrozenTrial> out;
    std::unordered_map<std::int64_t, std::size_t> index;
    {
      Result r = q("SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete FROM trials t WHERE " +
                       cond + " ORDER BY t.number",
                   params);
      out.reserve(static_cast<std::size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i) {
        FrozenTrial t;
        t.trial_id = r.i64(i, 0);
        t.number = static_cast<int>(r.i64(i, 1));
        t.state = parse_state(r.text(i, 2));
        t.datetime_start = r.time(i, 3);
        t.datetime_complete = r.time(i, 4);
        index[t.trial_id] = out.size();
        out.push_back(std::move(t));
      }
    }
    if (out.empty()) return out;
    // Every child row in one round trip; numbers travel as text, which PostgreSQL prints exactly (shortest form that
    // reads back to the same double, "NaN" and "Infinity" included).
    const std::string join_where = " c JOIN trials t ON t.trial_id = c.trial_id WHERE " + cond;
    Result r = q(
        "SELECT 'p', c.trial_id, c.param_name, c.param_value::text, c.distribution_json FROM trial_params" +
            join_where + " UNION ALL SELECT 'v', c.trial_id, c.objective::text, c.value::text, NULL FROM trial_values" +
            join_where +
            " UNION ALL SELECT 'i', c.trial_id, c.step::text, c.intermediate_value::text, NULL "
            "FROM trial_intermediate_values" +
            join_where + " UNION ALL SELECT 'u', c.trial_id, c.key, NULL, c.value_json FROM trial_user_attributes" +
            join_where + " UNION ALL SELECT 's', c.trial_id, c.key, NULL, c.value_json FROM trial_system_attributes" +
            join_where,
        params);
    for (int i = 0; i < r.rows(); ++i) {
      FrozenTrial& t = out[index.at(r.i64(i, 1))];
      switch (r.text(i, 0)[0]) {
        case 'p': {
          const Distribution& d = distribution(r.text(i, 4));
          std::string name = r.text(i, 2);
          t.params[name] = d.to_external(r.f64(i, 3));
          t.distributions.insert_or_assign(name, d);
          break;
        }
        case 'v': {
          auto objective = static_cast<std::size_t>(r.i64(i, 2));
          if (t.values.size() <= objective) t.values.resize(objective + 1, std::nan(""));
          t.values[objective] = r.f64(i, 3);
          break;
        }
        case 'i':
          t.intermediate_values[static_cast<int>(r.i64(i, 2))] = r.f64(i, 3);
          break;
        case 'u':
          t.user_attrs[r.text(i, 2)] = parse_json(r.text(i, 4));
          break;
        default:
          t.system_attrs[r.text(i, 2)] = parse_json(r.text(i, 4));
          break;
      }
    }
    return out;
  }

  FrozenTrial load_trial(std::int64_t trial_id) {
    auto trials = load_trials("t.trial_id = $1", {p(trial_id)});
    if (trials.empty()) no_trial(trial_id);
    return std::move(trials.front());
  }
};

PostgresStorage::PostgresStorage(const std::string& url) : PostgresStorage(url, parse_postgres_url(url).options) {}

PostgresStorage::PostgresStorage(const std::string& url, PostgresOptions options)
    : impl_(std::make_unique<Impl>(url, std::move(options))) {
  impl_->open();
}

PostgresStorage::~PostgresStorage() = default;

int PostgresStorage::schema_version() {
  return kSchemaVersion;
}

int PostgresStorage::database_schema_version() {
  std::lock_guard<std::mutex> lock(mu_);
  int v = 0;
  impl_->transaction(false, true, "reading the schema version", [&] {
    Result r = impl_->q("SELECT schema_version FROM version_info WHERE version_info_id = 1");
    v = r.rows() ? static_cast<int>(r.i64(0, 0)) : 0;
  });
  return v;
}

int PostgresStorage::connection_count() const {
  return impl_->connections;  // the main connection; heartbeats have their own
}

std::int64_t PostgresStorage::create_study(const std::string& name, const std::vector<StudyDirection>& directions,
                                           const std::map<std::string, Json>& system_attrs) {
  storage_detail::check_new_study(name, directions);
  std::map<std::string, std::string> attr_json;
  for (const auto& [k, v] : system_attrs) attr_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t id = -1;
  impl_->transaction(true, false, "creating study '" + name + "'",
                     [&] { id = impl_->insert_study(name, directions, attr_json, {}); });
  return id;
}

void PostgresStorage::delete_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->caches.erase(study_id);
  impl_->transaction(true, false, "deleting a study", [&] {
    impl_->lock_study(study_id);
    impl_->q("DELETE FROM studies WHERE study_id = $1", {p(study_id)});
  });
}

void PostgresStorage::rename_study(std::int64_t study_id, const std::string& new_name) {
  check_study_name(new_name, "new name");
  std::lock_guard<std::mutex> lock(mu_);
  // Idempotent: rerun after a lost COMMIT reply, it finds the study already carrying the new name.
  impl_->transaction(true, true, "renaming a study", [&] {
    impl_->lock_study(study_id);
    Result e = impl_->q("SELECT study_id FROM studies WHERE study_name = $1", {p(new_name)});
    if (e.rows()) {
      if (e.i64(0, 0) == study_id) return;
      throw DuplicateStudyError("a study named '" + new_name + "' already exists in " + impl_->where() + " (id " +
                                e.text(0, 0) + ")");
    }
    impl_->q("UPDATE studies SET study_name = $2 WHERE study_id = $1", {p(study_id), p(new_name)});
  });
}

std::optional<std::int64_t> PostgresStorage::find_study(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<std::int64_t> id;
  impl_->transaction(false, true, "finding a study", [&] {
    Result r = impl_->q("SELECT study_id FROM studies WHERE study_name = $1", {p(name)});
    id = r.rows() ? std::optional<std::int64_t>(r.i64(0, 0)) : std::nullopt;
  });
  return id;
}

StudyInfo PostgresStorage::get_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  StudyInfo info;
  impl_->transaction(false, true, "reading a study", [&] { info = impl_->load_study(study_id); });
  return info;
}

std::vector<StudyInfo> PostgresStorage::list_studies() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StudyInfo> out;
  impl_->transaction(false, true, "listing studies", [&] {
    out.clear();
    Result r = impl_->q("SELECT study_id FROM studies ORDER BY study_id");
    for (int i = 0; i < r.rows(); ++i) out.push_back(impl_->load_study(r.i64(i, 0)));
  });
  return out;
}

void PostgresStorage::set_study_user_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "setting a study user attribute", [&] {
    impl_->require_study(study_id);
    impl_->upsert_study_attr("study_user_attributes", study_id, key, json);
  });
}

void PostgresStorage::set_study_system_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "setting a study system attribute", [&] {
    impl_->require_study(study_id);
    impl_->upsert_study_attr("study_system_attributes", study_id, key, json);
  });
}

bool PostgresStorage::claim_study_key(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  bool claimed = false;
  impl_->transaction(true, false, "claiming a study key", [&] {
    impl_->require_study(study_id);
    // The primary key makes a concurrent second insert wait for the first and then do nothing.
    claimed = impl_
                  ->q("INSERT INTO study_system_attributes (study_id, key, value_json) VALUES ($1, $2, $3) "
                      "ON CONFLICT (study_id, key) DO NOTHING",
                      {p(study_id), p(key), p(json)})
                  .affected() == 1;
  });
  return claimed;
}

std::optional<FrozenTrial> PostgresStorage::create_trial(std::int64_t study_id, const NewTrial& trial,
                                                         std::optional<int> max_slots) {
  storage_detail::check_new_trial_state(trial.state);
  auto canonical = storage_detail::canonical_params(trial.params, trial.distributions);
  std::map<std::string, std::string> user_json, system_json;
  for (const auto& [k, v] : trial.user_attrs) user_json[k] = dump_json(v);
  for (const auto& [k, v] : trial.system_attrs) system_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<FrozenTrial> created;
  impl_->transaction(true, false, "creating a trial", [&] {
    created.reset();
    std::int64_t seq = impl_->lock_study(study_id);
    FrozenTrial t;
    t.number = impl_->next_number(study_id);
    // Numbers are dense (trials are only deleted with their study), so the next number is the trial count.
    if (max_slots && t.number - impl_->retried_count(study_id) >= *max_slots) return;
    t.state = trial.state;
    if (t.state == TrialState::kRunning) t.datetime_start = storage_detail::now();
    t.trial_id = impl_->insert_trial(study_id, t.number, t.state, t.datetime_start, std::nullopt, seq);
    for (const auto& [name, internal] : canonical.internal) {
      impl_->upsert_param(t.trial_id, name, internal, canonical.distributions.at(name));
    }
    for (const auto& [k, j] : user_json) impl_->upsert_trial_attr("trial_user_attributes", t.trial_id, k, j);
    for (const auto& [k, j] : system_json) impl_->upsert_trial_attr("trial_system_attributes", t.trial_id, k, j);
    if (trial.heartbeat && t.state == TrialState::kRunning) impl_->upsert_heartbeat(t.trial_id);
    t.params = canonical.params;
    t.distributions = canonical.distributions;
    t.user_attrs = trial.user_attrs;
    t.system_attrs = trial.system_attrs;
    created = std::move(t);
  });
  return created;
}

std::optional<FrozenTrial> PostgresStorage::pop_waiting_trial(std::int64_t study_id, bool heartbeat) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<FrozenTrial> popped;
  impl_->transaction(true, false, "starting a waiting trial", [&] {
    popped.reset();
    std::int64_t seq = impl_->lock_study(study_id);
    Result r = impl_->q("SELECT trial_id FROM trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY number LIMIT 1",
                        {p(study_id)});
    if (r.rows() == 0) return;
    std::int64_t trial_id = r.i64(0, 0);
    impl_->q("UPDATE trials SET state = 'RUNNING', datetime_start = $1, seq = $2 WHERE trial_id = $3",
             {p(std::optional<Clock::time_point>(storage_detail::now())), p(seq), p(trial_id)});
    if (heartbeat) impl_->upsert_heartbeat(trial_id);
    popped = impl_->load_trial(trial_id);
  });
  return popped;
}

void PostgresStorage::set_trial_params(std::int64_t trial_id, const ParamMap& params,
                                       const std::map<std::string, Distribution>& distributions) {
  auto canonical = storage_detail::canonical_params(params, distributions);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "setting trial parameters", [&] {
    impl_->writable_row(trial_id, "set parameters");
    for (const auto& [name, internal] : canonical.internal) {
      impl_->upsert_param(trial_id, name, internal, canonical.distributions.at(name));
    }
  });
}

bool PostgresStorage::finish_trial(std::int64_t trial_id, TrialState state, const std::vector<double>& values,
                                   const std::map<std::string, Json>& system_attrs) {
  std::map<std::string, std::string> system_json;
  for (const auto& [k, v] : system_attrs) system_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  bool finished = false;
  impl_->transaction(true, false, "finishing a trial", [&] {
    finished = false;
    auto [r, seq] = impl_->locked_row(trial_id);
    auto n_objectives =
        impl_->q("SELECT COUNT(*) FROM study_directions WHERE study_id = $1", {p(r.study_id)}).i64(0, 0);
    storage_detail::check_finish(state, values, static_cast<std::size_t>(n_objectives));
    if (r.state != TrialState::kRunning) return;
    impl_->q("UPDATE trials SET state = $1, datetime_complete = $2, seq = $3 WHERE trial_id = $4",
             {p(to_string(state)), p(std::optional<Clock::time_point>(storage_detail::now())), p(seq), p(trial_id)});
    for (std::size_t i = 0; i < values.size(); ++i) {
      impl_->insert_value("trial_values", "objective", "value", trial_id, static_cast<int>(i), values[i]);
    }
    for (const auto& [k, j] : system_json) impl_->upsert_trial_attr("trial_system_attributes", trial_id, k, j);
    finished = true;
  });
  return finished;
}

std::optional<int> PostgresStorage::fail_trial(std::int64_t trial_id, const std::string& reason, int max_retry) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int> retry;
  impl_->transaction(true, false, "failing a trial", [&] {
    retry.reset();
    auto [r, seq] = impl_->locked_row(trial_id);
    if (r.state == TrialState::kRunning) retry = impl_->fail_row(r, seq, reason, max_retry);
  });
  return retry;
}

std::vector<int> PostgresStorage::reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) {
  storage_detail::check_grace(grace_s);
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> reaped;
  if (grace_s > 1e9) {  // no heartbeat is that old; also keeps the interval in range
    impl_->read_statement("reaping stale trials", [&] { impl_->require_study(study_id); });
    return reaped;
  }
  // Nobody can beat while the server is down, so for one grace period after it (re)starts no heartbeat counts as
  // stale: live workers reconnect and beat again, and only the dead ones' trials are failed.
  const std::string stale_from =
      " FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id WHERE t.study_id = $1 AND "
      "t.state = 'RUNNING' AND h.heartbeat < clock_timestamp() - make_interval(secs => $2) AND "
      "pg_postmaster_start_time() < clock_timestamp() - make_interval(secs => $2)";
  const std::string stale_sql = "SELECT t.trial_id, t.number, EXTRACT(EPOCH FROM clock_timestamp() - h.heartbeat)" +
                                stale_from + " ORDER BY t.number";
  // Every ask() reaps; one read-only statement first keeps the common case (nothing stale) off the study lock.
  bool any = false;
  impl_->read_statement("looking for stale trials", [&] {
    Result r = impl_->q("SELECT EXISTS (SELECT 1" + stale_from + ") FROM studies WHERE study_id = $1",
                        {p(study_id), p(grace_s)});
    if (r.rows() == 0) impl_->no_study(study_id);
    any = r.text(0, 0) == "t";
  });
  if (!any) return reaped;
  impl_->transaction(true, false, "reaping stale trials", [&] {
    reaped.clear();
    std::int64_t seq = impl_->lock_study(study_id);
    Result r = impl_->q(stale_sql, {p(study_id), p(grace_s)});
    for (int i = 0; i < r.rows(); ++i) {
      Impl::TrialRow row{r.i64(i, 0), study_id, static_cast<int>(r.i64(i, 1)), TrialState::kRunning};
      impl_->fail_row(row, seq,
                      "no heartbeat for " + format_double(r.f64(i, 2)) + " s (grace " + format_double(grace_s) +
                          " s, database clock): the worker running it died or hung",
                      max_retry);
      reaped.push_back(row.number);
    }
  });
  return reaped;
}

void PostgresStorage::record_heartbeat(std::int64_t trial_id) {
  // A connection of its own: on the shared one, a beat would wait for the worker's own trial write queued behind
  // another worker's study lock, and a long enough queue would make the reaper fail a live trial. No study lock
  // either: a heartbeat changes nothing a reader of trials sees.
  std::lock_guard<std::mutex> lock(beat_mu_);
  if (!beat_) {
    beat_ = std::make_unique<Impl>(impl_->url, impl_->options);
    beat_->schema = impl_->schema;  // migrated by the main connection's open()
  }
  beat_->transaction(true, true, "recording a heartbeat", [&] {
    Result r = beat_->q("SELECT state FROM trials WHERE trial_id = $1 FOR SHARE", {p(trial_id)});
    if (r.rows() == 0) beat_->no_trial(trial_id);
    if (parse_state(r.text(0, 0)) == TrialState::kRunning) beat_->upsert_heartbeat(trial_id);
  });
}

void PostgresStorage::set_trial_intermediate_value(std::int64_t trial_id, int step, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "recording an intermediate value", [&] {
    impl_->writable_row(trial_id, "report an intermediate value");
    impl_->insert_value("trial_intermediate_values", "step", "intermediate_value", trial_id, step, value);
  });
}

void PostgresStorage::set_trial_user_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "setting a trial user attribute", [&] {
    impl_->writable_row(trial_id, "set user attribute '" + key + "'");
    impl_->upsert_trial_attr("trial_user_attributes", trial_id, key, json);
  });
}

void PostgresStorage::set_trial_system_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, true, "setting a trial system attribute", [&] {
    impl_->writable_row(trial_id, "set system attribute '" + key + "'");
    impl_->upsert_trial_attr("trial_system_attributes", trial_id, key, json);
  });
}

FrozenTrial PostgresStorage::get_trial(std::int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  FrozenTrial t;
  impl_->transaction(false, true, "reading a trial", [&] { t = impl_->load_trial(trial_id); });
  return t;
}

std::vector<FrozenTrial> PostgresStorage::get_all_trials(std::int64_t study_id, const std::vector<TrialState>& states) {
  std::lock_guard<std::mutex> lock(mu_);
  storage_detail::TrialCache& cache = impl_->caches[study_id];
  try {
    cache.apply(changes_locked(study_id, cache.stamp));
  } catch (const NotFoundError&) {
    impl_->caches.erase(study_id);
    throw;
  }
  return cache.select(states);
}

TrialChanges PostgresStorage::changes_locked(std::int64_t study_id, std::int64_t since) {
  TrialChanges changes;
  impl_->transaction(false, true, "reading trials", [&] {
    changes = TrialChanges{};
    Result r = impl_->q("SELECT seq FROM studies WHERE study_id = $1", {p(study_id)});
    if (r.rows() == 0) impl_->no_study(study_id);
    changes.stamp = r.i64(0, 0);
    if (changes.stamp == since) return;
    // A stamp that went backwards means the database was replaced under the caller: hand over everything.
    changes.complete = since < 0 || changes.stamp < since;
    std::int64_t from = changes.complete ? -1 : since;
    changes.trials = impl_->load_trials("t.study_id = $1 AND t.seq > $2", {p(study_id), p(from)});
  });
  return changes;
}

TrialChanges PostgresStorage::get_trials_since(std::int64_t study_id, std::int64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_locked(study_id, since);
}

TrialCounts PostgresStorage::count_trials(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TrialCounts c;
  impl_->read_statement("counting trials", [&] {
    c = TrialCounts{};
    // One row per state (a NULL state for a study without trials); none when the study does not exist.
    Result r = impl_->q(
        "SELECT t.state, COUNT(t.trial_id), COUNT(a.trial_id) FROM studies s "
        "LEFT JOIN trials t ON t.study_id = s.study_id "
        "LEFT JOIN trial_system_attributes a ON a.trial_id = t.trial_id AND a.key = $2 AND t.state = 'FAIL' "
        "WHERE s.study_id = $1 GROUP BY t.state",
        {p(study_id), p(attr::kRetriedBy)});
    if (r.rows() == 0) impl_->no_study(study_id);
    for (int i = 0; i < r.rows(); ++i) {
      if (r.null(i, 0)) continue;
      c.add(parse_state(r.text(i, 0)), static_cast<int>(r.i64(i, 1)));
      c.retried += static_cast<int>(r.i64(i, 2));
    }
  });
  return c;
}

std::string PostgresStorage::artifact_root() const {
  return impl_->options.artifact_root;
}

std::int64_t PostgresStorage::import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) {
  storage_detail::ImportPlan plan = storage_detail::check_import(study, trials);
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t id = -1;
  impl_->transaction(true, false, "importing study '" + study.name + "'", [&] {
    id = impl_->insert_study(study.name, study.directions, plan.system_json, plan.user_json);
    std::int64_t seq = impl_->lock_study(id);
    for (const storage_detail::ImportedTrial& it : plan.trials) {
      const FrozenTrial& t = *it.trial;
      std::int64_t trial_id = impl_->insert_trial(id, t.number, t.state, it.datetime_start, it.datetime_complete, seq);
      for (const auto& [name, internal] : it.params.internal) {
        impl_->upsert_param(trial_id, name, internal, it.params.distributions.at(name));
      }
      for (std::size_t i = 0; i < t.values.size(); ++i) {
        impl_->insert_value("trial_values", "objective", "value", trial_id, static_cast<int>(i), t.values[i]);
      }
      for (const auto& [step, v] : t.intermediate_values) {
        impl_->insert_value("trial_intermediate_values", "step", "intermediate_value", trial_id, step, v);
      }
      for (const auto& [k, j] : it.user_json) impl_->upsert_trial_attr("trial_user_attributes", trial_id, k, j);
      for (const auto& [k, j] : it.system_json) impl_->upsert_trial_attr("trial_system_attributes", trial_id, k, j);
      if (t.state == TrialState::kRunning) impl_->upsert_heartbeat(trial_id);
    }
  });
  return id;
}

}  // namespace nasforge
