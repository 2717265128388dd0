#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/registry.h"
#include "evaluators/process/subprocess.h"

extern char** environ;

namespace nasforge {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kStderrTailLines = 20;
// Longer stderr lines are cut in the tail: it is stored with the trial, and a line may be up to 1 MiB.
constexpr std::size_t kStderrLineChars = 1000;
constexpr auto kKillGrace = std::chrono::seconds(5);
constexpr auto kPollSlice = std::chrono::milliseconds(50);
// How often the process tree is walked while the program runs (see Leftovers).
constexpr auto kWatchEvery = std::chrono::seconds(1);
// How long the end of a trial keeps killing leftovers that are still forking.
constexpr auto kLeftoverKillFor = std::chrono::seconds(2);
constexpr char kTokenVariable[] = "NASFORGE_TRIAL_TOKEN";

// The processes one run of the command started, so that none outlives its trial, not even one that left the
// process group (setsid, a daemon's double fork), which the group kill in Subprocess cannot reach. Two marks find
// them: each run gets a unique NASFORGE_TRIAL_TOKEN that every descendant inherits in its environment, and
// walks of the process tree (parent links in /proc) record those that start with a cleared environment. nasforge
// does not make itself a child subreaper: orphans of every child (workers, other commands) would then become its
// zombies, and a process-wide reaper would steal exit statuses from their owners. Linux only (it reads /proc);
// elsewhere only the process group is killed.
class Leftovers {
 public:
  Leftovers() {
    static std::atomic<unsigned> runs{0};
    std::random_device random;
    token_ = std::to_string(::getpid()) + "." + std::to_string(runs++) + "." + std::to_string(random()) +
             std::to_string(random());
  }
  ~Leftovers() { kill_all(); }
  Leftovers(const Leftovers&) = delete;
  Leftovers& operator=(const Leftovers&) = delete;

  const std::string& token() const { return token_; }

  // Records `root` and every process below it now; call while root is alive and not yet reaped.
  void watch(pid_t root) {
#ifdef __linux__
    std::vector<Proc> procs = processes();
    for (const Proc& p : procs) {
      if (p.pid == root) known_[p.pid] = p.start;
    }
    add_descendants(procs);
#else
    (void)root;
#endif
  }

  // Kills every recorded or token-carrying process that is still alive and reaps those that are nasforge's
  // children (orphans re-parented to it when it is pid 1 or someone made it a subreaper).
  void kill_all() noexcept {
#ifdef __linux__
    try {
      const pid_t self = ::getpid();
      const std::string needle = std::string(kTokenVariable) + "=" + token_;
      const auto until = std::chrono::steady_clock::now() + kLeftoverKillFor;
      for (;;) {
        std::vector<Proc> procs = processes();
        for (const Proc& p : procs) {
          if (p.pid != self && !known_.count(p.pid) && carries(p.pid, needle)) known_[p.pid] = p.start;
        }
        add_descendants(procs);
        bool alive = false;
        for (const Proc& p : procs) {
          auto it = known_.find(p.pid);
          if (it == known_.end() || it->second != p.start) continue;
          if (p.state != 'Z' && p.state != 'X') {
            ::kill(p.pid, SIGKILL);
            alive = true;
          } else if (p.ppid == self) {
            ::waitpid(p.pid, nullptr, WNOHANG);
          }
        }
        if (!alive || std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    } catch (...) {
      // Out of memory while reading /proc: the process group has been killed already, which is all that is left.
    }
#endif
  }

 private:
#ifdef __linux__
  struct Proc {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = '?';
    unsigned long long start = 0;  // clock ticks after boot: tells a reused pid from the process recorded
  };

  static std::vector<Proc> processes() {
    std::vector<Proc> out;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        continue;
      }
      std::ifstream in("/proc/" + name + "/stat");
      std::string text;
      if (!std::getline(in, text)) continue;  // gone meanwhile
      // The command name in parentheses may itself hold spaces and parentheses; the fields follow the last ')'.
      std::size_t close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(text.substr(close + 1));
      Proc p;
      p.pid = static_cast<pid_t>(std::stol(name));
      std::string skip;
      fields >> p.state >> p.ppid;
      for (int field = 5; field < 22 && fields; ++field) fields >> skip;  // pgrp .. itrealvalue
      if (!(fields >> p.start)) continue;
      out.push_back(p);
    }
    return out;
  }

  // Whether the process's environment (as it was at exec) holds `needle` as a whole entry.
  static bool carries(pid_t pid, const std::string& needle) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    if (!in) return false;  // another user's process: not started by this trial's command
    std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t at = env.find(needle); at != std::string::npos; at = env.find(needle, at + 1)) {
      std::size_t end = at + needle.size();
      if ((at == 0 || env[at - 1] == '\0') && (end == env.size() || env[end] == '\0')) return true;
    }
    return false;
  }

  // Adds, until nothing changes, every process whose parent is a recorded process that is still the same one.
  void add_descendants(const std::vector<Proc>& procs) {
    std::map<pid_t, unsigned long long> start_of;
    for (const Proc& p : procs) start_of[p.pid] = p.start;
    auto live = [&](pid_t pid) {
      auto k = known_.find(pid);
      auto s = start_of.find(pid);
      return k != known_.end() && s != start_of.end() && k->second == s->second;
    };
    for (bool grew = true; grew;) {
      grew = false;
      for (const Proc& p : procs) {
        if (!known_.count(p.pid) && live(p.ppid)) {
          known_[p.pid] = p.start;
          grew = true;
        }
      }
    }
  }

  std::map<pid_t, unsigned long long> known_;  // pid -> start time
#endif
  std::string token_;
};

// A string with {placeholders}, split once at config time so that evaluation only concatenates.
struct Template {
  enum class Kind { kLiteral, kParam, kTrialNumber, kTrialSeed };
  struct Piece {
    Kind kind = Kind::kLiteral;
    std::string text;  // literal text or parameter name
  };
  std::vector<Piece> pieces;
};

bool placeholder_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// `{name}` (letters, digits, _ - .) is a placeholder and must be known; `{{` and `}}` are literal braces. Any
// other brace, and shell-style `${VAR}`, is kept as written, so awk programs and JSON need no escaping.
Template parse_template(const ConfigNode& node, const SearchSpace& space) {
  // Space parameters shadow the built-ins of the same name.
  std::vector<std::string> names = space.names();
  for (const char* builtin : {"trial", "seed"}) {
    if (!space.find(builtin)) names.emplace_back(builtin);
  }
  std::string text = node.as_string();
  Template t;
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal.push_back(c);
      ++i;
      continue;
    }
    std::size_t close = c == '{' ? text.find('}', i + 1) : std::string::npos;
    bool shell = i > 0 && text[i - 1] == '$';
    std::string name = close == std::string::npos ? "" : text.substr(i + 1, close - i - 1);
    if (name.empty() || shell || !std::all_of(name.begin(), name.end(), placeholder_char)) {
      literal.push_back(c);
      continue;
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      node.fail("unknown placeholder '{" + name + "}' in '" + text + "'" + did_you_mean(name, names) +
                "; available: {" + join(names, "}, {") + "} (write {{" + name + "}} for literal braces)");
    }
    if (!literal.empty()) t.pieces.push_back({Template::Kind::kLiteral, std::move(literal)});
    literal.clear();
    Template::Kind kind = space.find(name)  ? Template::Kind::kParam
                          : name == "trial" ? Template::Kind::kTrialNumber
                                            : Template::Kind::kTrialSeed;
    t.pieces.push_back({kind, name});
    i = close;
  }
  if (!literal.empty()) t.pieces.push_back({Template::Kind::kLiteral, std::move(literal)});
  return t;
}

struct CommandOptions {
  std::vector<Template> argv;
  std::vector<std::pair<std::string, Template>> env;
  std::string cwd;
  std::optional<double> timeout_s;
  bool last_line = false;
  std::size_t n_objectives = 1;
};

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Splits on commas and/or whitespace.
std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

class CommandObjective : public Objective {
 public:
  explicit CommandObjective(CommandOptions options) : o_(std::move(options)) {}

  std::vector<double> evaluate(TrialContext& trial) override {
    if (trial.stop_requested()) throw Interrupted("trial " + std::to_string(trial.number()) + " interrupted");
    SpawnOptions spawn;
    for (const auto& t : o_.argv) spawn.argv.push_back(substitute(t, trial));
    spawn.cwd = o_.cwd;
    for (std::size_t i = 0; i < spawn.argv.size(); ++i) check_no_nul("argument " + std::to_string(i), spawn.argv[i]);
    for (const auto& [name, t] : o_.env) check_no_nul("env: " + name, substitute(t, trial));
    // Declared before the process, so that its destructor, which kills what is left, runs after the group kill.
    Leftovers leftovers;
    spawn.env = environment(trial, leftovers.token());
    Run run;
    run.program = spawn.argv[0];
    Subprocess process(spawn);

    auto on_stdout = [&](const std::string& raw) { handle_stdout(trial, run, raw); };
    auto on_stderr = [&](const std::string& line) {
      run.stderr_tail.push_back(line.size() <= kStderrLineChars
                                    ? line
                                    : line.substr(0, kStderrLineChars) + " ... (" +
                                          std::to_string(line.size() - kStderrLineChars) + " more characters)");
      if (run.stderr_tail.size() > kStderrTailLines) run.stderr_tail.pop_front();
    };
    auto started = std::chrono::steady_clock::now();
    auto watched = started;
    bool timed_out = false;
    // Before the group is killed, while the parent links still lead from the program to what it started.
    auto terminate = [&] {
      if (!process.status()) leftovers.watch(process.pid());
      process.terminate(kKillGrace);
    };
    try {
      while (process.pump(kPollSlice, on_stdout, on_stderr)) {
        if (trial.stop_requested()) throw Interrupted("trial " + std::to_string(trial.number()) + " interrupted");
        if (!process.status() && std::chrono::steady_clock::now() - watched >= kWatchEvery) {
          leftovers.watch(process.pid());
          watched = std::chrono::steady_clock::now();
        }
        if (o_.timeout_s &&
            std::chrono::steady_clock::now() - started >= std::chrono::duration<double>(*o_.timeout_s)) {
          timed_out = true;
          break;
        }
      }
    } catch (const ObjectiveError& e) {
      terminate();
      fail(trial, run, e.what(), std::nullopt);
    } catch (...) {
      terminate();
      throw;
    }
    if (timed_out) {
      terminate();
      fail(trial, run, "timed out after " + format_double(*o_.timeout_s) + " s", std::nullopt);
    }
    const ExitStatus& status = *process.status();
    if (!status.success()) fail(trial, run, status.describe(), std::nullopt);

    std::string result;
    if (o_.last_line) {
      if (!run.last_line)
        fail(trial, run, "printed nothing on stdout, but result: last_line expects the value there", status);
      result = starts_with(*run.last_line, "objective:") ? trim(run.last_line->substr(10)) : *run.last_line;
    } else {
      if (!run.objective) {
        fail(trial, run,
             "printed no 'objective: <value>' line on stdout (see the output protocol in "
             "docs/objectives.md)",
             status);
      }
      result = *run.objective;
    }
    std::vector<std::string> parts = split_values(result);
    std::vector<double> values;
    for (const auto& p : parts) {
      auto v = parse_double(p);
      if (!v) fail(trial, run, "printed '" + result + "', but '" + p + "' is not a number", status);
      values.push_back(*v);
    }
    if (values.size() != o_.n_objectives) {
      fail(trial, run,
           "printed " + std::to_string(values.size()) + " value(s) in '" + result + "' but the study has " +
               std::to_string(o_.n_objectives) + " direction(s)",
           status);
    }
    return values;
  }

 private:
  struct Run {
    std::string program;                   // argv[0] after substitution, for messages
    std::optional<std::string> objective;  // text after the last "objective:"
    std::optional<std::string> last_line;  // last non-empty line that is not intermediate:/attr:
    std::deque<std::string> stderr_tail;
  };

  std::string substitute(const Template& t, const TrialContext& trial) const {
    std::string out;
    for (const auto& piece : t.pieces) {
      switch (piece.kind) {
        case Template::Kind::kLiteral:
          out += piece.text;
          break;
        case Template::Kind::kParam: {
          // An inactive conditional parameter becomes empty text.
          auto it = trial.params().find(piece.text);
          if (it != trial.params().end() && !it->second.is_null()) out += it->second.to_string();
          break;
        }
        case Template::Kind::kTrialNumber:
          out += std::to_string(trial.number());
          break;
        case Template::Kind::kTrialSeed:
          out += std::to_string(trial.seed());
          break;
      }
    }
    return out;
  }

  // A value with a NUL (a YAML "\0" in a categorical choice) would reach the program cut short at it, silently.
  static void check_no_nul(const std::string& what, const std::string& value) {
    std::size_t nul = value.find('\0');
    if (nul == std::string::npos) return;
    throw ObjectiveError(what + " '" + value.substr(0, nul) + "\\0" + value.substr(nul + 1) +
                         "' holds a NUL character, which no program argument or environment variable can carry");
  }

  std::vector<std::string> environment(const TrialContext& trial, const std::string& token) const {
    std::map<std::string, std::string> vars;
    std::vector<std::string> order;
    auto set = [&](const std::string& name, const std::string& value) {
      if (!vars.count(name)) order.push_back(name);
      vars[name] = value;
    };
    for (char** e = environ; e && *e; ++e) {
      std::string entry = *e;
      std::size_t eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      set(entry.substr(0, eq), entry.substr(eq + 1));
    }
    Json params = Json::object();
    for (const auto& [name, value] : trial.params()) params[name] = value.to_json();
    set("NASFORGE_TRIAL_NUMBER", std::to_string(trial.number()));
    set("NASFORGE_TRIAL_SEED", std::to_string(trial.seed()));
    set("NASFORGE_PARAMS_JSON", params.dump());
    for (const auto& [name, t] : o_.env) set(name, substitute(t, trial));
    set(kTokenVariable, token);  // last: an env: entry of that name must not hide the run's processes
    std::vector<std::string> out;
    for (const auto& name : order) out.push_back(name + "=" + vars[name]);
    return out;
  }

  void handle_stdout(TrialContext& trial, Run& run, const std::string& raw) {
    std::string line = trim(raw);
    if (line.empty()) return;
    if (starts_with(line, "intermediate:")) {
      std::vector<std::string> parts = split_values(line.substr(13));
      std::optional<long long> step = parts.size() == 2 ? parse_int(parts[0]) : std::nullopt;
      std::optional<double> value = parts.size() == 2 ? parse_double(parts[1]) : std::nullopt;
      if (!step || !value || *step < 0 || *step > INT_MAX) {
        throw ObjectiveError("printed '" + line +
                             "'; expected 'intermediate: <step> <value>' with an integer step >= 0");
      }
      trial.report(*value, static_cast<int>(*step));
      if (trial.should_prune()) {
        throw TrialPruned("trial " + std::to_string(trial.number()) + " pruned at step " + std::to_string(*step));
      }
      return;
    }
    if (starts_with(line, "attr:")) {
      std::string rest = line.substr(5);
      std::size_t eq = rest.find('=');
      std::string key = eq == std::string::npos ? "" : trim(rest.substr(0, eq));
      if (key.empty()) throw ObjectiveError("printed '" + line + "'; expected 'attr: <key>=<value>'");
      std::string text = trim(rest.substr(eq + 1));
      Json value = Json::parse(text, nullptr, false);
      trial.set_user_attr(key, value.is_discarded() ? Json(text) : value);
      return;
    }
    run.last_line = line;
    if (starts_with(line, "objective:")) run.objective = trim(line.substr(10));
  }

  [[noreturn]] void fail(TrialContext& trial, const Run& run, const std::string& what,
                         const std::optional<ExitStatus>& status) const {
    std::vector<std::string> tail(run.stderr_tail.begin(), run.stderr_tail.end());
    trial.set_user_attr("stderr_tail", join(tail, "\n"));
    std::string message = "command '" + run.program + "' " + what;
    if (status) message += " (it " + status->describe() + ")";
    if (tail.empty()) {
      message += "; stderr was empty";
    } else {
      message += "; last lines of stderr:\n  " + join(tail, "\n  ");
    }
    throw ObjectiveError(message);
  }

  CommandOptions o_;
};

}  // namespace

std::unique_ptr<Objective> make_command_objective(SectionReader& options, const SearchSpace& space,
                                                  std::size_t n_objectives, const std::string& base_dir) {
  CommandOptions o;
  o.n_objectives = n_objectives;
  ConfigNode argv =
      options.child("argv", "list of strings", "program and arguments; {param}, {trial} and {seed} are substituted");
  if (!argv.defined() || argv.is_null()) {
    argv.fail("is required: the program to run and its arguments, e.g. [python3, train.py, --lr={lr}]");
  }
  if (!argv.is_sequence() || argv.elements().empty()) {
    argv.fail("expected a non-empty list such as [python3, train.py, --lr={lr}], got " + argv.describe());
  }
  for (const auto& a : argv.elements()) o.argv.push_back(parse_template(a, space));
  if (o.argv[0].pieces.empty()) argv.elements()[0].fail("the program name is empty");

  ConfigNode env = options.child("env", "mapping", "extra environment variables; values are substituted like argv");
  if (env.defined() && !env.is_null()) {
    if (!env.is_map()) env.fail("expected a mapping of NAME: value, got " + env.describe());
    for (const auto& [name, value] : env.entries()) {
      if (name.empty() || name.find('=') != std::string::npos) {
        value.fail("'" + name + "' is not a valid environment variable name");
      }
      o.env.emplace_back(name, parse_template(value, space));
    }
  }

  std::optional<std::string> cwd =
      options.optional_text("cwd", "working folder of the program (relative to the study file; default its folder)");
  fs::path dir = cwd ? fs::path(*cwd) : fs::path(base_dir);
  if (dir.is_relative() && cwd) dir = fs::path(base_dir) / dir;
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec)) {
    if (cwd) options.node().get("cwd").fail("'" + *cwd + "' is not a folder (looked at " + dir.string() + ")");
    options.node().fail("the study folder '" + dir.string() + "' does not exist; set cwd:");
  }
  o.cwd = dir.string();

  o.timeout_s = options.optional_number("timeout_s", "seconds before the program is killed and the trial fails");
  options.require(!o.timeout_s || (std::isfinite(*o.timeout_s) && *o.timeout_s > 0), "timeout_s",
                  "must be a positive number of seconds, got " + format_double(o.timeout_s.value_or(0)));
  std::string result = options.text("result", "protocol",
                                    "protocol: read 'objective: <value>' lines; last_line: the last stdout line is "
                                    "the value",
                                    {"protocol", "last_line"});
  o.last_line = result == "last_line";
  return std::make_unique<CommandObjective>(std::move(o));
}

}  // namespace nasforge
