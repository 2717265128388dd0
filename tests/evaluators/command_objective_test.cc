#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/fake_trial.h"
#include "testing.h"

namespace nasforge::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSpace[] = "x: {type: float, low: 0, high: 1}\nname: [alpha, beta]\n";

class CommandObjectiveTest : public NasforgeTest {
 protected:
  std::unique_ptr<Objective> build(const std::string& yaml, std::size_t n_objectives = 1) const {
    return build_objective(yaml, parse_space(kSpace), n_objectives, tmp_.string());
  }

  std::string config_error(const std::string& yaml) const {
    try {
      build(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for " << yaml;
    return "";
  }

  // Runs the objective and returns the ObjectiveError message it must raise.
  static std::string objective_error(Objective& objective, FakeTrial& trial) {
    try {
      objective.evaluate(trial);
    } catch (const ObjectiveError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ObjectiveError";
    return "";
  }

  static ParamMap params(double x = 0.25, const std::string& name = "alpha") {
    return ParamMap{{"x", x}, {"name", name}};
  }

  // Whether a process has ended (gone, or a zombie waiting for its new parent to reap it). Killing is asynchronous
  // for processes we are not the parent of, so give the kernel a moment.
  static bool process_ended(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text;
      if (!stat || !std::getline(stat, text)) return true;
      std::size_t close = text.rfind(')');
      if (close != std::string::npos && close + 2 < text.size() && (text[close + 2] == 'Z' || text[close + 2] == 'X')) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  pid_t read_pid(const std::string& name) const {
    std::ifstream in(tmp(name));
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  // Whether a process is gone for good: kill(pid, 0) fails with ESRCH, or it is a zombie that its parent (not
  // this process, which must reap its own) has yet to collect.
  static bool process_gone(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
      if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text;
      if (std::getline(stat, text)) {
        std::size_t close = text.rfind(')');
        std::istringstream fields(close == std::string::npos ? "" : text.substr(close + 1));
        char state = '?';
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (state == 'Z' && ppid != ::getpid()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // A shell line that starts `sleep 300` in a new session (outside the trial's process group) with its output
  // away from the trial's pipes, and waits until the sleeper has written its pid to `pid_file`.
  static std::string escapee(const std::string& pid_file, const std::string& prefix = "") {
    return prefix + "setsid sh -c 'echo $$ > " + pid_file + ".tmp; mv " + pid_file + ".tmp " + pid_file +
           "; exec sleep 300' </dev/null >/dev/null 2>&1 &\n"
           "while [ ! -s " +
           pid_file + " ]; do sleep 0.02; done\n";
  }
};

TEST_F(CommandObjectiveTest, ProtocolReportsAttrsAndLastObjectiveWins) {
  write_file("train.sh",
             "echo starting\n"
             "echo 'intermediate: 0 3.5'\n"
             "echo 'intermediate: 1 2.5'\n"
             "echo 'attr: note=hello world'\n"
             "echo 'attr: cfg={\"depth\": 3}'\n"
             "echo 'objective: 99'\n"
             "echo \"objective: $1\"\n"
             "echo done\n");
  auto objective = build("{kind: command, argv: [/bin/sh, train.sh, '{x}']}");
  FakeTrial trial(params(0.25));
  EXPECT_EQ(objective->evaluate(trial), std::vector<double>{0.25});
  ASSERT_EQ(trial.reports.size(), 2u);
  EXPECT_EQ(trial.reports[0], std::make_pair(0, 3.5));
  EXPECT_EQ(trial.reports[1], std::make_pair(1, 2.5));
  EXPECT_EQ(trial.prune_checks, 2);
  EXPECT_EQ(trial.attrs.at("note"), Json("hello world"));
  EXPECT_EQ(trial.attrs.at("cfg"), Json::parse("{\"depth\": 3}"));
}

TEST_F(CommandObjectiveTest, SubstitutesArgvAndEnvironment) {
  write_file("show.sh",
             "echo \"attr: args=$1|$2|$3|$4\"\n"
             "echo \"attr: my_var=$MY_VAR\"\n"
             "echo \"attr: number=$NASFORGE_TRIAL_NUMBER\"\n"
             "echo \"attr: params=$NASFORGE_PARAMS_JSON\"\n"
             "echo \"attr: cwd=$(pwd)\"\n"
             "echo 'objective: 1'\n");
  auto objective = build(
      "{kind: command, argv: [/bin/sh, show.sh, '--x={x}', '{name}', 't{trial}', '{{seed}}={seed}'],"
      " env: {MY_VAR: '{name}-{x}'}}");
  FakeTrial trial(params(0.5, "beta"), 1234, 7);
  objective->evaluate(trial);
  EXPECT_EQ(trial.attrs.at("args"), Json("--x=0.5|beta|t7|{seed}=1234"));
  EXPECT_EQ(trial.attrs.at("my_var"), Json("beta-0.5"));
  EXPECT_EQ(trial.attrs.at("number"), Json(7));
  EXPECT_EQ(trial.attrs.at("params"), Json::parse("{\"x\": 0.5, \"name\": \"beta\"}"));
  EXPECT_EQ(std::filesystem::canonical(trial.attrs.at("cwd").get<std::string>()), std::filesystem::canonical(tmp_));
}

TEST_F(CommandObjectiveTest, InactiveParameterIsEmptyAndSpaceShadowsBuiltins) {
  write_file("args.sh", "echo \"attr: args=$1|$2|$3\"\necho 'objective: 0'\n");
  SearchSpace space =
      parse_space("opt: [sgd, adam]\nmomentum: {type: float, low: 0, high: 1, when: {opt: sgd}}\nseed: [11, 12]\n");
  auto objective = build_objective("{kind: command, argv: [/bin/sh, args.sh, '{opt}', 'm={momentum}', '{seed}']}",
                                   space, 1, tmp_.string());
  FakeTrial trial(ParamMap{{"opt", "adam"}, {"seed", 12}}, 999);
  objective->evaluate(trial);
  EXPECT_EQ(trial.attrs.at("args"), Json("adam|m=|12"));
}

TEST_F(CommandObjectiveTest, BracesThatAreNoPlaceholdersStayLiteral) {
  write_file("echo.sh", "printf 'attr: arg=%s\\n' \"$1\"\necho 'objective: 0'\n");
  auto objective =
      build("{kind: command, argv: [/bin/sh, echo.sh, 'BEGIN{print {x}*2} ${HOME} {\"k\": {{name}}} a}b{ {}']}");
  FakeTrial trial(params(0.5, "beta"));
  objective->evaluate(trial);
  EXPECT_EQ(trial.attrs.at("arg"), Json("BEGIN{print 0.5*2} ${HOME} {\"k\": {name}} a}b{ {}"));
}

TEST_F(CommandObjectiveTest, RelativeCwdResolvesAgainstBaseDir) {
  std::filesystem::create_directory(tmp("work"));
  write_file("work/where.sh", "echo \"attr: cwd=$(pwd)\"\necho 'objective: 0'\n");
  auto objective = build("{kind: command, argv: [/bin/sh, where.sh], cwd: work}");
  FakeTrial trial(params());
  objective->evaluate(trial);
  EXPECT_EQ(std::filesystem::canonical(trial.attrs.at("cwd").get<std::string>()),
            std::filesystem::canonical(tmp("work")));
  EXPECT_THAT(config_error("{kind: command, argv: [x], cwd: nowhere}"), HasSubstr("'nowhere' is not a folder"));
}

TEST_F(CommandObjectiveTest, MultipleObjectivesAndCountMismatch) {
  write_file("two.sh", "echo 'objective: 0.1, 0.2'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, two.sh]}", 2)->evaluate(trial), (std::vector<double>{0.1, 0.2}));
  auto single = build("{kind: command, argv: [/bin/sh, two.sh]}", 1);
  EXPECT_THAT(objective_error(*single, trial), HasSubstr("2 value(s)"));
}

TEST_F(CommandObjectiveTest, LastLineModeAndUnterminatedLine) {
  write_file("last.sh", "echo 'intermediate: 0 9'\necho log\nprintf '4.25'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, last.sh], result: last_line}")->evaluate(trial),
            std::vector<double>{4.25});
  EXPECT_EQ(trial.reports.size(), 1u);
  // The same program does not follow the protocol.
  FakeTrial again(params());
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, last.sh]}"), again),
              HasSubstr("no 'objective: <value>' line"));
}

TEST_F(CommandObjectiveTest, NonZeroExitCarriesStderrTail) {
  write_file("fail.sh",
             "i=1\n"
             "while [ $i -le 25 ]; do echo \"err $i\" >&2; i=$((i+1)); done\n"
             "echo 'objective: 1'\n"
             "exit 3\n");
  auto objective = build("{kind: command, argv: [/bin/sh, fail.sh]}");
  FakeTrial trial(params());
  std::string msg = objective_error(*objective, trial);
  EXPECT_THAT(msg, HasSubstr("exited with code 3"));
  EXPECT_THAT(msg, HasSubstr("err 25"));
  EXPECT_THAT(msg, HasSubstr("err 6\n"));
  EXPECT_THAT(msg, Not(HasSubstr("err 5\n")));
  std::string tail = trial.attrs.at("stderr_tail").get<std::string>();
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 19);
  EXPECT_EQ(tail.substr(0, 6), "err 6\n");
}

TEST_F(CommandObjectiveTest, KilledBySignalIsReported) {
  write_file("die.sh", "echo 'objective: 1'\nkill -9 $$\n");
  FakeTrial trial(params());
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, die.sh]}"), trial), HasSubstr("signal 9"));
}

TEST_F(CommandObjectiveTest, MissingOrBadObjectiveLine) {
  write_file("none.sh", "echo hello\necho 'oops' >&2\n");
  write_file("bad.sh", "echo 'objective: abc'\n");
  write_file("badstep.sh", "echo 'intermediate: x 1.0'\nsleep 30\n");
  FakeTrial a(params()), b(params()), c(params());
  std::string msg = objective_error(*build("{kind: command, argv: [/bin/sh, none.sh]}"), a);
  EXPECT_THAT(msg, HasSubstr("no 'objective: <value>' line"));
  EXPECT_THAT(msg, HasSubstr("exited with code 0"));
  EXPECT_THAT(msg, HasSubstr("oops"));
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, bad.sh]}"), b),
              HasSubstr("'abc' is not a number"));
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, badstep.sh]}"), c),
              HasSubstr("intermediate: <step> <value>"));
}

TEST_F(CommandObjectiveTest, TimeoutKillsTheProcessGroup) {
  write_file("slow.sh", "sleep 30 &\necho $! > sleeper.pid\nwait\n");
  auto objective = build("{kind: command, argv: [/bin/sh, slow.sh], timeout_s: 1}");
  FakeTrial trial(params());
  EXPECT_THAT(objective_error(*objective, trial), HasSubstr("timed out after 1 s"));
  pid_t sleeper = read_pid("sleeper.pid");
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(process_ended(sleeper));
}

TEST_F(CommandObjectiveTest, PruningKillsTheChild) {
  write_file("prune.sh", "sleep 30 &\necho $! > sleeper.pid\necho 'intermediate: 0 5.0'\nwait\necho 'objective: 1'\n");
  auto objective = build("{kind: command, argv: [/bin/sh, prune.sh]}");
  FakeTrial trial(params());
  trial.prune_after_reports = 1;
  EXPECT_THROW(objective->evaluate(trial), TrialPruned);
  EXPECT_EQ(trial.reports.size(), 1u);
  pid_t sleeper = read_pid("sleeper.pid");
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(process_ended(sleeper));
}

TEST_F(CommandObjectiveTest, StopRequestInterrupts) {
  write_file("long.sh", "sleep 30 &\necho $! > sleeper.pid\necho 'intermediate: 0 1.0'\nwait\n");
  auto objective = build("{kind: command, argv: [/bin/sh, long.sh]}");
  FakeTrial trial(params());
  trial.stop_after_reports = 1;
  EXPECT_THROW(objective->evaluate(trial), Interrupted);
  EXPECT_TRUE(process_ended(read_pid("sleeper.pid")));

  FakeTrial stopped(params());
  stopped.stop = true;
  EXPECT_THROW(objective->evaluate(stopped), Interrupted);
}

TEST_F(CommandObjectiveTest, BusyStderrDoesNotBlockStdout) {
  // Far more than a pipe buffer on stderr before the result on stdout.
  write_file("chatty.sh",
             "i=0\n"
             "while [ $i -lt 3000 ]; do\n"
             "  echo \"a rather long diagnostic line number $i to fill the pipe quickly\" >&2\n"
             "  echo \"log $i\"\n"
             "  i=$((i+1))\n"
             "done\n"
             "echo 'objective: 7'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, chatty.sh]}")->evaluate(trial), std::vector<double>{7});
}

TEST_F(CommandObjectiveTest, LeftoverBackgroundProcessDoesNotHangTheTrial) {
  // The background sleeper inherits stdout, so the pipe stays open after the script itself has exited.
  write_file("bg.sh", "sleep 30 &\necho $! > sleeper.pid\necho 'objective: 2'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, bg.sh]}")->evaluate(trial), std::vector<double>{2});
  EXPECT_TRUE(process_ended(read_pid("sleeper.pid")));
}

TEST_F(CommandObjectiveTest, ProcessThatLeftTheGroupDiesWithItsTrial) {
  // setsid puts the sleeper out of reach of the process-group kill; it still carries the run's token.
  write_file("escape.sh", escapee("escaped.pid") + "echo 'objective: 3'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, escape.sh]}")->evaluate(trial), std::vector<double>{3});
  pid_t escaped = read_pid("escaped.pid");
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(process_gone(escaped)) << "pid " << escaped << " outlived its trial";
}

TEST_F(CommandObjectiveTest, BackgroundProcessAwayFromThePipesDiesWhenTheTrialSucceeds) {
  // No setsid, but the output is redirected, so nothing holds the trial's pipes when the script exits.
  write_file("quiet.sh", "sleep 300 </dev/null >/dev/null 2>&1 &\necho $! > quiet.pid\necho 'objective: 1'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, quiet.sh]}")->evaluate(trial), std::vector<double>{1});
  pid_t quiet = read_pid("quiet.pid");
  ASSERT_GT(quiet, 0);
  EXPECT_TRUE(process_gone(quiet)) << "pid " << quiet << " outlived its trial";
}

TEST_F(CommandObjectiveTest, TimeoutKillsAnEscapeeThatClearedItsEnvironment) {
  // env -i drops the token; the process tree walked before the group kill still leads from the script to it.
  write_file("hide.sh", escapee("hidden.pid", "env -i PATH=\"$PATH\" ") + "sleep 300\n");
  FakeTrial trial(params());
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, hide.sh], timeout_s: 1}"), trial),
              HasSubstr("timed out"));
  pid_t hidden = read_pid("hidden.pid");
  ASSERT_GT(hidden, 0);
  EXPECT_TRUE(process_gone(hidden)) << "pid " << hidden << " outlived its trial";
}

TEST_F(CommandObjectiveTest, FailedTrialKillsAnEscapee) {
  write_file("crash.sh", escapee("crashed.pid") + "exit 4\n");
  FakeTrial trial(params());
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, crash.sh]}"), trial),
              HasSubstr("exited with code 4"));
  pid_t crashed = read_pid("crashed.pid");
  ASSERT_GT(crashed, 0);
  EXPECT_TRUE(process_gone(crashed)) << "pid " << crashed << " outlived its trial";
}

TEST_F(CommandObjectiveTest, ValueInItsOwnArgumentIsNeverShellCode) {
  const std::string hostile = "x; touch injected";
  // The documented pattern: the script reads the value as "$1" (or from an env: variable) and quotes it.
  auto safe = build(
      "{kind: command, argv: [/bin/sh, -c, 'printf \"attr: arg=%s\\n\" \"$1\"; printf \"attr: env=%s\\n\" "
      "\"$NAME\"; echo objective: 0', sh, '{name}'], env: {NAME: '{name}'}}");
  FakeTrial trial(params(0.5, hostile));
  safe->evaluate(trial);
  EXPECT_EQ(trial.attrs.at("arg"), Json(hostile));
  EXPECT_EQ(trial.attrs.at("env"), Json(hostile));
  EXPECT_FALSE(std::filesystem::exists(tmp("injected")));

  // What the warning in docs/objectives.md is about: pasted into the shell's code, the value runs.
  auto pasted = build("{kind: command, argv: [/bin/sh, -c, 'echo {name}; echo objective: 0']}");
  FakeTrial unsafe(params(0.5, hostile));
  pasted->evaluate(unsafe);
  EXPECT_TRUE(std::filesystem::exists(tmp("injected")));
}

TEST_F(CommandObjectiveTest, LongStderrLinesAreCutInTheStoredTail) {
  write_file("noisy.sh", "head -c 100000 /dev/zero | tr '\\0' e >&2\necho >&2\necho 'short line' >&2\nexit 1\n");
  FakeTrial trial(params());
  std::string msg = objective_error(*build("{kind: command, argv: [/bin/sh, noisy.sh]}"), trial);
  EXPECT_THAT(msg, HasSubstr("(99000 more characters)"));
  std::string tail = trial.attrs.at("stderr_tail").get<std::string>();
  EXPECT_LT(tail.size(), 1100u);
  EXPECT_THAT(tail, HasSubstr("short line"));
}

TEST_F(CommandObjectiveTest, ValueWithANulCharacterFailsTheTrialInsteadOfBeingCut) {
  write_file("ok.sh", "echo 'objective: 0'\n");
  const std::string nul_value("a\0b", 3);
  FakeTrial in_argv(params(0.5, nul_value));
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, ok.sh, '{name}']}"), in_argv),
              HasSubstr("argument 2 'a\\0b' holds a NUL character"));
  FakeTrial in_env(params(0.5, nul_value));
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/bin/sh, ok.sh], env: {N: '{name}'}}"), in_env),
              HasSubstr("env: N 'a\\0b'"));
}

TEST_F(CommandObjectiveTest, HugeTimeoutNeverFiresEarly) {
  write_file("quick.sh", "sleep 0.2\necho 'objective: 5'\n");
  FakeTrial trial(params());
  EXPECT_EQ(build("{kind: command, argv: [/bin/sh, quick.sh], timeout_s: 1.0e300}")->evaluate(trial),
            std::vector<double>{5});
}

TEST_F(CommandObjectiveTest, MissingProgram) {
  FakeTrial a(params()), b(params());
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [nasforge-no-such-program-xyz, a]}"), a),
              HasSubstr("cannot run 'nasforge-no-such-program-xyz': No such file or directory"));
  EXPECT_THAT(objective_error(*build("{kind: command, argv: [/nonexistent/prog]}"), b),
              HasSubstr("cannot run '/nonexistent/prog': No such file or directory"));
}

TEST_F(CommandObjectiveTest, ConfigErrors) {
  std::string msg = config_error("{kind: command, argv: [run, '--x={xx}']}");
  EXPECT_THAT(msg, HasSubstr("unknown placeholder '{xx}'"));
  EXPECT_THAT(msg, HasSubstr("did you mean 'x'"));
  EXPECT_THAT(msg, HasSubstr("{trial}"));
  EXPECT_THAT(config_error("{kind: command, env: {A: '{nme}'}, argv: [run]}"), HasSubstr("'{nme}'"));
  EXPECT_THAT(config_error("{kind: command, argv: [run, '{print}']}"), HasSubstr("write {{print}}"));
  EXPECT_THAT(config_error("{kind: command}"), HasSubstr("is required"));
  EXPECT_THAT(config_error("{kind: command, argv: []}"), HasSubstr("non-empty list"));
  EXPECT_THAT(config_error("{kind: command, argv: run.sh}"), HasSubstr("non-empty list"));
  EXPECT_THAT(config_error("{kind: command, argv: [a], timeout_s: 0}"), HasSubstr("positive"));
  EXPECT_THAT(config_error("{kind: command, argv: [a], result: first_line}"), HasSubstr("'first_line'"));
  EXPECT_THAT(config_error("{kind: command, argv: [a], timeout: 3}"), HasSubstr("did you mean 'timeout_s'"));
}

}  // namespace
}  // namespace nasforge::testing
