// Hostile and careless input to the nasforge executable: names, paths and numbers that must never make it touch
// a file outside what it owns, lose a trial, or leave a half-written study.
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include "search/cli_testing.h"

namespace nasforge {
namespace {

namespace fs = std::filesystem;

const char* kStudy = R"(study: {name: syn, n_trials: 3, seed: 1}
strategy: {name: random}
space:
  x0: {type: float, low: -5, high: 10}
  x1: {type: float, low: 0, high: 15}
objective: {kind: function, name: branin}
)";

/// Names a study must not have: each would be a path, an alias, or bytes a terminal interprets.
const std::vector<std::string> kBadNames = {
    "..", ".", "/tmp/nasforge-hostile", "./syn", "syn/..", "a/b", "../victim", "a\\b", "a b", "a\nb", "a\x1b[2Jb",
    "-rf", ".hidden", "caf\xc3\xa9", "\xff", std::string(129, 'x')};

class HostileInputTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    write_file("s.yaml", kStudy);
    ASSERT_EQ(nasforge({"run", "s.yaml", "--storage", "sqlite:///s.db", "-q"}).code, 0);
    // Trial files as a train objective leaves them, and files nasforge does not own around them.
    fs::create_directories(tmp("s_artifacts/syn/trial_0"));
    write_file("s_artifacts/syn/trial_0/weights.pt", "weights of trial 0");
    write_file("s_artifacts/syn/trial_0/model.json", "{}");
    fs::create_directories(tmp("victim"));
    write_file("victim/precious.txt", "not nasforge's");
    write_file("s_artifacts/README", "the user's own note");
  }

  /// Every file under the test folder with its content, but the command outputs and SQLite's -wal/-shm files
  /// (readers may touch those); the database itself is compared through its trials.
  std::map<std::string, std::string> files() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(tmp_)) {
      std::string rel = fs::relative(e.path(), tmp_).string();
      std::string ext = e.path().extension().string();
      if (ext == ".out" || ext == ".err" || ext == ".db-wal" || ext == ".db-shm" || ext == ".db") continue;
      out[rel + (e.is_directory() ? "/" : "")] = e.is_regular_file() ? slurp(e.path().string()) : "";
    }
    return out;
  }

  std::string study_dump() {
    CmdResult r = nasforge({"trials", "--storage", "sqlite:///s.db", "--study", "syn", "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  /// Gives the stored study `syn` of s.db the name `name`, as a database written before names were checked.
  void rename_in_database(const std::string& name) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(tmp("s.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE studies SET study_name = ?1 WHERE study_name = 'syn'", -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
};

TEST_F(HostileInputTest, BadStudyNamesAreRefusedByEveryCommandAndTouchNothing) {
  const auto before = files();
  const std::string trials_before = study_dump();
  for (const std::string& bad : kBadNames) {
    SCOPED_TRACE("name " + bad);
    const std::vector<std::vector<std::string>> commands = {
        {"run", "s.yaml", "--storage", "sqlite:///s.db", "--study", bad, "-q"},
        {"run", "s.yaml", "--storage", "sqlite:///other.db", "--study", bad, "-q"},
        {"create", "s.yaml", "--storage", "sqlite:///s.db", "--study", bad},
        {"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///s.db", "--study", "syn", "--as", bad},
        {"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///copy.db", "--study", "syn", "--as", bad},
        {"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///copy.db", "--study", bad},
        {"rename", "--storage", "sqlite:///s.db", "--study", "syn", "--as", bad},
        {"delete", "--storage", "sqlite:///s.db", "--study", bad, "--yes"},
        {"resume", "--storage", "sqlite:///s.db", "--study", bad},
        {"worker", "--storage", "sqlite:///s.db", "--study", bad},
        {"ask", "--storage", "sqlite:///s.db", "--study", bad},
        {"tell", "--storage", "sqlite:///s.db", "--study", bad, "--trial", "0", "--values", "1"},
        {"export", "--storage", "sqlite:///s.db", "--study", bad, "--trial", "0", "--out", "exported"},
        {"trials", "--storage", "sqlite:///s.db", "--study", bad},
        {"best", "--storage", "sqlite:///s.db", "--study", bad},
    };
    for (const auto& cmd : commands) {
      CmdResult r = nasforge(cmd);
      EXPECT_EQ(r.code, 2) << cmd[0] << ": " << r.err;
      EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "raw ESC printed by " << cmd[0];
    }
    // The same names as study.name in the file.
    std::string quoted;
    for (char c : bad) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      quoted += buf;
    }
    write_file("named.yaml", std::string(kStudy).replace(std::string(kStudy).find("syn"), 3, "\"" + quoted + "\""));
    CmdResult v = nasforge({"validate", "named.yaml"});
    EXPECT_EQ(v.code, 2) << v.out;
    EXPECT_NE(v.err.find("named.yaml:1:"), std::string::npos) << v.err;
    EXPECT_NE(v.err.find("not a valid study name"), std::string::npos) << v.err;
    fs::remove(tmp("named.yaml"));
  }
  CmdResult empty = nasforge({"run", "s.yaml", "--storage", "sqlite:///s.db", "--study", "", "-q"});
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("cannot be empty"), std::string::npos) << empty.err;
  EXPECT_EQ(files(), before);
  EXPECT_EQ(study_dump(), trials_before);
  EXPECT_FALSE(fs::exists(tmp("other.db")));
  EXPECT_FALSE(fs::exists(tmp("exported")));
}

TEST_F(HostileInputTest, StoredNamesThatCannotBeFoldersAreRefusedUntilRenamed) {
  // A database written before the rule, whose study name points at a folder the user owns.
  rename_in_database("../victim");
  fs::rename(tmp("s_artifacts/syn"), tmp("s_artifacts/kept"));
  const auto before = files();
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"resume", "--storage", "sqlite:///s.db", "--study", "../victim"},
           {"ask", "--storage", "sqlite:///s.db", "--study", "../victim"},
           {"export", "--storage", "sqlite:///s.db", "--study", "../victim", "--trial", "0", "--out", "exported"},
           {"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///copy.db", "--study", "../victim", "--as", "ok"}}) {
    CmdResult r = nasforge(cmd);
    EXPECT_EQ(r.code, 2) << cmd[0] << ": " << r.err;
    EXPECT_NE(r.err.find("nasforge rename --storage URL --study '../victim' --as NEW_NAME"), std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp("copy.db")));
  // Listing works and says how to fix it.
  CmdResult listed = nasforge({"studies", "--storage", "sqlite:///s.db"});
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.err.find("--study '../victim' --as NEW_NAME"), std::string::npos) << listed.err;
  EXPECT_EQ(files(), before);

  CmdResult renamed = nasforge({"rename", "--storage", "sqlite:///s.db", "--study", "../victim", "--as", "fixed"});
  EXPECT_EQ(renamed.code, 0) << renamed.err;
  EXPECT_NE(renamed.err.find("no trial files were moved"), std::string::npos) << renamed.err;
  EXPECT_EQ(files(), before);  // the victim folder stayed where it was
  EXPECT_EQ(nasforge({"resume", "--storage", "sqlite:///s.db", "--study", "fixed", "-q"}).code, 0);
}

TEST_F(HostileInputTest, DeleteOfAStoredBadNameRemovesItsRowsButNoFiles) {
  rename_in_database("..");
  const auto before = files();
  CmdResult r = nasforge({"delete", "--storage", "sqlite:///s.db", "--study", "..", "--yes"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no trial files were removed"), std::string::npos) << r.err;
  EXPECT_EQ(files(), before);
  CmdResult listed = nasforge({"studies", "--storage", "sqlite:///s.db", "--format", "json"});
  EXPECT_EQ(Json::parse(listed.out).size(), 0u) << listed.out;
}

TEST_F(HostileInputTest, RenameMovesTheTrialFilesAndDeleteRemovesOnlyTheStudysFolder) {
  CmdResult r = nasforge({"rename", "--storage", "sqlite:///s.db", "--study", "syn", "--as", "syn-v2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(tmp("s_artifacts/syn-v2/trial_0/weights.pt")), "weights of trial 0");
  EXPECT_FALSE(fs::exists(tmp("s_artifacts/syn")));
  EXPECT_EQ(nasforge({"delete", "--storage", "sqlite:///s.db", "--study", "syn-v2", "--yes"}).code, 0);
  EXPECT_FALSE(fs::exists(tmp("s_artifacts/syn-v2")));
  EXPECT_EQ(slurp(tmp("s_artifacts/README")), "the user's own note");
  EXPECT_EQ(slurp(tmp("victim/precious.txt")), "not nasforge's");
}

TEST_F(HostileInputTest, ExportRefusesFoldersItWouldDamageAndForceReplacesOnlyTheBundle) {
  auto exp = [&](const std::string& out, bool force = false) {
    std::vector<std::string> args = {"export", "--storage", "sqlite:///s.db", "--study", "syn", "--trial", "0",
                                     "--out", out};
    if (force) args.push_back("--force");
    return nasforge(args);
  };
  const auto before = files();
  CmdResult root = exp("/", true);
  EXPECT_EQ(root.code, 2);
  EXPECT_NE(root.err.find("root of the file system"), std::string::npos) << root.err;
  for (const std::string inside : {"s_artifacts/syn/trial_1", "s_artifacts/syn/trial_0", "s_artifacts",
                                   "s_artifacts/syn/../other"}) {
    CmdResult r = exp(inside, true);
    EXPECT_EQ(r.code, 2) << inside;
    EXPECT_NE(r.err.find("where the storage keeps every trial's files"), std::string::npos) << r.err;
  }
  // A symbolic link is followed to where it really points.
  fs::create_directory_symlink(tmp("s_artifacts/syn"), tmp("link"));
  EXPECT_EQ(exp("link/trial_1", true).code, 2);
  CmdResult not_empty = exp("victim");
  EXPECT_EQ(not_empty.code, 2);
  EXPECT_NE(not_empty.err.find("is not empty"), std::string::npos) << not_empty.err;
  EXPECT_NE(not_empty.err.find("--force"), std::string::npos) << not_empty.err;
  EXPECT_EQ(exp("victim/precious.txt", true).code, 2);  // a file, not a folder
  fs::remove(tmp("link"));
  EXPECT_EQ(files(), before);

  CmdResult forced = exp("victim", true);
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(slurp(tmp("victim/precious.txt")), "not nasforge's");
  EXPECT_EQ(slurp(tmp("victim/weights.pt")), "weights of trial 0");
  CmdResult again = exp("victim", true);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("replaced the earlier model.json and weights.pt"), std::string::npos) << again.out;
  EXPECT_EQ(exp("fresh").code, 0);  // a new folder needs no --force
}

TEST_F(HostileInputTest, AnInterruptedCopyIsRefusedUntilTheSameCopyFinishesIt) {
  const std::vector<std::string> copy = {"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///dst/b.db", "--study",
                                         "syn"};
  fs::create_directories(tmp("dst"));
  // Killed while the files were being staged: the trials were not imported yet, the staging folder is partial.
  fs::create_directories(tmp("dst/b_artifacts/.syn.copying/trial_7"));
  write_file("dst/b_artifacts/.syn.copying/trial_7/junk", "half a file");
  CmdResult first = nasforge(copy);
  EXPECT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(slurp(tmp("dst/b_artifacts/syn/trial_0/weights.pt")), "weights of trial 0");
  EXPECT_FALSE(fs::exists(tmp("dst/b_artifacts/syn/trial_7")));
  EXPECT_FALSE(fs::exists(tmp("dst/b_artifacts/.syn.copying")));

  // Killed after the trials were imported, before the files were moved into place.
  fs::rename(tmp("dst/b_artifacts/syn"), tmp("dst/b_artifacts/.syn.copying"));
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"resume", "--storage", "sqlite:///dst/b.db", "--study", "syn"},
           {"export", "--storage", "sqlite:///dst/b.db", "--study", "syn", "--trial", "0", "--out", "e"}}) {
    CmdResult r = nasforge(cmd);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("unfinished copy"), std::string::npos) << r.err;
  }
  CmdResult retry = nasforge(copy);
  EXPECT_EQ(retry.code, 0) << retry.err;
  EXPECT_NE(retry.err.find("finished the interrupted copy"), std::string::npos) << retry.err;
  EXPECT_EQ(slurp(tmp("dst/b_artifacts/syn/trial_0/weights.pt")), "weights of trial 0");
  EXPECT_EQ(nasforge({"export", "--storage", "sqlite:///dst/b.db", "--study", "syn", "--trial", "0", "--out", "e"})
                .code,
            0);
  // Now complete: a third copy is a duplicate.
  EXPECT_EQ(nasforge(copy).code, 2);

  // Files of no study in the destination folder are not mixed with a copy.
  fs::create_directories(tmp("dst/c_artifacts/syn"));
  write_file("dst/c_artifacts/syn/mine", "x");
  CmdResult mixed =
      nasforge({"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///dst/c.db", "--study", "syn"});
  EXPECT_EQ(mixed.code, 1) << mixed.err;
  EXPECT_NE(mixed.err.find("already holds files"), std::string::npos) << mixed.err;
  EXPECT_EQ(slurp(tmp("dst/c_artifacts/syn/mine")), "x");
}

TEST_F(HostileInputTest, DamagedAndEmptyDatabasesAreFoundBeforeAnythingIsWritten) {
  // Enough trials that the file has pages to damage.
  write_file("big.yaml", std::string(kStudy).replace(std::string(kStudy).find("n_trials: 3"), 11, "n_trials: 300"));
  ASSERT_EQ(nasforge({"run", "big.yaml", "--storage", "sqlite:///big.db", "-q"}).code, 0);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(tmp("big.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  std::string bytes = slurp(tmp("big.db"));
  ASSERT_GT(bytes.size(), 25u * 4096);
  bytes.replace(20 * 4096, 4096, std::string(4096, '\xff'));
  write_file("bad.db", bytes);

  CmdResult resume = nasforge({"resume", "--storage", "sqlite:///bad.db", "--study", "syn", "--n-trials", "500"});
  EXPECT_EQ(resume.code, 1);
  EXPECT_NE(resume.err.find("'bad.db' is damaged"), std::string::npos) << resume.err;
  EXPECT_NE(resume.err.find(".recover"), std::string::npos) << resume.err;
  EXPECT_EQ(slurp(tmp("bad.db")), bytes);
  CmdResult copy = nasforge({"copy", "--from", "sqlite:///bad.db", "--to", "sqlite:///target.db", "--study", "syn"});
  EXPECT_EQ(copy.code, 1) << copy.err;
  EXPECT_FALSE(fs::exists(tmp("target.db")));
  EXPECT_EQ(slurp(tmp("bad.db")), bytes);

  write_file("empty.db", "");
  for (const char* cmd : {"studies", "trials", "best"}) {
    std::vector<std::string> args = {cmd, "--storage", "sqlite:///empty.db"};
    if (std::string(cmd) != "studies") args.insert(args.end(), {"--study", "syn"});
    CmdResult r = nasforge(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("empty file (0 bytes)"), std::string::npos) << r.err;
  }
  EXPECT_EQ(fs::file_size(tmp("empty.db")), 0u);
}

TEST_F(HostileInputTest, ADatabaseInAReadOnlyFolderCanBeListed) {
  fs::create_directories(tmp("ro"));
  ASSERT_EQ(nasforge({"copy", "--from", "sqlite:///s.db", "--to", "sqlite:///ro/s.db", "--study", "syn"}).code, 0);
  // Root may write anywhere, so the listing runs as nobody, in a folder nobody may write.
  fs::permissions(tmp_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::permissions(tmp("ro"), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                 fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(tmp("ro/s.db"), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  pid_t pid = fork();
  if (pid == 0) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(97);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    if (chdir(tmp_.c_str()) != 0) _exit(96);
    execl(NASFORGE_BINARY, NASFORGE_BINARY, "best", "--storage", "sqlite:///ro/s.db", "--study", "syn",
          static_cast<char*>(nullptr));
    _exit(98);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  fs::permissions(tmp("ro"), fs::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(tmp("ro/s.db-shm")));
}

TEST_F(HostileInputTest, UrlsThatWouldKeepNothingOrMisnameTheFileAreRefused) {
  for (const std::string url : {"sqlite:///:memory:", "sqlite:///x.db#frag", "sqlite:///x.db?mode=ro"}) {
    CmdResult r = nasforge({"run", "s.yaml", "--storage", url, "-q"});
    EXPECT_EQ(r.code, 2) << url << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp("x.db#frag")));
  EXPECT_FALSE(fs::exists(tmp(":memory:")));
}

TEST_F(HostileInputTest, TellRefusesResultsThatDoNotFitAndAskStopsAtTheTarget) {
  write_file("at.yaml", "study: {name: at, n_trials: 1, directions: [minimize, maximize], seed: 2}\n"
                        "space:\n  x: {type: float, low: 0, high: 1}\n");
  ASSERT_EQ(nasforge({"create", "at.yaml", "--storage", "sqlite:///at.db"}).code, 0);
  const std::vector<std::string> at = {"--storage", "sqlite:///at.db", "--study", "at"};
  auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.begin() + 1, at.begin(), at.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return nasforge(head);
  };
  ASSERT_EQ(with({"ask"}, {}).code, 0);
  CmdResult full = with({"ask"}, {});
  EXPECT_EQ(full.code, 2);
  EXPECT_NE(full.err.find("reached its target of 1 trials"), std::string::npos) << full.err;
  EXPECT_EQ(with({"ask"}, {"--force"}).code, 0);

  CmdResult one = with({"tell"}, {"--trial", "0", "--values", "1"});
  EXPECT_EQ(one.code, 2);
  EXPECT_NE(one.err.find("so --values takes 2 value(s), got 1"), std::string::npos) << one.err;
  for (const char* bad : {"nan", "inf", "1e999"}) {
    CmdResult r = with({"tell"}, {"--trial", "0", "--values", "1", bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("not a finite number"), std::string::npos) << r.err;
  }
  CmdResult listed = nasforge({"trials", "--storage", "sqlite:///at.db", "--study", "at", "--format", "json"});
  EXPECT_EQ(count_state(Json::parse(listed.out), "RUNNING"), 2) << listed.out;
  EXPECT_EQ(with({"tell"}, {"--trial", "0", "--values", "1", "2"}).code, 0);
  EXPECT_EQ(with({"tell"}, {"--trial", "1", "--state", "FAIL"}).code, 0);
}

TEST_F(HostileInputTest, NumbersOnTheCommandLineAreCheckedWithReadableMessages) {
  const std::vector<std::vector<std::string>> bad = {
      {"run", "s.yaml", "--timeout", "0"},      {"run", "s.yaml", "--timeout", "nan"},
      {"run", "s.yaml", "--timeout", "-1"},     {"run", "s.yaml", "--n-trials", "0"},
      {"best", "--storage", "sqlite:///s.db", "--study", "syn", "--top", "0"},
      {"export", "--storage", "sqlite:///s.db", "--study", "syn", "--trial", "-1", "--out", "x"},
      {"worker", "--storage", "sqlite:///s.db", "--study", "syn", "--worker-index", "-3"}};
  for (const auto& cmd : bad) {
    CmdResult r = nasforge(cmd);
    EXPECT_EQ(r.code, 2) << cmd[0];
    EXPECT_NE(r.err.find("expected"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("1.79769"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("is required"), std::string::npos) << r.err;
  }
}

TEST_F(HostileInputTest, AnEndlessStudyFileIsRefusedAtTheSizeCap) {
  CmdResult r = nasforge({"validate", "/dev/zero"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("at most 16777216 bytes"), std::string::npos) << r.err;
}

TEST_F(HostileInputTest, HelpIsPerCommandAndUnknownCommandsGetASuggestion) {
  CmdResult typo = nasforge({"runn"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("did you mean 'run'"), std::string::npos) << typo.err;
  CmdResult help_run = nasforge({"help", "run"});
  EXPECT_EQ(help_run.code, 0) << help_run.err;
  EXPECT_NE(help_run.out.find("--workers"), std::string::npos) << help_run.out;
  CmdResult ask = nasforge({"ask", "--help"});
  EXPECT_NE(ask.out.find("nasforge ask --storage"), std::string::npos) << ask.out;
  EXPECT_EQ(ask.out.find("nasforge best"), std::string::npos) << ask.out;  // not every command's examples
  CmdResult tell = nasforge({"tell", "--help"});
  EXPECT_NE(tell.out.find("{pruned,fail}"), std::string::npos) << tell.out;
  EXPECT_EQ(tell.out.find("PRUNED"), std::string::npos) << tell.out;
  CmdResult del = nasforge({"delete", "--help"});
  EXPECT_NE(del.out.find("trial files"), std::string::npos) << del.out;
}

TEST_F(HostileInputTest, WorkersStopWhenTheirParentIsKilled) {
  write_file("w.yaml", "study: {name: w, n_trials: 500, seed: 1}\nstrategy: {name: random}\n"
                       "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                       "objective: {kind: function, name: branin, steps: 4, sleep_ms: 100}\n");
  pid_t parent = spawn({"run", "w.yaml", "--storage", "sqlite:///w.db", "--workers", "2", "-q"}, "parent");
  // The workers' command lines name the database, which is unique to this test's folder.
  auto workers = [&] {
    std::vector<pid_t> found;
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmdline = slurp(e.path().string() + "/cmdline");
      std::string cwd;
      std::error_code ec;
      cwd = fs::read_symlink(e.path() / "cwd", ec).string();
      if (cmdline.find(std::string("worker") + '\0') != std::string::npos && cwd == tmp_.string()) {
        found.push_back(std::stoi(pid));
      }
    }
    return found;
  };
  for (int i = 0; i < 100 && workers().size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(workers().size(), 2u);
  kill(parent, SIGKILL);
  waitpid(parent, nullptr, 0);
  for (int i = 0; i < 100 && !workers().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(workers().empty()) << "workers outlived their parent";
  // They stopped as after Ctrl-C: the study is intact and resumes.
  CmdResult listed = nasforge({"trials", "--storage", "sqlite:///w.db", "--study", "w", "--format", "json"});
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_LT(Json::parse(listed.out).size(), 500u);
}

}  // namespace
}  // namespace nasforge
