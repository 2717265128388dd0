#include "storage/sqlite_storage.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include <unistd.h>
#include <unordered_map>

#include "core/error.h"
#include "core/strings.h"
#include "storage/storage_common.h"

namespace nasforge {

namespace {

using storage_detail::describe_trial;
using storage_detail::dump_json;

constexpr int kSchemaVersion = 1;
// Recorded in version_info.library_version. The "nasforge " prefix tells our files from Optuna's, whose
// version_info table has the same shape. Keep the number in step with project(VERSION) in the top CMakeLists.txt.
constexpr const char* kLibraryVersion = "nasforge 0.1.0";
constexpr const char* kLibraryPrefix = "nasforge ";

// Modeled on Optuna's RDB schema. Differences: datetimes are microseconds since the Unix epoch (UTC), and
// trials.seq is a per-study change stamp (every write to a trial sets it to one past the study's highest) so a
// reader can fetch only the trials changed since its last read. Ids use AUTOINCREMENT so a deleted study or trial
// id is never reused (caches key on ids). Child tables are keyed by (owner, name) WITHOUT ROWID: one b-tree each
// instead of a table plus a unique index, so every write touches fewer pages.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS version_info (
  version_info_id INTEGER PRIMARY KEY CHECK (version_info_id = 1),
  schema_version INTEGER NOT NULL,
  library_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
  study_id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS study_directions (
  study_id INTEGER NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  objective INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('minimize', 'maximize')),
  PRIMARY KEY (study_id, objective)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS study_user_attributes (
  study_id INTEGER NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (study_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS study_system_attributes (
  study_id INTEGER NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (study_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trials (
  trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
  number INTEGER NOT NULL,
  study_id INTEGER NOT NULL REFERENCES studies (study_id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING')),
  datetime_start INTEGER,
  datetime_complete INTEGER,
  seq INTEGER NOT NULL,
  UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS ix_trials_study_seq ON trials (study_id, seq);
CREATE INDEX IF NOT EXISTS ix_trials_study_state ON trials (study_id, state, number);
CREATE TABLE IF NOT EXISTS trial_params (
  trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  param_name TEXT NOT NULL,
  param_value REAL NOT NULL,
  distribution_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, param_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_values (
  trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  objective INTEGER NOT NULL,
  value REAL,
  value_type TEXT NOT NULL CHECK (value_type IN ('FINITE', 'INF_POS', 'INF_NEG', 'NAN')),
  PRIMARY KEY (trial_id, objective)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_intermediate_values (
  trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  intermediate_value REAL,
  intermediate_value_type TEXT NOT NULL CHECK (intermediate_value_type IN ('FINITE', 'INF_POS', 'INF_NEG', 'NAN')),
  PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_user_attributes (
  trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_system_attributes (
  trial_id INTEGER NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  PRIMARY KEY (trial_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_heartbeats (
  trial_id INTEGER PRIMARY KEY REFERENCES trials (trial_id) ON DELETE CASCADE,
  heartbeat INTEGER NOT NULL
);
)sql";

// Thrown for SQLITE_BUSY / SQLITE_LOCKED; the retry loop rolls back and tries the whole operation again. It never
// escapes this file.
struct Busy {};

// What a user can do about a damaged file; nasforge itself writes nothing to it.
constexpr const char* kDamagedAdvice =
    "nasforge will not write to it. Keep a copy of the file, then recover what is readable into a new file with "
    "Debian's sqlite3: sqlite3 DAMAGED.db .recover | sqlite3 RECOVERED.db";

[[noreturn]] void raise_sqlite(sqlite3* db, int rc, const std::string& path, const std::string& doing) {
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw Busy{};
  if (primary == SQLITE_CORRUPT) {
    throw StorageError("'" + path + "' is damaged (SQLite says: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
                       " while " + doing + "); " + kDamagedAdvice);
  }
  if (primary == SQLITE_NOTADB) {
    throw StorageError("'" + path + "' is not a SQLite database (SQLite says: " + sqlite3_errstr(rc) +
                       "); nasforge will not use or modify it. Point the storage URL at a new file or an existing "
                       "nasforge database.");
  }
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw StorageError("SQLite error on '" + path + "' while " + doing + ": " + detail + " (code " + std::to_string(rc) +
                     ")");
}

// A cached prepared statement in use; resets it (and its bindings) when the scope ends.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, const std::string* path) : db_(db), stmt_(stmt), path_(path) {}
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), path_(other.path_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Stmt& bind_int(int i, std::int64_t v) { return ok(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& bind_real(int i, double v) { return ok(sqlite3_bind_double(stmt_, i, v)); }
  Stmt& bind_text(int i, const std::string& v) {
    return ok(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind_null(int i) { return ok(sqlite3_bind_null(stmt_, i)); }
  Stmt& bind_time(int i, const std::optional<Clock::time_point>& t) {
    return t ? bind_int(i, storage_detail::to_micros(*t)) : bind_null(i);
  }
  // Binds a double that may be NaN or infinite as (value, value_type) at i and i + 1; SQLite has no NaN.
  Stmt& bind_number(int i, double v) {
    const char* type = std::isnan(v) ? "NAN" : std::isinf(v) ? (v > 0 ? "INF_POS" : "INF_NEG") : "FINITE";
    if (std::isfinite(v))
      bind_real(i, v);
    else
      bind_null(i);
    return bind_text(i + 1, type);
  }

  // True while there is a row.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    raise_sqlite(db_, rc, *path_, std::string("running ") + sqlite3_sql(stmt_));
  }
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }

  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::int64_t int_at(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real_at(int c) const { return sqlite3_column_double(stmt_, c); }
  std::string text_at(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }
  std::optional<Clock::time_point> time_at(int c) const {
    if (is_null(c)) return std::nullopt;
    return storage_detail::from_micros(int_at(c));
  }
  // Reads what bind_number wrote at columns c, c + 1.
  double number_at(int c) const {
    std::string type = text_at(c + 1);
    if (type == "NAN") return std::nan("");
    if (type == "INF_POS") return HUGE_VAL;
    if (type == "INF_NEG") return -HUGE_VAL;
    return real_at(c);
  }

 private:
  Stmt& ok(int rc) {
    if (rc != SQLITE_OK) raise_sqlite(db_, rc, *path_, "binding a parameter");
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  const std::string* path_;
};

// Refuses, before SQLite touches it, a path whose directory is missing or a file that is not a SQLite database.
void inspect_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  fs::path dir = p.parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec)) {
    throw StorageError("cannot create SQLite database '" + path + "': directory '" + dir.string() +
                       "' does not exist; create it first or fix the storage URL");
  }
  if (!fs::exists(p, ec)) return;
  if (fs::is_directory(p, ec)) throw StorageError("'" + path + "' is a directory, not a SQLite database file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError("cannot read '" + path + "': " + std::strerror(errno));
  char header[16] = {};
  in.read(header, sizeof header);
  std::streamsize n = in.gcount();
  if (n == 0) return;  // SQLite treats an empty file as an empty database
  if (n < 16 || std::memcmp(header, "SQLite format 3", 16) != 0) {
    throw StorageError("'" + path + "' is not a SQLite database (it does not start with the SQLite header); " +
                       "nasforge will not use or modify it. Point the storage URL at a new file or an existing " +
                       "nasforge database.");
  }
}

TrialState parse_state(const std::string& text, const std::string& path) {
  try {
    return parse_trial_state(text);
  } catch (const ValueError& e) {
    throw StorageError("corrupt trial state in '" + path + "': " + e.what());
  }
}

}  // namespace

std::string sqlite_path_from_url(const std::string& url) {
  const std::string prefix = "sqlite:///";
  const std::string forms =
      "use sqlite:///relative/path.db (relative to the current directory) or sqlite:////absolute/path.db";
  if (url.rfind(prefix, 0) != 0) throw ValueError("'" + url + "' is not a SQLite URL; " + forms);
  std::string path = url.substr(prefix.size());
  if (path.empty()) throw ValueError("SQLite URL '" + url + "' names no file; " + forms);
  if (path.find('?') != std::string::npos) {
    throw ValueError("SQLite URL '" + url + "' has query options, which are not supported; " + forms);
  }
  if (path.find('#') != std::string::npos) {
    throw ValueError("SQLite URL '" + url + "' has a '#' fragment; a '#' in a database file name is not supported; " +
                     forms);
  }
  if (path == ":memory:") {
    throw ValueError("SQLite URL '" + url + "' names SQLite's in-memory database, which keeps nothing after the "
                     "command ends; use --storage memory for a throw-away study in one process, or a file: " + forms);
  }
  return path;
}

struct SqliteStorage::Impl {
  struct TrialRow {
    std::int64_t trial_id = -1;
    std::int64_t study_id = -1;
    int number = -1;
    TrialState state = TrialState::kRunning;
  };

  std::string path;
  SqliteOptions options;
  sqlite3* db = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts;
  std::unordered_map<std::string, Distribution> distributions;  // parsed distribution_json
  std::unordered_map<std::int64_t, storage_detail::TrialCache> caches;
  std::minstd_rand jitter{std::random_device{}()};

  Impl(std::string p, SqliteOptions o) : path(std::move(p)), options(o) {}

  ~Impl() {
    for (auto& [sql, s] : stmts) sqlite3_finalize(s);
    if (db) sqlite3_close_v2(db);
  }

  void open() {
    if (path.empty()) throw ValueError("SQLite storage needs a file path, got an empty one");
    if (path != ":memory:") inspect_file(path);
    int mode = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    std::string name = path;
    if (options.read_only && !folder_writable(path)) {
      // A WAL reader needs a -shm file beside the database; in a folder nobody may write to, nobody can be writing
      // the database either, so it is read as immutable (no locks, no -shm).
      name = immutable_uri(path);
      mode |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(name.c_str(), &db, mode | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      throw StorageError("cannot open SQLite database '" + path + "': " + msg);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, options.busy_timeout_ms);

    // Look before writing anything: a file that is not ours must stay untouched.
    std::vector<std::string> tables;
    std::optional<std::pair<int, std::string>> version;
    transaction(false, "reading the schema", [&] {
      tables.clear();
      version.reset();
      Stmt st = stmt("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
      while (st.step()) tables.push_back(st.text_at(0));
      if (std::find(tables.begin(), tables.end(), "version_info") == tables.end()) return;
      // The schema and its version row are written in one transaction, so a missing row is not a race.
      version = read_version();
      if (!version) {
        throw StorageError("'" + path + "' has an empty version_info table; it was not written by nasforge or is " +
                           "damaged, so nasforge will not use or modify it");
      }
      if (version->second.rfind(kLibraryPrefix, 0) != 0) {
        throw StorageError("'" + path + "' is a SQLite database of another program (its version_info names " +
                           "library version '" + version->second + "', as Optuna's does); nasforge cannot read " +
                           "that schema and will not modify it. Point the storage URL at a new file.");
      }
    });
    if (!tables.empty() && !version) {
      throw StorageError("'" + path + "' is a SQLite database of another program (tables: " + join(tables, ", ") +
                         ") without nasforge's version_info table; nasforge will not use or modify it. Point the "
                         "storage URL at a new file or an existing nasforge database.");
    }
    if (version) check_version(*version);
    if (version) check_integrity();
    if (options.read_only) {
      if (!version) {
        throw NotFoundError("'" + path + "' holds no nasforge studies: it is an empty " +
                            (file_size(path) == 0 ? "file (0 bytes)" : "SQLite database") +
                            "; create a study there with 'nasforge run STUDY.yaml --storage sqlite:///" + path + "'");
      }
      return;  // WAL mode is a property of the file, set by the writer that created it
    }

    retry("enabling WAL mode", [&] { exec("PRAGMA journal_mode = WAL", "enabling WAL mode"); });
    exec("PRAGMA synchronous = NORMAL", "configuring the connection");
    exec("PRAGMA foreign_keys = ON", "configuring the connection");
    if (!version) {
      transaction(true, "creating the schema", [&] {
        exec(kSchema, "creating the schema");
        auto v = read_version();  // another process may have created it meanwhile
        if (v) {
          check_version(*v);
          return;
        }
        stmt("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?1, ?2)")
            .bind_int(1, kSchemaVersion)
            .bind_text(2, kLibraryVersion)
            .run();
      });
    }
  }

  // A damaged page found halfway through a command would leave its earlier writes in place, so look at every
  // page before the first write. quick_check reads each page once (milliseconds for a study database).
  void check_integrity() {
    std::vector<std::string> problems;
    transaction(false, "checking the database", [&] {
      problems.clear();
      Stmt st = stmt("PRAGMA quick_check(5)");
      while (st.step()) problems.push_back(st.text_at(0));
    });
    if (problems.size() == 1 && problems[0] == "ok") return;
    throw StorageError("'" + path + "' is damaged (SQLite's quick_check: " + join(problems, "; ") + "); " +
                       kDamagedAdvice);
  }

  static bool folder_writable(const std::string& p) {
    std::string dir = std::filesystem::path(p).parent_path().string();
    return ::access(dir.empty() ? "." : dir.c_str(), W_OK) == 0;
  }

  // "file:/abs/path?immutable=1" with every byte outside [A-Za-z0-9/._-~] percent-encoded (RFC 3986).
  static std::string immutable_uri(const std::string& p) {
    std::error_code ec;
    std::string abs = std::filesystem::absolute(p, ec).string();
    if (ec) abs = p;
    std::string out = "file:";
    for (unsigned char c : abs) {
      if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out + "?immutable=1";
  }

  static std::uintmax_t file_size(const std::string& p) {
    std::error_code ec;
    auto n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
  }

  std::optional<std::pair<int, std::string>> read_version() {
    Stmt st = stmt("SELECT schema_version, library_version FROM version_info WHERE version_info_id = 1");
    if (!st.step()) return std::nullopt;
    return std::make_pair(static_cast<int>(st.int_at(0)), st.text_at(1));
  }

  void check_version(const std::pair<int, std::string>& v) const {
    if (v.first == kSchemaVersion) return;
    if (v.first > kSchemaVersion) {
      throw StorageError("'" + path + "' uses storage schema version " + std::to_string(v.first) + " (written by " +
                         v.second + "), newer than version " + std::to_string(kSchemaVersion) + " that this " +
                         kLibraryVersion + " understands; upgrade nasforge to open it");
    }
    throw StorageError("'" + path + "' has unknown storage schema version " + std::to_string(v.first) +
                       " (this nasforge understands version " + std::to_string(kSchemaVersion) + ")");
  }

  Stmt stmt(const std::string& sql) {
    auto it = stmts.find(sql);
    if (it == stmts.end()) {
      sqlite3_stmt* s = nullptr;
      int rc =
          sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) raise_sqlite(db, rc, path, "preparing " + sql);
      it = stmts.emplace(sql, s).first;
    }
    return Stmt(db, it->second, &path);
  }

  // Runs SQL text that may hold several statements (DDL, pragmas).
  void exec(const char* sql, const std::string& doing) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) raise_sqlite(db, rc, path, doing);
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // Runs `body` until it gets through without the database being busy, sleeping with jittered exponential backoff
  // so that competing processes spread out; gives up after options.lock_wait_s.
  void retry(const std::string& doing, const std::function<void()>& body) {
    using Steady = std::chrono::steady_clock;
    const auto deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                              std::chrono::duration<double>(options.lock_wait_s));
    for (int attempt = 0;; ++attempt) {
      try {
        body();
        return;
      } catch (const Busy&) {
        rollback();
        if (Steady::now() >= deadline) {
          throw StorageError("SQLite database '" + path + "' stayed locked for " + format_double(options.lock_wait_s) +
                             " s while " + doing + "; another process holds a write transaction (is one stuck?)");
        }
        double base_ms = std::min(100.0, std::ldexp(1.0, std::min(attempt, 7)));
        double ms = base_ms * std::uniform_real_distribution<double>(0.5, 1.5)(jitter);
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
      }
    }
  }

  // One transaction: BEGIN IMMEDIATE (write) or BEGIN (read snapshot) ... COMMIT, rolled back on any error and
  // retried whole while the database is locked, so `body` must only assign (not accumulate) its results.
  void transaction(bool write, const std::string& doing, const std::function<void()>& body) {
    retry(doing, [&] {
      try {
        (write ? stmt("BEGIN IMMEDIATE") : stmt("BEGIN")).run();
        body();
        stmt("COMMIT").run();
      } catch (...) {
        rollback();
        throw;
      }
    });
  }

  const Distribution& distribution(const std::string& json) {
    auto it = distributions.find(json);
    if (it != distributions.end()) return it->second;
    if (distributions.size() > 100000) distributions.clear();  // bound memory for pathological spaces
    try {
      return distributions.emplace(json, Distribution::from_json(Json::parse(json))).first->second;
    } catch (const std::exception& e) {
      throw StorageError("corrupt distribution_json '" + json + "' in '" + path + "': " + e.what());
    }
  }

  Json parse_json(const std::string& text) const {
    try {
      return Json::parse(text);
    } catch (const Json::exception& e) {
      throw StorageError("corrupt attribute JSON '" + text + "' in '" + path + "': " + e.what());
    }
  }

  // ---- studies ----

  void require_study(std::int64_t study_id) {
    Stmt st = stmt("SELECT 1 FROM studies WHERE study_id = ?1");
    if (!st.bind_int(1, study_id).step()) {
      throw NotFoundError("no study with id " + std::to_string(study_id) + " in '" + path + "'");
    }
  }

  StudyInfo load_study(std::int64_t study_id) {
    StudyInfo info;
    {
      Stmt st = stmt("SELECT study_name FROM studies WHERE study_id = ?1");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("no study with id " + std::to_string(study_id) + " in '" + path + "'");
      }
      info.study_id = study_id;
      info.name = st.text_at(0);
    }
    {
      Stmt st = stmt("SELECT direction FROM study_directions WHERE study_id = ?1 ORDER BY objective");
      st.bind_int(1, study_id);
      while (st.step()) info.directions.push_back(parse_direction(st.text_at(0)));
    }
    for (auto [table, out] : {std::make_pair("study_user_attributes", &info.user_attrs),
                              std::make_pair("study_system_attributes", &info.system_attrs)}) {
      Stmt st = stmt(std::string("SELECT key, value_json FROM ") + table + " WHERE study_id = ?1");
      st.bind_int(1, study_id);
      while (st.step()) (*out)[st.text_at(0)] = parse_json(st.text_at(1));
    }
    return info;
  }

  void upsert_study_attr(const char* table, std::int64_t study_id, const std::string& key, const std::string& json) {
    stmt(std::string("INSERT INTO ") + table + " (study_id, key, value_json) VALUES (?1, ?2, ?3) " +
         "ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json")
        .bind_int(1, study_id)
        .bind_text(2, key)
        .bind_text(3, json)
        .run();
  }

  // Inserts a study row and its directions; DuplicateStudyError when the name is taken.
  std::int64_t insert_study(const std::string& name, const std::vector<StudyDirection>& directions) {
    {
      Stmt st = stmt("SELECT study_id FROM studies WHERE study_name = ?1");
      if (st.bind_text(1, name).step()) {
        throw DuplicateStudyError("a study named '" + name + "' already exists in '" + path + "' (id " +
                                  std::to_string(st.int_at(0)) + "); pick another name or load it");
      }
    }
    stmt("INSERT INTO studies (study_name) VALUES (?1)").bind_text(1, name).run();
    std::int64_t id = sqlite3_last_insert_rowid(db);
    for (std::size_t i = 0; i < directions.size(); ++i) {
      stmt("INSERT INTO study_directions (study_id, objective, direction) VALUES (?1, ?2, ?3)")
          .bind_int(1, id)
          .bind_int(2, static_cast<std::int64_t>(i))
          .bind_text(3, to_string(directions[i]))
          .run();
    }
    return id;
  }

  // ---- trials ----

  TrialRow trial_row(std::int64_t trial_id) {
    Stmt st = stmt("SELECT study_id, number, state FROM trials WHERE trial_id = ?1");
    if (!st.bind_int(1, trial_id).step()) {
      throw NotFoundError("no trial with id " + std::to_string(trial_id) + " in '" + path + "'");
    }
    return TrialRow{trial_id, st.int_at(0), static_cast<int>(st.int_at(1)), parse_state(st.text_at(2), path)};
  }

  TrialRow writable_row(std::int64_t trial_id, const std::string& what) {
    TrialRow r = trial_row(trial_id);
    if (is_finished(r.state)) {
      throw StateError("cannot " + what + " on " + describe_trial(trial_id, r.number) + ": it is already " +
                       to_string(r.state));
    }
    return r;
  }

  // The stamp for trials this transaction changes: one past the study's highest. Trials are only deleted with their
  // study, so the highest stamp never goes down and a reader that saw stamp S needs exactly the trials above S. An
  // index lookup, cheaper than a counter row that every write would have to rewrite.
  std::int64_t next_seq(std::int64_t study_id) {
    Stmt st = stmt("SELECT COALESCE(MAX(seq), 0) + 1 FROM trials WHERE study_id = ?1");
    st.bind_int(1, study_id).step();
    return st.int_at(0);
  }

  void touch(const TrialRow& r) {
    stmt("UPDATE trials SET seq = ?1 WHERE trial_id = ?2")
        .bind_int(1, next_seq(r.study_id))
        .bind_int(2, r.trial_id)
        .run();
  }

  int next_number(std::int64_t study_id) {
    Stmt st = stmt("SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE study_id = ?1");
    st.bind_int(1, study_id).step();
    return static_cast<int>(st.int_at(0));
  }

  // FAIL trials that were re-enqueued; they hold no n_trials slot.
  int retried_count(std::int64_t study_id) {
    Stmt st = stmt(
        "SELECT COUNT(*) FROM trials t JOIN trial_system_attributes a ON a.trial_id = t.trial_id "
        "WHERE t.study_id = ?1 AND t.state = 'FAIL' AND a.key = ?2");
    st.bind_int(1, study_id).bind_text(2, attr::kRetriedBy).step();
    return static_cast<int>(st.int_at(0));
  }

  std::int64_t insert_trial(std::int64_t study_id, int number, TrialState state, std::optional<Clock::time_point> start,
                            std::int64_t seq, std::optional<Clock::time_point> complete = std::nullopt) {
    stmt(
        "INSERT INTO trials (number, study_id, state, datetime_start, seq, datetime_complete) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind_int(1, number)
        .bind_int(2, study_id)
        .bind_text(3, to_string(state))
        .bind_time(4, start)
        .bind_int(5, seq)
        .bind_time(6, complete)
        .run();
    return sqlite3_last_insert_rowid(db);
  }

  void insert_value(std::int64_t trial_id, int objective, double value) {
    stmt("INSERT OR REPLACE INTO trial_values (trial_id, objective, value, value_type) VALUES (?1, ?2, ?3, ?4)")
        .bind_int(1, trial_id)
        .bind_int(2, objective)
        .bind_number(3, value)
        .run();
  }

  void upsert_intermediate(std::int64_t trial_id, int step, double value) {
    stmt(
        "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (trial_id, step) DO UPDATE SET "
        "intermediate_value = excluded.intermediate_value, "
        "intermediate_value_type = excluded.intermediate_value_type")
        .bind_int(1, trial_id)
        .bind_int(2, step)
        .bind_number(3, value)
        .run();
  }

  void upsert_param(std::int64_t trial_id, const std::string& name, double internal, const Distribution& d) {
    stmt(
        "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (trial_id, param_name) DO UPDATE SET param_value = excluded.param_value, "
        "distribution_json = excluded.distribution_json")
        .bind_int(1, trial_id)
        .bind_text(2, name)
        .bind_real(3, internal)
        .bind_text(4, d.to_json().dump())
        .run();
  }

  void upsert_trial_attr(const char* table, std::int64_t trial_id, const std::string& key, const std::string& json) {
    stmt(std::string("INSERT INTO ") + table + " (trial_id, key, value_json) VALUES (?1, ?2, ?3) " +
         "ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json")
        .bind_int(1, trial_id)
        .bind_text(2, key)
        .bind_text(3, json)
        .run();
  }

  void upsert_heartbeat(std::int64_t trial_id, Clock::time_point t) {
    stmt(
        "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?1, ?2) "
        "ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat")
        .bind_int(1, trial_id)
        .bind_int(2, storage_detail::to_micros(t))
        .run();
  }

  // Marks a RUNNING trial FAIL and, below the retry limit, enqueues a WAITING copy; see Storage::fail_trial.
  std::optional<int> fail_row(const TrialRow& r, const std::string& reason, int max_retry) {
    auto now = storage_detail::now();
    std::int64_t seq = next_seq(r.study_id);
    stmt("UPDATE trials SET state = 'FAIL', datetime_complete = ?1, seq = ?2 WHERE trial_id = ?3")
        .bind_time(1, now)
        .bind_int(2, seq)
        .bind_int(3, r.trial_id)
        .run();
    upsert_trial_attr("trial_system_attributes", r.trial_id, attr::kFailReason, dump_json(reason));
    std::map<std::string, Json> retry_attrs;
    {
      Stmt st = stmt("SELECT key, value_json FROM trial_system_attributes WHERE trial_id = ?1 AND key IN (?2, ?3)");
      st.bind_int(1, r.trial_id).bind_text(2, attr::kRetryCount).bind_text(3, attr::kRetryOf);
      while (st.step()) retry_attrs[st.text_at(0)] = parse_json(st.text_at(1));
    }
    int count = storage_detail::retry_count(retry_attrs);
    if (count >= max_retry) return std::nullopt;
    int number = next_number(r.study_id);
    std::int64_t copy_id = insert_trial(r.study_id, number, TrialState::kWaiting, std::nullopt, seq);
    stmt(
        "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
        "SELECT ?1, param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ?2")
        .bind_int(1, copy_id)
        .bind_int(2, r.trial_id)
        .run();
    upsert_trial_attr("trial_system_attributes", copy_id, attr::kRetryOf,
                      dump_json(storage_detail::retry_root(retry_attrs, r.number)));
    upsert_trial_attr("trial_system_attributes", copy_id, attr::kRetryCount, dump_json(count + 1));
    upsert_trial_attr("trial_system_attributes", r.trial_id, attr::kRetriedBy, dump_json(number));
    return number;
  }

  // Trials selected by `where` (on alias t, parameters ?1 and ?2 bound by `bind`), ordered by number.
  std::vector<FrozenTrial> load_trials(const std::string& where, const std::function<void(Stmt&)>& bind) {
    std::vector<FrozenTrial> out;
    std::unordered_map<std::int64_t, std::size_t> index;
    {
      Stmt st =
          stmt("SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete FROM trials t WHERE " +
               where + " ORDER BY t.number");
      bind(st);
      while (st.step()) {
        FrozenTrial t;
        t.trial_id = st.int_at(0);
        t.number = static_cast<int>(st.int_at(1));
        t.state = parse_state(st.text_at(2), path);
        t.datetime_start = st.time_at(3);
        t.datetime_complete = st.time_at(4);
        index[t.trial_id] = out.size();
        out.push_back(std::move(t));
      }
    }
    if (out.empty()) return out;
    const std::string join_where = " c JOIN trials t ON t.trial_id = c.trial_id WHERE " + where;
    {
      Stmt st =
          stmt("SELECT c.trial_id, c.param_name, c.param_value, c.distribution_json FROM trial_params" + join_where);
      bind(st);
      while (st.step()) {
        FrozenTrial& t = out[index.at(st.int_at(0))];
        std::string name = st.text_at(1);
        const Distribution& d = distribution(st.text_at(3));
        t.params[name] = d.to_external(st.real_at(2));
        t.distributions.insert_or_assign(name, d);
      }
    }
    {
      Stmt st = stmt("SELECT c.trial_id, c.objective, c.value, c.value_type FROM trial_values" + join_where +
                     " ORDER BY c.trial_id, c.objective");
      bind(st);
      while (st.step()) {
        FrozenTrial& t = out[index.at(st.int_at(0))];
        auto objective = static_cast<std::size_t>(st.int_at(1));
        if (t.values.size() <= objective) t.values.resize(objective + 1, std::nan(""));
        t.values[objective] = st.number_at(2);
      }
    }
    {
      Stmt st = stmt(
          "SELECT c.trial_id, c.step, c.intermediate_value, c.intermediate_value_type "
          "FROM trial_intermediate_values" +
          join_where);
      bind(st);
      while (st.step()) {
        out[index.at(st.int_at(0))].intermediate_values[static_cast<int>(st.int_at(1))] = st.number_at(2);
      }
    }
    for (auto [table, user] :
         {std::make_pair("trial_user_attributes", true), std::make_pair("trial_system_attributes", false)}) {
      Stmt st = stmt(std::string("SELECT c.trial_id, c.key, c.value_json FROM ") + table + join_where);
      bind(st);
      while (st.step()) {
        FrozenTrial& t = out[index.at(st.int_at(0))];
        (user ? t.user_attrs : t.system_attrs)[st.text_at(1)] = parse_json(st.text_at(2));
      }
    }
    return out;
  }

  FrozenTrial load_trial(std::int64_t trial_id) {
    auto trials = load_trials("t.trial_id = ?1", [&](Stmt& st) { st.bind_int(1, trial_id); });
    if (trials.empty()) throw NotFoundError("no trial with id " + std::to_string(trial_id) + " in '" + path + "'");
    return std::move(trials.front());
  }
};

SqliteStorage::SqliteStorage(const std::string& path, SqliteOptions options)
    : impl_(std::make_unique<Impl>(path, options)) {
  impl_->open();
}

SqliteStorage::~SqliteStorage() = default;

const std::string& SqliteStorage::path() const {
  return impl_->path;
}

int SqliteStorage::schema_version() {
  return kSchemaVersion;
}

std::int64_t SqliteStorage::create_study(const std::string& name, const std::vector<StudyDirection>& directions,
                                        const std::map<std::string, Json>& system_attrs) {
  storage_detail::check_new_study(name, directions);
  std::map<std::string, std::string> attr_json;
  for (const auto& [k, v] : system_attrs) attr_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t id = -1;
  impl_->transaction(true, "creating study '" + name + "'", [&] {
    id = impl_->insert_study(name, directions);
    for (const auto& [key, json] : attr_json) impl_->upsert_study_attr("study_system_attributes", id, key, json);
  });
  return id;
}

std::int64_t SqliteStorage::import_study(const StudyInfo& study, const std::vector<FrozenTrial>& trials) {
  storage_detail::ImportPlan plan = storage_detail::check_import(study, trials);
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t id = -1;
  impl_->transaction(true, "importing study '" + study.name + "'", [&] {
    id = impl_->insert_study(study.name, study.directions);
    for (const auto& [key, json] : plan.user_json) impl_->upsert_study_attr("study_user_attributes", id, key, json);
    for (const auto& [key, json] : plan.system_json) impl_->upsert_study_attr("study_system_attributes", id, key, json);
    // One stamp for the whole import, like any single write transaction.
    const std::int64_t seq = impl_->next_seq(id);
    auto now = storage_detail::now();
    for (const storage_detail::ImportedTrial& in : plan.trials) {
      const FrozenTrial& t = *in.trial;
      std::int64_t trial_id = impl_->insert_trial(id, t.number, t.state, in.datetime_start, seq, in.datetime_complete);
      for (const auto& [name, internal] : in.params.internal) {
        impl_->upsert_param(trial_id, name, internal, in.params.distributions.at(name));
      }
      for (std::size_t i = 0; i < t.values.size(); ++i) impl_->insert_value(trial_id, static_cast<int>(i), t.values[i]);
      for (const auto& [step, value] : t.intermediate_values) impl_->upsert_intermediate(trial_id, step, value);
      for (const auto& [k, j] : in.user_json) impl_->upsert_trial_attr("trial_user_attributes", trial_id, k, j);
      for (const auto& [k, j] : in.system_json) impl_->upsert_trial_attr("trial_system_attributes", trial_id, k, j);
      if (t.state == TrialState::kRunning) impl_->upsert_heartbeat(trial_id, now);
    }
  });
  return id;
}

void SqliteStorage::delete_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->caches.erase(study_id);
  impl_->transaction(true, "deleting a study", [&] {
    impl_->require_study(study_id);
    impl_->stmt("DELETE FROM studies WHERE study_id = ?1").bind_int(1, study_id).run();
  });
}

void SqliteStorage::rename_study(std::int64_t study_id, const std::string& new_name) {
  check_study_name(new_name, "new name");
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "renaming a study", [&] {
    impl_->require_study(study_id);
    Stmt st = impl_->stmt("SELECT study_id FROM studies WHERE study_name = ?1");
    if (st.bind_text(1, new_name).step()) {
      if (st.int_at(0) == study_id) return;
      throw DuplicateStudyError("a study named '" + new_name + "' already exists in '" + impl_->path + "' (id " +
                                std::to_string(st.int_at(0)) + ")");
    }
    impl_->stmt("UPDATE studies SET study_name = ?2 WHERE study_id = ?1").bind_int(1, study_id).bind_text(2, new_name)
        .run();
  });
}

std::optional<std::int64_t> SqliteStorage::find_study(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<std::int64_t> id;
  impl_->transaction(false, "finding a study", [&] {
    id.reset();
    Stmt st = impl_->stmt("SELECT study_id FROM studies WHERE study_name = ?1");
    if (st.bind_text(1, name).step()) id = st.int_at(0);
  });
  return id;
}

StudyInfo SqliteStorage::get_study(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  StudyInfo info;
  impl_->transaction(false, "reading a study", [&] { info = impl_->load_study(study_id); });
  return info;
}

std::vector<StudyInfo> SqliteStorage::list_studies() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StudyInfo> out;
  impl_->transaction(false, "listing studies", [&] {
    out.clear();
    std::vector<std::int64_t> ids;
    {
      Stmt st = impl_->stmt("SELECT study_id FROM studies ORDER BY study_id");
      while (st.step()) ids.push_back(st.int_at(0));
    }
    for (std::int64_t id : ids) out.push_back(impl_->load_study(id));
  });
  return out;
}

void SqliteStorage::set_study_user_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "setting a study user attribute", [&] {
    impl_->require_study(study_id);
    impl_->upsert_study_attr("study_user_attributes", study_id, key, json);
  });
}

void SqliteStorage::set_study_system_attr(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "setting a study system attribute", [&] {
    impl_->require_study(study_id);
    impl_->upsert_study_attr("study_system_attributes", study_id, key, json);
  });
}

bool SqliteStorage::claim_study_key(std::int64_t study_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  bool claimed = false;
  impl_->transaction(true, "claiming a study key", [&] {
    impl_->require_study(study_id);
    impl_
        ->stmt(
            "INSERT INTO study_system_attributes (study_id, key, value_json) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (study_id, key) DO NOTHING")
        .bind_int(1, study_id)
        .bind_text(2, key)
        .bind_text(3, json)
        .run();
    claimed = sqlite3_changes(impl_->db) == 1;
  });
  return claimed;
}

std::optional<FrozenTrial> SqliteStorage::create_trial(std::int64_t study_id, const NewTrial& trial,
                                                       std::optional<int> max_slots) {
  storage_detail::check_new_trial_state(trial.state);
  auto canonical = storage_detail::canonical_params(trial.params, trial.distributions);
  std::map<std::string, std::string> user_json, system_json;
  for (const auto& [k, v] : trial.user_attrs) user_json[k] = dump_json(v);
  for (const auto& [k, v] : trial.system_attrs) system_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<FrozenTrial> created;
  impl_->transaction(true, "creating a trial", [&] {
    created.reset();
    impl_->require_study(study_id);
    FrozenTrial t;
    t.number = impl_->next_number(study_id);
    // Numbers are dense (trials are only ever deleted with their study), so the next number is the trial count.
    if (max_slots && t.number - impl_->retried_count(study_id) >= *max_slots) return;
    t.state = trial.state;
    auto now = storage_detail::now();
    if (t.state == TrialState::kRunning) t.datetime_start = now;
    t.trial_id = impl_->insert_trial(study_id, t.number, t.state, t.datetime_start, impl_->next_seq(study_id));
    for (const auto& [name, internal] : canonical.internal) {
      impl_->upsert_param(t.trial_id, name, internal, canonical.distributions.at(name));
    }
    for (const auto& [k, j] : user_json) impl_->upsert_trial_attr("trial_user_attributes", t.trial_id, k, j);
    for (const auto& [k, j] : system_json) impl_->upsert_trial_attr("trial_system_attributes", t.trial_id, k, j);
    if (trial.heartbeat && t.state == TrialState::kRunning) impl_->upsert_heartbeat(t.trial_id, now);
    t.params = canonical.params;
    t.distributions = canonical.distributions;
    t.user_attrs = trial.user_attrs;
    t.system_attrs = trial.system_attrs;
    created = std::move(t);
  });
  return created;
}

std::optional<FrozenTrial> SqliteStorage::pop_waiting_trial(std::int64_t study_id, bool heartbeat) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<FrozenTrial> popped;
  impl_->transaction(true, "starting a waiting trial", [&] {
    popped.reset();
    impl_->require_study(study_id);
    std::int64_t trial_id;
    {
      Stmt st =
          impl_->stmt("SELECT trial_id FROM trials WHERE study_id = ?1 AND state = 'WAITING' ORDER BY number LIMIT 1");
      if (!st.bind_int(1, study_id).step()) return;
      trial_id = st.int_at(0);
    }
    auto now = storage_detail::now();
    impl_->stmt("UPDATE trials SET state = 'RUNNING', datetime_start = ?1, seq = ?2 WHERE trial_id = ?3")
        .bind_time(1, now)
        .bind_int(2, impl_->next_seq(study_id))
        .bind_int(3, trial_id)
        .run();
    if (heartbeat) impl_->upsert_heartbeat(trial_id, now);
    popped = impl_->load_trial(trial_id);
  });
  return popped;
}

void SqliteStorage::set_trial_params(std::int64_t trial_id, const ParamMap& params,
                                     const std::map<std::string, Distribution>& distributions) {
  auto canonical = storage_detail::canonical_params(params, distributions);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "setting trial parameters", [&] {
    auto r = impl_->writable_row(trial_id, "set parameters");
    impl_->touch(r);
    for (const auto& [name, internal] : canonical.internal) {
      impl_->upsert_param(trial_id, name, internal, canonical.distributions.at(name));
    }
  });
}

bool SqliteStorage::finish_trial(std::int64_t trial_id, TrialState state, const std::vector<double>& values,
                                 const std::map<std::string, Json>& system_attrs) {
  std::map<std::string, std::string> system_json;
  for (const auto& [k, v] : system_attrs) system_json[k] = dump_json(v);
  std::lock_guard<std::mutex> lock(mu_);
  bool finished = false;
  impl_->transaction(true, "finishing a trial", [&] {
    finished = false;
    auto r = impl_->trial_row(trial_id);
    std::int64_t n_objectives;
    {
      Stmt st = impl_->stmt("SELECT COUNT(*) FROM study_directions WHERE study_id = ?1");
      st.bind_int(1, r.study_id).step();
      n_objectives = st.int_at(0);
    }
    storage_detail::check_finish(state, values, static_cast<std::size_t>(n_objectives));
    if (r.state != TrialState::kRunning) return;
    impl_->stmt("UPDATE trials SET state = ?1, datetime_complete = ?2, seq = ?3 WHERE trial_id = ?4")
        .bind_text(1, to_string(state))
        .bind_time(2, storage_detail::now())
        .bind_int(3, impl_->next_seq(r.study_id))
        .bind_int(4, trial_id)
        .run();
    for (std::size_t i = 0; i < values.size(); ++i) impl_->insert_value(trial_id, static_cast<int>(i), values[i]);
    for (const auto& [k, j] : system_json) impl_->upsert_trial_attr("trial_system_attributes", trial_id, k, j);
    finished = true;
  });
  return finished;
}

std::optional<int> SqliteStorage::fail_trial(std::int64_t trial_id, const std::string& reason, int max_retry) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int> retry;
  impl_->transaction(true, "failing a trial", [&] {
    retry.reset();
    auto r = impl_->trial_row(trial_id);
    if (r.state == TrialState::kRunning) retry = impl_->fail_row(r, reason, max_retry);
  });
  return retry;
}

std::vector<int> SqliteStorage::reap_stale_trials(std::int64_t study_id, double grace_s, int max_retry) {
  storage_detail::check_grace(grace_s);
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> reaped;
  impl_->transaction(true, "reaping stale trials", [&] {
    reaped.clear();
    impl_->require_study(study_id);
    if (grace_s > 1e12) return;  // no heartbeat is that old; also keeps the cutoff below in range
    auto now = storage_detail::now();
    std::int64_t cutoff = storage_detail::to_micros(now) - std::llround(grace_s * 1e6);
    std::vector<std::pair<Impl::TrialRow, double>> stale;
    {
      Stmt st = impl_->stmt(
          "SELECT t.trial_id, t.number, h.heartbeat FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
          "WHERE t.study_id = ?1 AND t.state = 'RUNNING' AND h.heartbeat < ?2 ORDER BY t.number");
      st.bind_int(1, study_id).bind_int(2, cutoff);
      while (st.step()) {
        Impl::TrialRow r{st.int_at(0), study_id, static_cast<int>(st.int_at(1)), TrialState::kRunning};
        stale.emplace_back(r, static_cast<double>(storage_detail::to_micros(now) - st.int_at(2)) / 1e6);
      }
    }
    for (const auto& [r, age] : stale) {
      impl_->fail_row(r,
                      "no heartbeat for " + format_double(age) + " s (grace " + format_double(grace_s) +
                          " s): the worker running it died or hung",
                      max_retry);
      reaped.push_back(r.number);
    }
  });
  return reaped;
}

void SqliteStorage::record_heartbeat(std::int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "recording a heartbeat", [&] {
    if (impl_->trial_row(trial_id).state == TrialState::kRunning) {
      impl_->upsert_heartbeat(trial_id, storage_detail::now());
    }
  });
}

void SqliteStorage::set_trial_intermediate_value(std::int64_t trial_id, int step, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "recording an intermediate value", [&] {
    auto r = impl_->writable_row(trial_id, "report an intermediate value");
    impl_->touch(r);
    impl_->upsert_intermediate(trial_id, step, value);
  });
}

void SqliteStorage::set_trial_user_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "setting a trial user attribute", [&] {
    impl_->touch(impl_->writable_row(trial_id, "set user attribute '" + key + "'"));
    impl_->upsert_trial_attr("trial_user_attributes", trial_id, key, json);
  });
}

void SqliteStorage::set_trial_system_attr(std::int64_t trial_id, const std::string& key, const Json& value) {
  std::string json = dump_json(value);
  std::lock_guard<std::mutex> lock(mu_);
  impl_->transaction(true, "setting a trial system attribute", [&] {
    impl_->touch(impl_->writable_row(trial_id, "set system attribute '" + key + "'"));
    impl_->upsert_trial_attr("trial_system_attributes", trial_id, key, json);
  });
}

FrozenTrial SqliteStorage::get_trial(std::int64_t trial_id) {
  std::lock_guard<std::mutex> lock(mu_);
  FrozenTrial t;
  impl_->transaction(false, "reading a trial", [&] { t = impl_->load_trial(trial_id); });
  return t;
}

std::vector<FrozenTrial> SqliteStorage::get_all_trials(std::int64_t study_id, const std::vector<TrialState>& states) {
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

TrialChanges SqliteStorage::changes_locked(std::int64_t study_id, std::int64_t since) {
  TrialChanges changes;
  impl_->transaction(false, "reading trials", [&] {
    changes = TrialChanges{};
    {
      Stmt st = impl_->stmt(
          "SELECT (SELECT COALESCE(MAX(seq), 0) FROM trials WHERE study_id = ?1) FROM studies WHERE study_id = ?1");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("no study with id " + std::to_string(study_id) + " in '" + impl_->path + "'");
      }
      changes.stamp = st.int_at(0);
    }
    if (changes.stamp == since) return;
    // A stamp that went backwards means the file was replaced under the caller: hand over everything.
    changes.complete = since < 0 || changes.stamp < since;
    std::int64_t from = changes.complete ? -1 : since;
    changes.trials = impl_->load_trials("t.study_id = ?1 AND t.seq > ?2",
                                        [&](Stmt& st) { st.bind_int(1, study_id).bind_int(2, from); });
  });
  return changes;
}

TrialChanges SqliteStorage::get_trials_since(std::int64_t study_id, std::int64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_locked(study_id, since);
}

TrialCounts SqliteStorage::count_trials(std::int64_t study_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TrialCounts c;
  impl_->transaction(false, "counting trials", [&] {
    c = TrialCounts{};
    impl_->require_study(study_id);
    {
      Stmt st = impl_->stmt("SELECT state, COUNT(*) FROM trials WHERE study_id = ?1 GROUP BY state");
      st.bind_int(1, study_id);
      while (st.step()) {
        int n = static_cast<int>(st.int_at(1));
        c.add(parse_state(st.text_at(0), impl_->path), n);
      }
    }
    c.retried = impl_->retried_count(study_id);
  });
  return c;
}

std::string SqliteStorage::artifact_root() const {
  std::filesystem::path p(path());
  return (p.parent_path() / (p.stem().string() + "_artifacts")).string();
}

}  // namespace nasforge
