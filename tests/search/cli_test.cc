// End-to-end tests of the nasforge executable: exit codes, messages, crash and interrupt recovery, and several
// processes sharing one SQLite study.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "search/cli_testing.h"

namespace nasforge {
namespace {

const char* kSlowStudy = R"(study:
  name: slow
  n_trials: 6
  seed: 3
  max_retry: 1
  heartbeat_interval_s: 0.2
  grace_period_s: 1.0
storage: sqlite:///slow.db
strategy: {name: random}
space:
  x0: {type: float, low: -5, high: 10}
  x1: {type: float, low: 0, high: 15}
objective: {kind: function, name: branin, steps: 4, sleep_ms: 100}
)";

TEST_F(CliTest, HelpAndUsageErrors) {
  CmdResult help = nasforge({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("resume"), std::string::npos);
  CmdResult run_help = nasforge({"run", "--help"});
  EXPECT_EQ(run_help.code, 0);
  EXPECT_NE(run_help.out.find("--workers"), std::string::npos);
  CmdResult bad = nasforge({"run"});
  EXPECT_EQ(bad.code, 2);
  CmdResult unknown = nasforge({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  CmdResult missing = nasforge({"run", "does-not-exist.yaml"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("does-not-exist.yaml"), std::string::npos) << missing.err;
  // A mistyped database path is an error, not a new empty database.
  CmdResult typo = nasforge({"trials", "--storage", "sqlite:///tpyo.db", "--study", "s"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("no database at 'tpyo.db'"), std::string::npos) << typo.err;
  EXPECT_FALSE(std::filesystem::exists(tmp("tpyo.db")));
}

struct Malformed {
  std::string name;
  std::string space;   // replaces the space section
  std::string extra;   // appended at top level
  std::vector<std::string> expect;  // substrings of stderr
};

class MalformedStudyTest : public CliTest, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedStudyTest, ExitsTwoNamingTheProblemAndLeavesTheDatabaseAlone) {
  const Malformed& m = GetParam();
  // An existing study in the database that a bad file must not touch.
  write_file("good.yaml", "study: {name: good, n_trials: 3, seed: 1}\nstorage: sqlite:///shared.db\n"
                          "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                          "objective: {kind: function, name: branin}\n");
  ASSERT_EQ(nasforge({"run", "good.yaml", "--quiet"}).code, 0);
  std::string before = slurp(tmp("shared.db"));
  std::string space = m.space.empty() ? "  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                                      : m.space;
  write_file("bad.yaml", "study: {name: bad, n_trials: 3}\nstorage: sqlite:///shared.db\nspace:\n" + space +
                             "objective: {kind: function, name: branin}\n" + m.extra);
  CmdResult r = nasforge({"run", "bad.yaml"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  for (const auto& s : m.expect) EXPECT_NE(r.err.find(s), std::string::npos) << "missing '" << s << "' in: " << r.err;
  EXPECT_EQ(slurp(tmp("shared.db")), before);
  CmdResult studies = nasforge({"studies", "--storage", "sqlite:///shared.db", "--format", "json"});
  EXPECT_EQ(Json::parse(studies.out).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, MalformedStudyTest,
    ::testing::Values(
        Malformed{"LowAboveHigh", "  x0: {type: float, low: 10, high: -5}\n  x1: {type: float, low: 0, high: 15}\n", "",
                  {":4:", "space.x0.low", "10"}},
        Malformed{"LogWithNonPositiveLow", "  x0: {type: float, low: 0, high: 1, log: true}\n", "",
                  {":4:", "space.x0.low", "log"}},
        Malformed{"EmptyChoices", "  x0: {type: categorical, choices: []}\n", "", {":4:", "space.x0", "empty"}},
        Malformed{"StepDoesNotDivide", "  x0: {type: float, low: 0, high: 1, step: 0.3}\n", "",
                  {":4:", "space.x0.step", "0.3"}},
        Malformed{"WhenNamesUnknownParameter",
                  "  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15, when: {x9: 1}}\n", "",
                  {":5:", "x9", "unknown parameter"}},
        Malformed{"UnknownTopLevelKey", "", "stratgy: {name: tpe}\n", {":7:", "stratgy", "did you mean 'strategy'"}},
        Malformed{"UnknownStrategy", "", "strategy: {name: tpee}\n", {":7:", "tpee", "did you mean 'tpe'"}},
        Malformed{"YamlSyntax", "  x0: {type: float, low: -5, high: 10\n", "", {"YAML syntax error"}}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return info.param.name; });

TEST_F(CliTest, OutputFormatsAndBest) {
  write_file("s.yaml", "study: {name: fmt, n_trials: 12, seed: 5}\nstorage: sqlite:///f.db\nstrategy: {name: random}\n"
                       "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                       "objective: {kind: function, name: branin}\n");
  CmdResult run = nasforge({"run", "s.yaml"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("Best trial"), std::string::npos) << run.out;
  Json trials = trials_json("f.db", "fmt");
  ASSERT_EQ(trials.size(), 12u);
  for (const char* key : {"number", "state", "values", "params", "user_attrs", "datetime_start", "datetime_complete"}) {
    EXPECT_TRUE(trials[0].contains(key)) << key;
  }
  CmdResult csv = nasforge({"trials", "--storage", "sqlite:///f.db", "--study", "fmt", "--format", "csv"});
  EXPECT_EQ(csv.out.rfind("number,state,value,duration_s,params_x0,params_x1", 0), 0u) << csv.out;
  CmdResult best = nasforge({"best", "--storage", "sqlite:///f.db", "--study", "fmt", "--top", "3", "--format", "json"});
  Json top = Json::parse(best.out);
  ASSERT_EQ(top.size(), 3u);
  double lowest = 1e300;
  for (const auto& t : trials) lowest = std::min(lowest, t["values"][0].get<double>());
  EXPECT_DOUBLE_EQ(top[0]["values"][0].get<double>(), lowest);
  EXPECT_LE(top[0]["values"][0].get<double>(), top[1]["values"][0].get<double>());
  EXPECT_LE(top[1]["values"][0].get<double>(), top[2]["values"][0].get<double>());
  CmdResult studies = nasforge({"studies", "--storage", "sqlite:///f.db"});
  EXPECT_NE(studies.out.find("fmt"), std::string::npos);
  CmdResult bad_format = nasforge({"studies", "--storage", "sqlite:///f.db", "--format", "xml"});
  EXPECT_EQ(bad_format.code, 2);
  CmdResult no_study = nasforge({"trials", "--storage", "sqlite:///f.db", "--study", "fmtt"});
  EXPECT_EQ(no_study.code, 2);
  EXPECT_NE(no_study.err.find("did you mean 'fmt'"), std::string::npos) << no_study.err;
  // Running the same file again continues the study; a changed file under the same name is refused.
  EXPECT_EQ(nasforge({"run", "s.yaml", "--n-trials", "14", "--quiet"}).code, 0);
  EXPECT_EQ(trials_json("f.db", "fmt").size(), 14u);
  write_file("s2.yaml", slurp(tmp("s.yaml")) + "pruner: {name: median}\n");
  std::string before = slurp(tmp("f.db"));
  CmdResult changed = nasforge({"run", "s2.yaml"});
  EXPECT_EQ(changed.code, 2);
  EXPECT_NE(changed.err.find("different configuration"), std::string::npos) << changed.err;
  CmdResult refuse = nasforge({"delete", "--storage", "sqlite:///f.db", "--study", "fmt"});
  EXPECT_EQ(refuse.code, 2);
  EXPECT_EQ(nasforge({"delete", "--storage", "sqlite:///f.db", "--study", "fmt", "--yes"}).code, 0);
  EXPECT_EQ(Json::parse(nasforge({"studies", "--storage", "sqlite:///f.db", "--format", "json"}).out).size(), 0u);
}

TEST_F(CliTest, SameSeedSingleWorkerGivesIdenticalTrials) {
  for (std::string strategy : {"random", "tpe"}) {
    write_file("rep.yaml", "study: {name: rep, n_trials: 25, seed: 11}\nstrategy: {name: " + strategy + "}\n"
                           "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                           "  c: [a, b, c]\nobjective: {kind: function, name: branin}\n");
    std::vector<Json> params;
    for (std::string db : {strategy + "1.db", strategy + "2.db"}) {
      ASSERT_EQ(nasforge({"run", "rep.yaml", "--storage", "sqlite:///" + db, "--quiet"}).code, 0);
      Json p = Json::array();
      for (const auto& t : trials_json(db, "rep")) p.push_back(t["params"]);
      params.push_back(p);
    }
    EXPECT_EQ(params[0].size(), 25u);
    EXPECT_EQ(params[0], params[1]) << strategy;
  }
}

TEST_F(CliTest, NanObjectiveFailsOneTrialNotTheStudy) {
  write_file("nan.yaml", "study: {name: nan, n_trials: 4, seed: 1}\nstorage: sqlite:///nan.db\nstrategy: {name: grid}\n"
                         "space:\n  x: {type: int, low: 0, high: 3}\n"
                         "objective:\n  kind: command\n  argv: [sh, -c, 'if [ {x} -eq 2 ]; then echo \"objective: nan\"; "
                         "else echo \"objective: {x}\"; fi']\n");
  CmdResult r = nasforge({"run", "nan.yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json trials = trials_json("nan.db", "nan");
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(count_state(trials, "COMPLETE"), 3);
  EXPECT_EQ(count_state(trials, "FAIL"), 1);
  for (const auto& t : trials) {
    if (t["state"] == "FAIL") {
      EXPECT_EQ(t["params"]["x"], 2);
      EXPECT_NE(t["system_attrs"]["fail_reason"].get<std::string>().find("NaN"), std::string::npos);
    }
  }
}

TEST_F(CliTest, KillDashNineThenResumeFinishesExactlyNTrials) {
  write_file("slow.yaml", kSlowStudy);
  pid_t pid = spawn({"run", "slow.yaml"}, "victim");
  wait_for_complete("slow.db", "slow", 2);
  kill(pid, SIGKILL);
  CmdResult killed = wait_for(pid, "victim");
  EXPECT_EQ(killed.code, 128 + SIGKILL);
  Json mid = trials_json("slow.db", "slow");
  EXPECT_EQ(count_state(mid, "RUNNING"), 1) << mid.dump();

  CmdResult resumed = nasforge({"resume", "--storage", "sqlite:///slow.db", "--study", "slow"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  Json trials = trials_json("slow.db", "slow");
  expect_dense_numbers(trials);
  // The killed trial became FAIL (stale heartbeat) and was retried with the same parameters.
  int failed = 0;
  for (const auto& t : trials) {
    if (t["state"] != "FAIL") continue;
    ++failed;
    ASSERT_TRUE(t["system_attrs"].contains("retried_by")) << t.dump();
    int retry = t["system_attrs"]["retried_by"].get<int>();
    EXPECT_EQ(trials[retry]["params"], t["params"]);
    EXPECT_EQ(trials[retry]["system_attrs"]["retry_of"], t["number"]);
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(count_state(trials, "COMPLETE"), 6);
  EXPECT_EQ(count_state(trials, "RUNNING") + count_state(trials, "WAITING"), 0);
}

TEST_F(CliTest, CtrlCStopsCleanlyAndResumeContinues) {
  write_file("slow.yaml", kSlowStudy);
  pid_t pid = spawn({"run", "slow.yaml"}, "interrupted");
  wait_for_complete("slow.db", "slow", 1);
  kill(pid, SIGINT);
  CmdResult r = wait_for(pid, "interrupted");
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("nasforge resume"), std::string::npos) << r.err;
  Json mid = trials_json("slow.db", "slow");
  EXPECT_EQ(count_state(mid, "RUNNING"), 0) << mid.dump();
  CmdResult resumed = nasforge({"resume", "--storage", "sqlite:///slow.db", "--study", "slow"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  Json trials = trials_json("slow.db", "slow");
  expect_dense_numbers(trials);
  EXPECT_EQ(count_state(trials, "COMPLETE"), 6);
}

TEST_F(CliTest, FourProcessesShareOneStudyExactly) {
  write_file("par.yaml", "study: {name: par, n_trials: 40, seed: 2, heartbeat_interval_s: 0.5, grace_period_s: 5}\n"
                         "storage: sqlite:///par.db\nstrategy: {name: tpe, constant_liar: true}\n"
                         "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
                         "objective: {kind: function, name: branin, steps: 2, sleep_ms: 5}\n");
  ASSERT_EQ(nasforge({"create", "par.yaml"}).code, 0);
  std::vector<pid_t> pids;
  for (int k = 0; k < 4; ++k) {
    pids.push_back(spawn({"worker", "--storage", "sqlite:///par.db", "--study", "par", "--worker-index",
                          std::to_string(k), "--quiet"},
                         "w" + std::to_string(k)));
  }
  for (int k = 0; k < 4; ++k) {
    CmdResult r = wait_for(pids[k], "w" + std::to_string(k));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err.find("locked"), std::string::npos) << r.err;
  }
  Json trials = trials_json("par.db", "par");
  EXPECT_EQ(trials.size(), 40u);
  EXPECT_EQ(count_state(trials, "COMPLETE"), 40);
  expect_dense_numbers(trials);

  // The same through run --workers, on a grid: every point exactly once.
  write_file("grid.yaml", "study: {name: grid, n_trials: 100, seed: 2}\nstorage: sqlite:///grid.db\n"
                          "strategy: {name: grid}\nspace:\n  a: {type: int, low: 0, high: 4}\n  b: [x, y, z]\n"
                          "objective:\n  kind: command\n  argv: [sh, -c, 'echo objective: {a}']\n");
  CmdResult grid = nasforge({"run", "grid.yaml", "--workers", "4"});
  ASSERT_EQ(grid.code, 0) << grid.err;
  Json gt = trials_json("grid.db", "grid");
  EXPECT_EQ(gt.size(), 15u);
  std::set<std::string> points;
  for (const auto& t : gt) points.insert(t["params"].dump());
  EXPECT_EQ(points.size(), 15u);
}

TEST_F(CliTest, AskAndTellDriveAnExternalLoop) {
  write_file("at.yaml", "study: {name: at, n_trials: 5, seed: 4}\nstorage: sqlite:///at.db\nstrategy: {name: random}\n"
                        "space:\n  lr: {type: float, low: 1e-4, high: 1, log: true}\n  opt: [sgd, adam]\n");
  ASSERT_EQ(nasforge({"create", "at.yaml"}).code, 0);
  CmdResult ask = nasforge({"ask", "--storage", "sqlite:///at.db", "--study", "at"});
  ASSERT_EQ(ask.code, 0) << ask.err;
  Json asked = Json::parse(ask.out);
  EXPECT_EQ(asked["number"], 0);
  double lr = asked["params"]["lr"].get<double>();
  EXPECT_GE(lr, 1e-4);
  EXPECT_LE(lr, 1.0);
  CmdResult tell = nasforge({"tell", "--storage", "sqlite:///at.db", "--study", "at", "--trial", "0", "--values", "0.25"});
  ASSERT_EQ(tell.code, 0) << tell.err;
  CmdResult again = nasforge({"tell", "--storage", "sqlite:///at.db", "--study", "at", "--trial", "0", "--values", "1"});
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("COMPLETE"), std::string::npos) << again.err;
  ASSERT_EQ(nasforge({"ask", "--storage", "sqlite:///at.db", "--study", "at"}).code, 0);
  CmdResult fail = nasforge({"tell", "--storage", "sqlite:///at.db", "--study", "at", "--trial", "1", "--state", "fail",
                             "--reason", "diverged"});
  ASSERT_EQ(fail.code, 0) << fail.err;
  Json trials = trials_json("at.db", "at");
  EXPECT_EQ(trials[0]["values"][0], 0.25);
  EXPECT_EQ(trials[1]["state"], "FAIL");
  EXPECT_EQ(trials[1]["system_attrs"]["fail_reason"], "diverged");
  CmdResult run = nasforge({"resume", "--storage", "sqlite:///at.db", "--study", "at"});
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("objective"), std::string::npos) << run.err;
}

TEST_F(CliTest, CopyStudyBetweenSqliteFilesKeepsEveryTrial) {
  write_file("c.yaml",
             "study: {name: orig, n_trials: 10, seed: 8}\nstorage: sqlite:///from.db\n"
             "strategy: {name: random}\npruner: {name: median, n_startup_trials: 2}\n"
             "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
             "objective: {kind: function, name: branin, steps: 3}\n");
  ASSERT_EQ(nasforge({"run", "c.yaml", "--quiet"}).code, 0);
  CmdResult copy = nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///to.db", "--study", "orig"});
  ASSERT_EQ(copy.code, 0) << copy.err;
  EXPECT_NE(copy.err.find("copied study 'orig' (10 trials: "), std::string::npos) << copy.err;
  EXPECT_NE(copy.err.find("from sqlite:///from.db to sqlite:///to.db"), std::string::npos) << copy.err;
  for (const char* format : {"table", "json", "csv"}) {
    CmdResult a = nasforge({"trials", "--storage", "sqlite:///from.db", "--study", "orig", "--format", format});
    CmdResult b = nasforge({"trials", "--storage", "sqlite:///to.db", "--study", "orig", "--format", format});
    ASSERT_EQ(a.code, 0) << a.err;
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(a.out, b.out) << format;
  }
  // Under a new name in the same file, and the copy runs on from where the original stopped.
  CmdResult renamed =
      nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///from.db", "--study", "orig", "--as", "twin"});
  ASSERT_EQ(renamed.code, 0) << renamed.err;
  EXPECT_NE(renamed.err.find("copied study 'orig' as 'twin'"), std::string::npos) << renamed.err;
  ASSERT_EQ(nasforge({"resume", "--storage", "sqlite:///to.db", "--study", "orig", "--n-trials", "13", "--quiet"}).code,
            0);
  Json resumed = trials_json("to.db", "orig");
  EXPECT_EQ(resumed.size(), 13u);
  expect_dense_numbers(resumed);
  EXPECT_EQ(trials_json("from.db", "orig").size(), 10u);
  EXPECT_EQ(trials_json("from.db", "twin").size(), 10u);
}

TEST_F(CliTest, CopyErrorsAreClearAndWriteNothing) {
  write_file("c.yaml",
             "study: {name: orig, n_trials: 3, seed: 8}\nstorage: sqlite:///from.db\n"
             "space:\n  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n"
             "objective: {kind: function, name: branin}\n");
  ASSERT_EQ(nasforge({"run", "c.yaml", "--quiet"}).code, 0);
  CmdResult help = nasforge({"copy", "--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* opt : {"--from", "--to", "--study", "--as"}) EXPECT_NE(help.out.find(opt), std::string::npos) << opt;

  CmdResult missing = nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///to.db", "--study", "nope"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no study named 'nope' in sqlite:///from.db (studies there: 'orig')"), std::string::npos)
      << missing.err;
  EXPECT_FALSE(std::filesystem::exists(tmp("to.db")));  // no empty destination left behind
  CmdResult no_db = nasforge({"copy", "--from", "sqlite:///tpyo.db", "--to", "sqlite:///to.db", "--study", "orig"});
  EXPECT_EQ(no_db.code, 2);
  EXPECT_NE(no_db.err.find("no database at 'tpyo.db'"), std::string::npos) << no_db.err;

  CmdResult self = nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///./from.db", "--study", "orig"});
  EXPECT_EQ(self.code, 2);
  EXPECT_NE(self.err.find("onto itself"), std::string::npos) << self.err;

  ASSERT_EQ(nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///to.db", "--study", "orig"}).code, 0);
  std::string before = slurp(tmp("to.db"));
  CmdResult taken = nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///to.db", "--study", "orig"});
  EXPECT_EQ(taken.code, 2);
  EXPECT_NE(taken.err.find("study 'orig' already exists in sqlite:///to.db"), std::string::npos) << taken.err;
  EXPECT_NE(taken.err.find("--as NEW_NAME"), std::string::npos) << taken.err;
  EXPECT_EQ(slurp(tmp("to.db")), before);
  EXPECT_EQ(trials_json("to.db", "orig").size(), 3u);
}

TEST_F(CliTest, CopyWarnsAboutRunningTrials) {
  write_file("c.yaml",
             "study: {name: ext, n_trials: 5, seed: 8}\nstorage: sqlite:///from.db\n"
             "space:\n  x0: {type: float, low: -5, high: 10}\n");
  ASSERT_EQ(nasforge({"create", "c.yaml"}).code, 0);
  ASSERT_EQ(nasforge({"ask", "--storage", "sqlite:///from.db", "--study", "ext"}).code, 0);
  CmdResult copy = nasforge({"copy", "--from", "sqlite:///from.db", "--to", "sqlite:///to.db", "--study", "ext"});
  ASSERT_EQ(copy.code, 0) << copy.err;
  EXPECT_NE(copy.err.find("warning: 1 trial(s) were RUNNING"), std::string::npos) << copy.err;
  EXPECT_NE(copy.err.find("(1 trial: 1 RUNNING)"), std::string::npos) << copy.err;
  Json copied = trials_json("to.db", "ext");
  ASSERT_EQ(copied.size(), 1u);
  EXPECT_EQ(copied[0]["state"], "RUNNING");
}

TEST_F(CliTest, CorruptDatabaseIsAClearError) {
  write_file("junk.db", "this is not a database, just text that happens to end in .db\n");
  std::string before = slurp(tmp("junk.db"));
  CmdResult r = nasforge({"studies", "--storage", "sqlite:///junk.db"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("junk.db"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(tmp("junk.db")), before);
}

}  // namespace
}  // namespace nasforge
