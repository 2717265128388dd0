#pragma once
// The fixture of the end-to-end tests: runs the nasforge executable in the test's temporary folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "testing.h"

namespace nasforge {

/// Exit code and captured output of one nasforge invocation.
struct CmdResult {
  int code = -1;
  std::string out;
  std::string err;
};

/// The whole content of a file ("" when missing).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs nasforge as a child process; every test gets its own folder as working directory.
class CliTest : public testing::NasforgeTest {
 protected:
  /// Starts nasforge with `args` in the test folder; stdout/stderr go to files named after `tag`.
  pid_t spawn(const std::vector<std::string>& args, const std::string& tag) {
    std::string out = tmp(tag + ".out"), err = tmp(tag + ".err");
    pid_t pid = fork();
    if (pid == 0) {
      if (chdir(tmp_.c_str()) != 0) _exit(99);
      int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int fi = open("/dev/null", O_RDONLY);
      dup2(fo, 1);
      dup2(fe, 2);
      dup2(fi, 0);
      std::vector<std::string> all = {NASFORGE_BINARY};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& s : all) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(NASFORGE_BINARY, argv.data());
      _exit(98);
    }
    return pid;
  }

  CmdResult wait_for(pid_t pid, const std::string& tag) {
    int status = 0;
    waitpid(pid, &status, 0);
    CmdResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(tmp(tag + ".out"));
    r.err = slurp(tmp(tag + ".err"));
    return r;
  }

  CmdResult nasforge(const std::vector<std::string>& args) {
    static int counter = 0;
    std::string tag = "cmd" + std::to_string(counter++);
    return wait_for(spawn(args, tag), tag);
  }

  Json trials_json(const std::string& db, const std::string& study) {
    CmdResult r = nasforge({"trials", "--storage", "sqlite:///" + db, "--study", study, "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return Json::parse(r.out);
  }

  static int count_state(const Json& trials, const std::string& state) {
    int n = 0;
    for (const auto& t : trials) n += t["state"] == state;
    return n;
  }

  /// The numbers are unique and form 0..n-1.
  static void expect_dense_numbers(const Json& trials) {
    std::set<int> numbers;
    for (const auto& t : trials) numbers.insert(t["number"].get<int>());
    EXPECT_EQ(numbers.size(), trials.size());
    if (!numbers.empty()) {
      EXPECT_EQ(*numbers.rbegin(), static_cast<int>(trials.size()) - 1);
    }
  }

  /// Polls until at least `n` trials of `study` are COMPLETE.
  void wait_for_complete(const std::string& db, const std::string& study, int n) {
    for (int i = 0; i < 300; ++i) {
      CmdResult r = nasforge({"trials", "--storage", "sqlite:///" + db, "--study", study, "--format", "json"});
      if (r.code == 0 && count_state(Json::parse(r.out), "COMPLETE") >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "study " << study << " never reached " << n << " complete trials";
  }
};

}  // namespace nasforge
