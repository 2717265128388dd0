#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nasforge {

/// What to start: a program (searched on PATH), its arguments, its environment and its working folder.
struct SpawnOptions {
  std::vector<std::string> argv;  ///< argv[0] is the program; must not be empty.
  std::vector<std::string> env;   ///< The complete environment, as "NAME=value" entries.
  std::string cwd;                ///< Working folder; empty = the caller's.
};

/// How a child process ended.
struct ExitStatus {
  bool exited = false;  ///< True for a normal exit, false when a signal killed it.
  int code = 0;         ///< Exit code when exited.
  int signal = 0;       ///< Signal number otherwise.
  /// True for a normal exit with code 0.
  bool success() const { return exited && code == 0; }
  /// "exited with code 3" or "was killed by signal 9 (Killed)".
  std::string describe() const;
};

/// Called with each complete output line (without its line end).
using LineHandler = std::function<void(const std::string& line)>;

/// A child process in its own process group whose stdout and stderr are read line by line without either pipe
/// blocking the other; stdin is /dev/null. The destructor kills the whole group if it is still running.
class Subprocess {
 public:
  /// Starts the program; throws ObjectiveError "cannot run 'prog': <reason>" when it cannot be executed.
  explicit Subprocess(const SpawnOptions& options);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  /// Waits up to `wait` for output or exit and hands every complete line to the handlers (a last unterminated
  /// line is handed over at end of output). Returns false once the child has exited and its output is drained.
  /// Handlers may throw; the process then keeps running until terminate() or the destructor.
  bool pump(std::chrono::milliseconds wait, const LineHandler& on_stdout, const LineHandler& on_stderr);

  /// Sends SIGTERM to the process group, SIGKILL after `grace` if the child is still alive, and reaps it.
  void terminate(std::chrono::milliseconds grace);

  /// The exit status once the child has been reaped.
  const std::optional<ExitStatus>& status() const { return status_; }
  /// The child's process id (also its process group id).
  pid_t pid() const { return pid_; }

 private:
  struct Stream {
    int fd = -1;
    std::string partial;
    bool truncated = false;
  };

  bool reap(bool block);
  void read_stream(Stream& s, const LineHandler& handler);
  void flush_stream(Stream& s, const LineHandler& handler);
  void close_streams();

  pid_t pid_ = -1;
  Stream out_;
  Stream err_;
  std::optional<ExitStatus> status_;
  std::optional<std::chrono::steady_clock::time_point> exited_at_;
};

}  // namespace nasforge
