#include "search/cli/workers.h"

#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

// Children get their own process group, so a terminal's Ctrl-C reaches only us and we forward it once.
RunSummary run_workers(const std::string& study_name, const std::string& storage_url, int workers,
                       std::optional<double> timeout_s, Progress& progress) {
  std::vector<pid_t> pids;
  const pid_t parent = getpid();
  for (int k = 0; k < workers; ++k) {
    std::vector<std::string> argv_s = {"nasforge", "worker", "--storage", storage_url, "--study", study_name,
                                       "--worker-index", std::to_string(k), "--quiet"};
    if (timeout_s) {
      argv_s.push_back("--timeout");
      argv_s.push_back(format_double(*timeout_s));
    }
    pid_t pid = fork();
    if (pid < 0) throw Error(std::string("cannot start a worker process: ") + std::strerror(errno));
    if (pid == 0) {
      setpgid(0, 0);
#ifdef __linux__
      // A parent killed with SIGKILL cannot stop its workers, so the kernel does: SIGTERM stops a worker as
      // Ctrl-C would. The parent may have died before prctl took effect; then the worker's parent has changed.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
      if (getppid() != parent) _exit(1);
      std::vector<char*> argv;
      for (auto& s : argv_s) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      std::perror("nasforge: cannot start worker");
      _exit(1);
    }
    setpgid(pid, pid);
    pids.push_back(pid);
  }
  RunSummary summary;
  bool forwarded = false;
  std::vector<int> codes;
  std::size_t alive = pids.size();
  std::vector<bool> done(pids.size(), false);
  while (alive > 0) {
    if (stop_requested() && !forwarded) {
      for (std::size_t i = 0; i < pids.size(); ++i) {
        if (!done[i]) kill(pids[i], SIGINT);
      }
      forwarded = true;
    }
    for (std::size_t i = 0; i < pids.size(); ++i) {
      if (done[i]) continue;
      int status = 0;
      pid_t r = waitpid(pids[i], &status, WNOHANG);
      if (r == pids[i]) {
        done[i] = true;
        --alive;
        codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    }
    progress.status_line();
    if (alive > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  summary.elapsed_s = progress.elapsed();
  for (int code : codes) {
    if (code == 130) summary.interrupted = true;
  }
  for (int code : codes) {
    if (code != 0 && code != 130) {
      throw Error(std::to_string(std::count_if(codes.begin(), codes.end(), [](int c) { return c != 0 && c != 130; })) +
                  " of " + std::to_string(codes.size()) + " worker processes failed (exit code " +
                  std::to_string(code) + "); the study is intact, see their messages above");
    }
  }
  return summary;
}

}  // namespace nasforge
