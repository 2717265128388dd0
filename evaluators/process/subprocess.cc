#include "evaluators/process/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/error.h"

namespace nasforge {

namespace {

// A line longer than this is handed over in pieces, so a program printing without newlines cannot exhaust memory.
constexpr std::size_t kMaxLine = 1 << 20;
// After the child exits, how long grandchildren may keep its pipes open before the group is killed.
constexpr auto kOrphanGrace = std::chrono::seconds(1);

// Owns a posix_spawn attribute object or file-action list for the scope of the call.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return code < 0 ? "ended with an unknown exit status" : "exited with code " + std::to_string(code);
  const char* name = strsignal(signal);
  return "was killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
}

Subprocess::Subprocess(const SpawnOptions& options) {
  if (options.argv.empty()) throw ObjectiveError("cannot run a command with no program name");
  const std::string& program = options.argv[0];
  if (!options.cwd.empty()) {
    struct stat st {};
    if (::stat(options.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw ObjectiveError("cannot run '" + program + "': working folder '" + options.cwd + "' is not a folder");
    }
  }
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw ObjectiveError("cannot run '" + program + "': pipe: " + std::strerror(errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    throw ObjectiveError("cannot run '" + program + "': pipe: " + std::strerror(e));
  }

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err[1], 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());
  // Its own process group, so a timeout can kill the whole tree and a terminal Ctrl-C reaches only nasforge,
  // which then stops the child itself. Signal mask and handlers are reset: the parent may block signals.
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&setup.attr, &empty);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);

  std::vector<char*> argv, envp;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw ObjectiveError("cannot run '" + program + "': " + std::strerror(rc));
  }
  pid_ = pid;
  out_.fd = out[0];
  err_.fd = err[0];
  for (int fd : {out_.fd, err_.fd}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) {
    ::killpg(pid_, SIGKILL);
    reap(true);
  }
  close_streams();
}

bool Subprocess::reap(bool block) {
  if (status_) return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  ExitStatus status;
  if (r < 0) {
    // ECHILD: someone else reaped it (SIGCHLD ignored); the outcome is unknown.
    status.exited = true;
    status.code = -1;
  } else if (WIFEXITED(st)) {
    status.exited = true;
    status.code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    status.signal = WTERMSIG(st);
  } else {
    return false;  // stopped or continued: still alive
  }
  status_ = status;
  exited_at_ = std::chrono::steady_clock::now();
  return true;
}

void Subprocess::read_stream(Stream& s, const LineHandler& handler) {
  char buf[65536];
  while (s.fd >= 0) {
    ssize_t n = ::read(s.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      flush_stream(s, handler);
      return;
    }
    if (n == 0) {
      flush_stream(s, handler);
      return;
    }
    s.partial.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    try {
      std::size_t nl;
      while ((nl = s.partial.find('\n', start)) != std::string::npos) {
        std::size_t end = nl > start && s.partial[nl - 1] == '\r' ? nl - 1 : nl;
        std::string line = s.partial.substr(start, end - start);
        start = nl + 1;
        handler(line);
      }
    } catch (...) {
      s.partial.erase(0, start);
      throw;
    }
    s.partial.erase(0, start);
    if (s.partial.size() > kMaxLine) {
      std::string line = std::move(s.partial);
      s.partial.clear();
      handler(line);
    }
  }
}

void Subprocess::flush_stream(Stream& s, const LineHandler& handler) {
  close_fd(s.fd);
  if (s.partial.empty()) return;
  std::string line = std::move(s.partial);
  s.partial.clear();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  handler(line);
}

void Subprocess::close_streams() {
  close_fd(out_.fd);
  close_fd(err_.fd);
}

bool Subprocess::pump(std::chrono::milliseconds wait, const LineHandler& on_stdout, const LineHandler& on_stderr) {
  pollfd fds[2];
  Stream* streams[2];
  nfds_t n = 0;
  for (Stream* s : {&out_, &err_}) {
    if (s->fd < 0) continue;
    fds[n] = pollfd{s->fd, POLLIN, 0};
    streams[n++] = s;
  }
  if (n == 0 && status_) return false;
  // Exit is noticed by polling waitpid, so never sleep long while the child may have gone.
  auto timeout = wait.count();
  if (n == 0 || status_) timeout = std::min<decltype(timeout)>(timeout, 10);
  int ready = ::poll(n ? fds : nullptr, n, static_cast<int>(timeout));
  if (ready > 0) {
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents) read_stream(*streams[i], streams[i] == &out_ ? on_stdout : on_stderr);
    }
  }
  reap(false);
  if (status_ && (out_.fd >= 0 || err_.fd >= 0) && std::chrono::steady_clock::now() - *exited_at_ > kOrphanGrace) {
    // The child is gone but something it started still holds the pipes: end the group and keep what was written.
    ::killpg(pid_, SIGKILL);
    read_stream(out_, on_stdout);
    read_stream(err_, on_stderr);
    flush_stream(out_, on_stdout);
    flush_stream(err_, on_stderr);
  }
  return !(status_ && out_.fd < 0 && err_.fd < 0);
}

void Subprocess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  if (!status_) {
    ::killpg(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + grace;
    while (!reap(false) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!status_) {
      ::killpg(pid_, SIGKILL);
      reap(true);
    }
  }
  // Members of the group that outlived the leader (e.g. ignoring SIGTERM) must not outlive the trial.
  ::killpg(pid_, SIGKILL);
  close_streams();
}

}  // namespace nasforge
