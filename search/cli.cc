#include "search/cli.h"

#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/export/model_bundle.h"
#include "evaluators/objective.h"
#include "search/report.h"
#include "search/runner.h"
#include "storage/sqlite_storage.h"
#include "storage/storage_copy.h"
#include "search/study.h"
#include "search/study_config.h"
#include "search/trial_filter.h"
#include "spaces/architecture.h"
#include "strategies/pruner.h"
#include "strategies/sampler.h"

namespace nasforge {

namespace {

constexpr const char* kDescription =
    "nasforge: hyperparameter and neural architecture search.\n"
    "Describe a study in YAML (space, strategy, pruner, objective), run it, resume it after a stop or crash,\n"
    "and query the results. Every trial is stored (SQLite by default). Exit codes: 0 ok, 2 bad input or usage,\n"
    "1 runtime failure, 130 interrupted.";

/// Values of the options shared by several commands.
struct CommonArgs {
  std::string storage;
  std::string study;
  std::string format = "table";
  std::optional<int> n_trials;
  std::optional<double> timeout_s;
  int workers = 1;
  std::optional<int> worker_index;
  bool quiet = false;
  std::string device = "auto";
};

/// Everything needed to run trials of a stored study in this process.
struct LoadedStudy {
  StudyConfig config;
  std::unique_ptr<Study> study;
  std::unique_ptr<Objective> objective;
  std::optional<int> n_trials;
};

std::uint64_t stored_seed(const StudyInfo& info) {
  auto it = info.system_attrs.find(study_attr::kSeed);
  return it == info.system_attrs.end() ? 0 : it->second.get<std::uint64_t>();
}

StudyConfig stored_config(const StudyInfo& info) {
  auto it = info.system_attrs.find(study_attr::kConfig);
  if (it == info.system_attrs.end()) {
    throw ValueError("study '" + info.name + "' has no stored configuration (it was not created from a study file), "
                     "so it cannot be run or resumed here; drive it with 'nasforge ask' / 'nasforge tell'");
  }
  auto path = info.system_attrs.count(study_attr::kConfigPath)
                  ? info.system_attrs.at(study_attr::kConfigPath).get<std::string>()
                  : std::string("<stored config>");
  auto base = info.system_attrs.count(study_attr::kBaseDir)
                  ? info.system_attrs.at(study_attr::kBaseDir).get<std::string>()
                  : std::string(".");
  StudyConfig cfg = parse_study_config(it->second.get<std::string>(), path, base);
  cfg.path = path;
  return cfg;
}

/// Rebuilds space, sampler, pruner and objective of a stored study for worker `worker_index`.
LoadedStudy open_study(const std::shared_ptr<Storage>& storage, const std::string& name, int worker_index,
                       bool need_objective) {
  LoadedStudy ls;
  ls.study = std::make_unique<Study>(Study::load(storage, name));
  check_copy_finished(*storage, name);
  StudyInfo info = storage->get_study(ls.study->id());
  ls.config = stored_config(info);
  std::uint64_t seed = stored_seed(info);
  // A fresh stream per worker and per resumption, so a resumed random search does not replay its first run;
  // a fresh single-worker run still depends on the seed alone.
  std::uint64_t existing = static_cast<std::uint64_t>(storage->count_trials(ls.study->id()).slots());
  std::uint64_t sampler_seed = seed;
  if (worker_index > 0) sampler_seed = mix_seed(sampler_seed, static_cast<std::uint64_t>(worker_index));
  if (existing > 0) sampler_seed = mix_seed(sampler_seed, existing + 0x5eed);
  ls.study->set_space(ls.config.space);
  ls.study->set_sampler(make_sampler(ls.config.strategy(), ls.config.space, sampler_seed,
                                     StrategyEnv{info.directions.size(), ls.config.objective(), ls.config.base_dir}));
  ls.study->set_pruner(make_pruner(ls.config.pruner()));
  StudyOptions options;
  options.with_seed(seed)
      .with_worker(worker_index)
      .with_max_retry(ls.config.max_retry)
      .with_heartbeat(ls.config.heartbeat_interval_s, ls.config.grace_period_s);
  std::string artifacts = storage->study_artifact_dir(name);
  if (!artifacts.empty()) options.with_artifact_root(artifacts);
  options.stop_flag = &install_stop_handlers();
  ls.study->set_options(options);
  if (need_objective) {
    if (!ls.config.has_objective()) {
      throw ValueError("study '" + name + "' has no objective: section, so it can only be driven with "
                       "'nasforge ask' / 'nasforge tell'");
    }
    ls.objective = make_objective(ls.config.objective(), ls.config.space, info.directions.size(), ls.config.base_dir);
  }
  auto nt = info.system_attrs.find(study_attr::kNTrials);
  if (nt != info.system_attrs.end() && nt->second.is_number_integer()) ls.n_trials = nt->second.get<int>();
  return ls;
}

std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.2fs", s);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

/// The trial's parameters without those of the study's architecture, and its genotype ("" when it has none).
std::pair<ParamMap, std::string> split_architecture(const Study& study, const FrozenTrial& t) {
  ParamMap plain = t.params;
  const auto& arch = study.space().architecture();
  auto g = t.user_attrs.find("genotype");
  if (!arch || g == t.user_attrs.end()) return {plain, ""};
  for (const auto& spec : arch->parameters()) plain.erase(spec.name);
  return {plain, g->second.is_string() ? g->second.get<std::string>() : g->second.dump()};
}

/// The architecture section of a stored study file, or nullptr. Read on its own (not the whole file) so that
/// listing commands neither need the objective's data nor load libtorch.
std::shared_ptr<const ArchitectureSpace> stored_architecture(Storage& storage, const Study& study) {
  StudyInfo info = storage.get_study(study.id());
  auto it = info.system_attrs.find(study_attr::kConfig);
  if (it == info.system_attrs.end()) return nullptr;
  try {
    ConfigNode section = ConfigNode::parse_string(it->second.get<std::string>(), "<stored config>").get("architecture");
    if (!section.defined() || section.is_null()) return nullptr;
    return make_architecture(section);
  } catch (const Error&) {
    return nullptr;  // only affects which columns a table shows
  }
}

/// Table columns of a study: an architecture's parameters give way to its genotype and cost metrics.
TableColumns table_columns(Storage& storage, const Study& study, const std::vector<std::string>& extra_attrs = {}) {
  TableColumns c;
  if (auto arch = stored_architecture(storage, study)) {
    for (const auto& spec : arch->parameters()) c.hide_params.insert(spec.name);
    // Compression variants add val_accuracy_<v> and size_bytes_<v>: fp32 and compressed side by side.
    c.attrs = {"genotype", "val_accuracy", "val_accuracy_*", "params", "macs", "latency_ms", "size_bytes",
               "size_bytes_*"};
  }
  for (const auto& a : extra_attrs) {
    if (std::find(c.attrs.begin(), c.attrs.end(), a) == c.attrs.end()) c.attrs.push_back(a);
  }
  return c;
}

/// A trial's parameters for a progress line: an architecture's many parameters are summarised by its genotype.
std::string describe_params(const Study& study, const FrozenTrial& t, bool brief) {
  auto [plain, genotype] = split_architecture(study, t);
  if (genotype.empty()) return format_params(plain, brief);
  return plain.empty() ? "genotype=" + genotype : format_params(plain, brief) + ", genotype=" + genotype;
}

/// Progress on stderr: one rewritten line on a terminal, one line per finished trial otherwise.
class Progress {
 public:
  Progress(Study& study, std::optional<int> n_trials, bool quiet)
      : study_(study), n_trials_(n_trials), quiet_(quiet), tty_(isatty(fileno(stderr)) != 0),
        start_(std::chrono::steady_clock::now()) {}

  void trial_finished(const FrozenTrial& t) {
    if (quiet_) return;
    if (tty_) {
      status_line();
      return;
    }
    std::string what = std::string("trial ") + std::to_string(t.number) + " " + to_string(t.state);
    if (t.state == TrialState::kComplete) what += " value " + format_values(t.values, true);
    if (t.state == TrialState::kPruned && t.last_step()) what += " at step " + std::to_string(*t.last_step());
    if (t.state == TrialState::kFail) {
      auto r = t.system_attrs.find(attr::kFailReason);
      if (r != t.system_attrs.end()) what += " (" + first_line(r->second.get<std::string>()) + ")";
    }
    std::cerr << what << " [" << describe_params(study_, t, true) << "] | " << summary_text() << std::endl;
    last_line_s_ = elapsed();
  }

  /// A running trial reported `value` at `step`: shown at once on a terminal; otherwise as its own line when the
  /// last line is a few seconds old, so that long trials show life without flooding logs.
  void trial_reported(int number, int step, double value) {
    if (quiet_) return;
    std::string what = "trial " + std::to_string(number) + " step " + std::to_string(step) + ": " +
                       format_values({value}, true);
    if (tty_) {
      std::cerr << "\r\033[K" << summary_text() << " | " << what << std::flush;
      return;
    }
    double now = elapsed();
    if (now - last_line_s_ < kReportEveryS) return;
    last_line_s_ = now;
    std::cerr << what << " | " << fmt_seconds(now) << std::endl;
  }

  // Messages are rare (one per compression variant), so unlike reports they are never throttled.
  void trial_progress(int number, const std::string& message) {
    message_line("trial " + std::to_string(number) + " " + message);
  }

  /// A strategy's own long work between trials (e.g. a darts supernet epoch).
  void strategy_progress(const std::string& message) { message_line("strategy: " + message); }

  void message_line(const std::string& what) {
    if (quiet_) return;
    if (tty_) {
      std::cerr << "\r\033[K" << summary_text() << " | " << what << std::flush;
      return;
    }
    std::cerr << what << " | " << fmt_seconds(elapsed()) << std::endl;
  }

  void status_line() {
    if (quiet_ || !tty_) return;
    std::cerr << "\r\033[K" << summary_text() << std::flush;
  }

  void finish() {
    if (!quiet_ && tty_) std::cerr << "\r\033[K" << summary_text() << std::endl;
  }

  std::string summary_text() {
    TrialCounts c = study_.counts();
    std::string s = std::to_string(c.finished());
    if (n_trials_) s += "/" + std::to_string(*n_trials_);
    s += " finished";
    if (c.running) s += ", " + std::to_string(c.running) + " running";
    if (c.pruned) s += ", " + std::to_string(c.pruned) + " pruned";
    if (c.failed) s += ", " + std::to_string(c.failed) + " failed";
    s += " | " + fmt_seconds(elapsed());
    auto best = study_.best_trials();
    if (study_.directions().size() == 1 && !best.empty()) {
      s += " | best " + format_values(best[0].values, true) + " (trial " + std::to_string(best[0].number) + ")";
    } else if (!best.empty()) {
      s += " | Pareto front " + std::to_string(best.size());
    }
    return s;
  }

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  static std::string first_line(const std::string& s) {
    std::string line = s.substr(0, s.find('\n'));
    return line.size() > 160 ? line.substr(0, 157) + "..." : line;
  }

  static constexpr double kReportEveryS = 5;

  Study& study_;
  std::optional<int> n_trials_;
  double last_line_s_ = 0;
  bool quiet_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

void print_result(Study& study, const std::string& storage_url, double elapsed_s) {
  TrialCounts c = study.counts();
  std::cout << "Study '" << study.name() << "' (" << redact_url(storage_url) << "): " << c.finished() << " finished ("
            << c.complete << " complete, " << c.pruned << " pruned, " << c.failed - c.retried << " failed";
  if (c.retried) std::cout << ", " << c.retried << " failed and retried";
  std::cout << ")";
  if (c.running || c.waiting) std::cout << ", " << c.running << " running, " << c.waiting << " waiting";
  std::cout << "; this run took " << fmt_seconds(elapsed_s) << "\n";
  auto best = study.best_trials();
  if (best.empty()) {
    std::cout << "No trial has completed yet.\n";
    return;
  }
  if (study.directions().size() == 1) {
    const FrozenTrial& b = best[0];
    std::cout << "Best trial " << b.number << ": value " << format_values(b.values) << "\n";
    auto [plain, genotype] = split_architecture(study, b);
    if (!genotype.empty()) std::cout << "  genotype = " << genotype << "\n";
    for (const auto& [k, v] : plain) std::cout << "  " << k << " = " << v.to_string() << "\n";
    return;
  }
  std::cout << "Pareto front: " << best.size() << " trial(s)\n";
  for (std::size_t i = 0; i < best.size() && i < 10; ++i) {
    std::cout << "  trial " << best[i].number << ": values " << format_values(best[i].values) << " ["
              << describe_params(study, best[i], false) << "]\n";
  }
  if (best.size() > 10) std::cout << "  ... (nasforge best lists them all)\n";
}

/// Runs trials in this process until the study's target, the timeout or Ctrl-C.
RunSummary run_in_process(LoadedStudy& ls, const CommonArgs& args, Progress* progress) {
  RunOptions ro;
  ro.n_trials = ls.n_trials;
  ro.timeout_s = args.timeout_s;
  if (progress) {
    ro.on_trial_finished = [progress](const FrozenTrial& t) { progress->trial_finished(t); };
    StudyOptions so = ls.study->options();
    so.on_report = [progress](int number, int step, double value) { progress->trial_reported(number, step, value); };
    so.on_progress = [progress](int number, const std::string& m) { progress->trial_progress(number, m); };
    so.on_strategy_progress = [progress](const std::string& m) { progress->strategy_progress(m); };
    ls.study->set_options(so);
  }
  return optimize(*ls.study, *ls.objective, ro);
}

/// Runs `workers` child processes of this executable (`nasforge worker`) and shows their combined progress.
/// Children get their own process group, so a terminal's Ctrl-C reaches only us and we forward it once.
RunSummary run_workers(Study& study, const std::string& storage_url, const CommonArgs& args, Progress& progress) {
  std::vector<pid_t> pids;
  const pid_t parent = getpid();
  for (int k = 0; k < args.workers; ++k) {
    std::vector<std::string> argv_s = {"nasforge", "worker", "--storage", storage_url, "--study", study.name(),
                                       "--worker-index", std::to_string(k), "--quiet"};
    if (args.timeout_s) {
      argv_s.push_back("--timeout");
      argv_s.push_back(format_double(*args.timeout_s));
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

void finish_run(LoadedStudy& ls, const std::string& url, const CommonArgs& args) {
  Progress progress(*ls.study, ls.n_trials, args.quiet);
  RunSummary summary = args.workers > 1 ? run_workers(*ls.study, url, args, progress)
                                        : run_in_process(ls, args, &progress);
  progress.finish();
  if (summary.exhausted && !args.quiet) std::cerr << "The search space is exhausted: every point was tried.\n";
  if (summary.timed_out && !args.quiet) std::cerr << "Stopped after the timeout of " << fmt_seconds(*args.timeout_s) << ".\n";
  print_result(*ls.study, url, summary.elapsed_s);
  if (summary.interrupted) {
    throw Interrupted("stopped by the user; the study is saved. Continue with: nasforge resume --storage " +
                      redact_url(url) + " --study " + ls.study->name());
  }
}

/// Creates the study of a validated file and stores what resume needs: the file, its folder, the seed (drawn and
/// reported when the file has none), the target, then the enqueued parameter sets.
void create_from_config(const std::shared_ptr<Storage>& storage, const StudyConfig& cfg, bool quiet) {
  std::uint64_t seed;
  if (cfg.seed) {
    seed = *cfg.seed;
  } else {
    seed = std::random_device{}() & 0x7fffffffULL;
    if (!quiet) std::cerr << "seed " << seed << " (drawn at random; set study.seed to fix it)\n";
  }
  Study study = Study::create(storage, cfg.name, cfg.directions, /*load_if_exists=*/false,
                              {{study_attr::kConfig, cfg.text},
                               {study_attr::kConfigPath, cfg.path},
                               {study_attr::kBaseDir, cfg.base_dir},
                               {study_attr::kSeed, seed},
                               {study_attr::kNTrials, cfg.n_trials ? Json(*cfg.n_trials) : Json(nullptr)}});
  study.set_space(cfg.space);
  for (const auto& params : cfg.enqueue) study.enqueue(params);
}

/// Opens --storage. Commands that read an existing study pass `must_exist`, so that a mistyped path is an error
/// instead of a new, empty database file; commands that only read pass kReadOnly, so that they write nothing.
std::shared_ptr<Storage> open_storage_arg(const std::string& url, bool must_exist,
                                          StorageAccess access = StorageAccess::kReadWrite) {
  if (url.empty()) throw UsageError("--storage URL is required (e.g. --storage sqlite:///study.db)");
  if (must_exist && url.rfind("sqlite:", 0) == 0) {
    std::string path = sqlite_path_from_url(url);
    if (!std::filesystem::exists(path)) {
      throw NotFoundError("no database at '" + path + "' (from --storage " + url +
                          "); check the path, or create a study there with 'nasforge run STUDY.yaml'");
    }
  }
  return open_storage(url, access);
}

/// Stores a new n_trials target, after the study has been read whole: a damaged database is then found before
/// anything is written to it.
void set_target(Storage& storage, LoadedStudy& ls, std::optional<int> n_trials) {
  if (!n_trials) return;
  storage.set_study_system_attr(ls.study->id(), study_attr::kNTrials, *n_trials);
  ls.n_trials = n_trials;
}

int cmd_run(const std::string& file, CommonArgs args) {
  StudyConfig cfg = load_study_config(file);
  if (!args.study.empty()) {
    check_study_name(args.study, "--study");
    cfg.name = args.study;
  }
  std::string url = args.storage.empty() ? cfg.storage_url : args.storage;
  if (args.n_trials) cfg.n_trials = args.n_trials;
  if (!args.timeout_s) args.timeout_s = cfg.timeout_s;
  check(args.workers >= 1 && args.workers <= 256, "--workers must be between 1 and 256, got " +
                                                      std::to_string(args.workers));
  auto storage = open_storage_arg(url, /*must_exist=*/false);

  if (auto existing = storage->find_study(cfg.name)) {
    StudyInfo info = storage->get_study(*existing);
    auto stored = info.system_attrs.find(study_attr::kConfig);
    if (stored == info.system_attrs.end() || stored->second.get<std::string>() != cfg.text) {
      throw ValueError("study '" + cfg.name + "' already exists in " + redact_url(url) +
                       " with a different configuration. Continue it with 'nasforge resume --storage " +
                       redact_url(url) + " --study " + cfg.name +
                       "', choose another name with --study, or remove it with "
                       "'nasforge delete --storage " +
                       redact_url(url) + " --study " + cfg.name + " --yes'");
    }
    if (!args.quiet) std::cerr << "Study '" << cfg.name << "' exists with this configuration; continuing it.\n";
  } else {
    create_from_config(storage, cfg, args.quiet);
  }
  if (!cfg.has_objective()) {
    if (!args.quiet) std::cerr << "No objective: section; the study is created for 'nasforge ask' / 'nasforge tell'.\n";
    return 0;
  }
  LoadedStudy ls = open_study(storage, cfg.name, 0, /*need_objective=*/args.workers == 1);
  set_target(*storage, ls, args.n_trials);
  if (!args.quiet) {
    std::cerr << "Running study '" << cfg.name << "' in " << redact_url(url);
    if (ls.n_trials) std::cerr << " until " << *ls.n_trials << " trials have finished";
    if (args.workers > 1) std::cerr << " with " << args.workers << " worker processes";
    std::cerr << "\n";
  }
  if (args.workers > 1) storage.reset();  // children open their own connections
  finish_run(ls, url, args);
  return 0;
}

int cmd_resume(CommonArgs args) {
  if (args.study.empty()) throw UsageError("--study NAME is required");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  LoadedStudy ls = open_study(storage, args.study, 0, /*need_objective=*/args.workers == 1);
  set_target(*storage, ls, args.n_trials);
  if (!args.timeout_s) args.timeout_s = ls.config.timeout_s;
  TrialCounts c = storage->count_trials(ls.study->id());
  if (!args.quiet) {
    std::cerr << "Resuming study '" << args.study << "': " << c.finished() << " finished, " << c.waiting
              << " waiting";
    if (c.running) std::cerr << ", " << c.running << " running (stale ones are failed after the grace period)";
    if (ls.n_trials) std::cerr << "; target " << *ls.n_trials;
    std::cerr << "\n";
  }
  finish_run(ls, args.storage, args);
  return 0;
}

int cmd_worker(CommonArgs args) {
  if (args.study.empty()) throw UsageError("--study NAME is required");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  // Without an index, a random one: workers started alike on many machines must not replay one sampler stream.
  std::random_device entropy;
  const int index =
      args.worker_index ? *args.worker_index : std::uniform_int_distribution<int>(1 << 20, INT_MAX)(entropy);
  LoadedStudy ls = open_study(storage, args.study, index, true);
  if (args.n_trials) ls.n_trials = args.n_trials;
  if (!args.timeout_s) args.timeout_s = ls.config.timeout_s;
  Progress progress(*ls.study, ls.n_trials, args.quiet);
  RunSummary s = run_in_process(ls, args, &progress);
  progress.finish();
  if (s.interrupted) throw Interrupted("worker " + std::to_string(index) + " stopped by the user");
  return 0;
}

/// One stderr line for a stored name that breaks kStudyNameRule (written by an older nasforge): listing it is
/// harmless, but every command that touches its files refuses until it is renamed.
void warn_about_name(const std::string& name, const std::string& url) {
  if (auto problem = study_name_problem(name)) {
    std::cerr << "nasforge: warning: study " << quote_study_name(name) << " has a name that cannot be a folder ("
              << *problem << "); commands that touch its trial files refuse it. Rename it with 'nasforge rename "
              << "--storage " << redact_url(url) << " --study " << quote_study_name(name) << " --as NEW_NAME'\n";
  }
}

int cmd_studies(const CommonArgs& args) {
  OutputFormat format = parse_format(args.format);
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  std::vector<StudyInfo> studies = storage->list_studies();
  for (const auto& s : studies) warn_about_name(s.name, args.storage);
  std::vector<TrialCounts> counts;
  std::vector<std::vector<FrozenTrial>> bests;
  for (const auto& s : studies) {
    counts.push_back(storage->count_trials(s.study_id));
    bests.push_back(pareto_front(storage->get_all_trials(s.study_id, {TrialState::kComplete}), s.directions));
  }
  write_studies(std::cout, studies, counts, bests, format);
  return 0;
}

int cmd_trials(const CommonArgs& args, const std::vector<std::string>& state_names) {
  OutputFormat format = parse_format(args.format);
  if (args.study.empty()) throw UsageError("--study NAME is required");
  std::vector<TrialState> states;
  for (const auto& s : state_names) {
    std::string upper = s;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    states.push_back(parse_trial_state(upper));
  }
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  warn_about_name(args.study, args.storage);
  write_trials(std::cout, study.trials(states), study.directions(), format, table_columns(*storage, study));
  return 0;
}

int cmd_best(const CommonArgs& args, int top, const std::vector<std::string>& where, const std::string& sort) {
  OutputFormat format = parse_format(args.format);
  if (args.study.empty()) throw UsageError("--study NAME is required");
  check(top >= 1, "--top must be >= 1, got " + std::to_string(top));
  std::vector<TrialFilter> filters;
  for (const auto& w : where) filters.push_back(TrialFilter::parse(w));
  std::optional<TrialOrder> order;
  if (!sort.empty()) order = TrialOrder::parse(sort);
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  warn_about_name(args.study, args.storage);
  std::vector<FrozenTrial> out = filter_trials(study.trials({TrialState::kComplete}), filters);
  if (order) {
    sort_trials(out, *order);
    if (static_cast<int>(out.size()) > top) out.resize(static_cast<std::size_t>(top));
  } else if (study.directions().size() == 1) {
    bool minimize = study.directions()[0] == StudyDirection::kMinimize;
    std::stable_sort(out.begin(), out.end(), [minimize](const FrozenTrial& a, const FrozenTrial& b) {
      return minimize ? a.values[0] < b.values[0] : a.values[0] > b.values[0];
    });
    if (static_cast<int>(out.size()) > top) out.resize(static_cast<std::size_t>(top));
  } else {
    out = pareto_front(out, study.directions());  // the whole set: --top does not rank incomparable trials
  }
  if (out.empty() && format == OutputFormat::kTable) {
    std::cout << "No completed trial in study '" << args.study << "'" << (filters.empty() ? " yet" : " matches --where")
              << ".\n";
    return 0;
  }
  std::vector<std::string> keys;
  for (const auto& f : filters) keys.push_back(f.key());
  if (order) keys.push_back(order->key);
  write_trials(std::cout, out, study.directions(), format, table_columns(*storage, study, keys));
  return 0;
}

/// The trial with `number` in `study`; NotFoundError naming the study otherwise.
FrozenTrial find_trial(Study& study, int number) {
  for (auto& t : study.trials()) {
    if (t.number == number) return t;
  }
  throw NotFoundError("study '" + study.name() + "' has no trial number " + std::to_string(number));
}

/// The folder holding a study's trial files; "" when its storage keeps none.
bool is_within(const std::filesystem::path& path, const std::filesystem::path& folder) {
  auto [f, p] = std::mismatch(folder.begin(), folder.end(), path.begin(), path.end());
  return f == folder.end();
}

/// Refuses an --out folder that export must not write into and returns the bundle files it will replace there:
/// the file system's root, anything inside the storage's trial-file folder (it would overwrite a stored trial's
/// files), a file, or a non-empty folder without --force.
std::vector<std::string> check_export_folder(const std::string& out_dir, const std::string& artifact_root,
                                             bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(fs::absolute(out_dir), ec);
  if (ec) throw UsageError("--out '" + out_dir + "': " + ec.message());
  if (out == out.root_path()) {
    throw UsageError("--out '" + out_dir + "' is the root of the file system; export into a folder of its own, e.g. "
                     "--out best-model");
  }
  if (!artifact_root.empty()) {
    const fs::path root = fs::weakly_canonical(fs::absolute(artifact_root), ec);
    if (!ec && is_within(out, root)) {
      throw UsageError("--out '" + out_dir + "' is inside " + root.string() +
                       ", the folder where the storage keeps every trial's files; writing there would replace a stored "
                       "trial's weights. Choose a folder outside it");
    }
  }
  if (!fs::exists(out, ec)) return {};
  if (!fs::is_directory(out, ec)) throw UsageError("--out '" + out_dir + "' exists and is not a folder");
  std::vector<std::string> replaced;
  for (const char* name : {kBundleModelFile, kBundleWeightsFile}) {
    if (fs::exists(out / name, ec)) replaced.emplace_back(name);
  }
  if (fs::is_empty(out, ec) || force) return replaced;
  throw UsageError("--out '" + out_dir + "' is not empty" +
                   (replaced.empty() ? std::string() : " (it holds " + join(replaced, " and ") + ")") +
                   "; export writes " + kBundleModelFile + " and " + kBundleWeightsFile + " into it. Add --force to " +
                   "replace those two files (the folder's other files stay as they are), or choose a new folder");
}

int cmd_export(const CommonArgs& args, int number, const std::string& out_dir, bool evaluate, bool force) {
  if (out_dir.empty()) throw UsageError("--out DIR is required");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  check_copy_finished(*storage, args.study);
  FrozenTrial trial = find_trial(study, number);
  std::string dir = storage->study_artifact_dir(args.study);
  if (dir.empty())
    throw ValueError("storage " + redact_url(args.storage) + " keeps no trial files, so there is nothing to export");
  std::vector<std::string> replaced = check_export_folder(out_dir, storage->artifact_root(), force);
  export_bundle((std::filesystem::path(dir) / ("trial_" + std::to_string(number))).string(), trial.to_json(), out_dir);
  std::cout << "Exported trial " << number << " of study '" << args.study << "' to " << out_dir << " ("
            << kBundleModelFile << ", " << kBundleWeightsFile << ")";
  if (!replaced.empty()) std::cout << "; replaced the earlier " << join(replaced, " and ");
  std::cout << ".\n";
  if (evaluate) {
    Json r = evaluate_bundle(out_dir, args.device);
    std::cout << "Rebuilt from " << out_dir << " and evaluated: val_accuracy " << r.at("val_accuracy").dump()
              << ", val_loss " << r.at("val_loss").dump() << " on " << r.at("n").dump() << " samples.\n";
  }
  return 0;
}

int cmd_evaluate(const std::string& dir, const CommonArgs& args) {
  Json r = evaluate_bundle(dir, args.device);
  if (parse_format(args.format) == OutputFormat::kJson) {
    std::cout << r.dump(2) << "\n";
  } else {
    std::cout << "val_accuracy " << r.at("val_accuracy").dump() << "\nval_loss " << r.at("val_loss").dump()
              << "\nsamples " << r.at("n").dump() << "\n";
  }
  return 0;
}

int cmd_delete(const CommonArgs& args, bool yes) {
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  if (!yes) {
    throw UsageError("deleting study '" + args.study + "', its " +
                     std::to_string(storage->count_trials(study.id()).slots()) +
                     " trials and their files cannot be undone; add --yes to confirm");
  }
  // Decided before the rows go: a stored name that cannot be a folder leaves every file where it is.
  const bool files_safe = !study_name_problem(args.study);
  std::vector<std::string> folders;
  if (files_safe) {
    for (const std::string& f : {storage->study_artifact_dir(args.study), copy_staging_dir(*storage, args.study)}) {
      if (!f.empty()) folders.push_back(f);
    }
  }
  storage->delete_study(study.id());
  for (const std::string& f : folders) {
    std::error_code ec;
    if (!std::filesystem::exists(f, ec)) continue;
    std::filesystem::remove_all(f, ec);
    if (ec) std::cerr << "nasforge: warning: could not remove " << f << ": " << ec.message() << "\n";
  }
  if (!files_safe && !storage->artifact_root().empty()) {
    std::cerr << "nasforge: warning: the name " << quote_study_name(args.study) << " cannot be a folder, so no trial "
              << "files were removed; look in " << storage->artifact_root() << " for any it left\n";
  }
  std::cout << "Deleted study " << quote_study_name(args.study) << ".\n";
  return 0;
}

/// Renames a study and moves its trial files with it: the folder first, then the database (the folder moves back
/// when the database refuses), so no state leaves a study without its files but a kill between the two renames.
int cmd_rename(const CommonArgs& args, const std::string& new_name) {
  check_study_name(new_name, "--as");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  check_copy_finished(*storage, args.study);
  if (storage->find_study(new_name)) {
    throw DuplicateStudyError("study '" + new_name + "' already exists in " + redact_url(args.storage) +
                              "; choose another name");
  }
  namespace fs = std::filesystem;
  const std::string to = storage->study_artifact_dir(new_name);
  std::string from;
  if (!to.empty() && !study_name_problem(args.study)) from = storage->study_artifact_dir(args.study);
  std::error_code ec;
  const bool move = !from.empty() && fs::exists(from, ec);
  if (move) {
    if (fs::exists(to, ec)) {
      throw StorageError("cannot move the trial files of study " + quote_study_name(args.study) + " to " + to +
                         ": that folder exists already (left from a deleted study?); move it away first");
    }
    fs::rename(from, to, ec);
    if (ec) throw StorageError("cannot move " + from + " to " + to + ": " + ec.message() + "; nothing was renamed");
  }
  try {
    storage->rename_study(study.id(), new_name);
  } catch (...) {
    if (move) fs::rename(to, from, ec);
    throw;
  }
  std::cout << "Renamed study " << quote_study_name(args.study) << " to '" << new_name << "'";
  if (move) std::cout << " and moved its trial files to " << to;
  std::cout << ".\n";
  if (!to.empty() && study_name_problem(args.study)) {
    std::cerr << "nasforge: warning: the old name cannot be a folder, so no trial files were moved; if the study had "
              << "any, move them into " << to << " yourself\n";
  }
  return 0;
}

/// Equal for two URLs that name the same storage: for SQLite the file's canonical path (so "sqlite:///a.db" and
/// "sqlite:////abs/a.db" match), else the URL itself.
std::string storage_identity(const std::string& url) {
  if (url.rfind("sqlite:///", 0) == 0) {
    std::error_code ec;
    auto path = std::filesystem::weakly_canonical(sqlite_path_from_url(url), ec);
    if (!ec) return "sqlite:" + path.string();
  }
  return url;
}

int cmd_copy(const std::string& from_url, const std::string& to_url, const std::string& name, std::string new_name) {
  if (new_name.empty()) new_name = name;
  check_study_name(new_name, new_name == name ? "--study" : "--as");
  if (name == new_name && storage_identity(from_url) == storage_identity(to_url)) {
    throw UsageError("cannot copy study '" + name +
                     "' onto itself: --from and --to name the same storage; give "
                     "another --to, or a new name with --as NEW_NAME");
  }
  const std::string from_text = redact_url(from_url), to_text = redact_url(to_url);
  // The whole source is read before the destination is opened: a source that cannot be read creates nothing.
  StudySnapshot snapshot;
  {
    auto from = open_storage_arg(from_url, /*must_exist=*/true, StorageAccess::kReadOnly);
    if (!from->find_study(name)) {
      std::vector<std::string> names;
      for (const StudyInfo& s : from->list_studies()) names.push_back(quote_study_name(s.name));
      throw NotFoundError("no study named '" + name + "' in " + from_text +
                          " (studies there: " + (names.empty() ? "none" : join(names, ", ")) + ")");
    }
    snapshot = read_study(*from, name);
  }
  const std::string taken = "study '" + new_name + "' already exists in " + to_text +
                            "; copy under another name with --as NEW_NAME, or delete it first with 'nasforge delete "
                            "--storage " +
                            to_text + " --study " + new_name + " --yes'";
  auto to = open_storage_arg(to_url, /*must_exist=*/false);
  CopySummary summary;
  try {
    summary = write_study(*to, snapshot, new_name);
  } catch (const DuplicateStudyError&) {
    throw DuplicateStudyError(taken);
  }
  if (summary.finished_earlier) {
    std::cerr << "finished the interrupted copy of study '" << name << "' to " << to_text
              << ": its trials were there, its trial files are now in " << summary.artifacts_to << "\n";
    return 0;
  }
  if (summary.counts.running > 0) {
    std::cerr << "nasforge: warning: " << summary.counts.running << " trial(s) were RUNNING in " << from_text
              << "; they are copied as RUNNING with a fresh heartbeat, so a worker on the destination fails and "
                 "retries them (up to max_retry) after the grace period. Stop the source's workers before copying "
                 "to avoid this.\n";
  }
  std::cerr << "copied study '" << name << "'" << (new_name != name ? " as '" + new_name + "'" : "") << " ("
            << describe_counts(summary) << ") from " << from_text << " to " << to_text;
  if (summary.artifacts_copied) {
    std::cerr << ", with its trial files (" << summary.artifacts_from << " -> " << summary.artifacts_to << ")";
  }
  std::cerr << "\n";
  return 0;
}

int cmd_create(const std::string& file, CommonArgs args) {
  StudyConfig cfg = load_study_config(file);
  if (!args.study.empty()) {
    check_study_name(args.study, "--study");
    cfg.name = args.study;
  }
  std::string url = args.storage.empty() ? cfg.storage_url : args.storage;
  auto storage = open_storage_arg(url, /*must_exist=*/false);
  if (storage->find_study(cfg.name)) {
    throw DuplicateStudyError("study '" + cfg.name + "' already exists in " + redact_url(url));
  }
  create_from_config(storage, cfg, args.quiet);
  std::cout << "Created study '" << cfg.name << "' in " << redact_url(url) << ".\n";
  return 0;
}

int cmd_ask(const CommonArgs& args, bool force) {
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  LoadedStudy ls = open_study(storage, args.study, 0, false);
  // Like run, ask stops at the study's target unless told otherwise; the check and the new trial are one
  // transaction, so concurrent asks never overshoot it either.
  std::optional<Trial> trial = ls.study->ask(force ? std::nullopt : ls.n_trials);
  if (!trial) {
    TrialCounts c = storage->count_trials(ls.study->id());
    throw UsageError("study '" + args.study + "' has reached its target of " + std::to_string(*ls.n_trials) +
                     " trials (" + std::to_string(c.finished()) + " finished, " + std::to_string(c.running) +
                     " running, " + std::to_string(c.waiting) + " waiting), where 'nasforge run' stops too; add "
                     "--force to start another trial anyway");
  }
  Json out{{"number", trial->number()}, {"params", Json::object()}};
  for (const auto& [k, v] : trial->params()) out["params"][k] = v.to_json();
  std::cout << out.dump() << "\n";
  return 0;
}

int cmd_tell(const CommonArgs& args, int number, const std::vector<double>& values, const std::string& state_name,
             const std::string& reason) {
  if (values.empty() == state_name.empty()) {
    throw UsageError("give either --values V [V ...] (COMPLETE) or --state pruned|fail");
  }
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  FrozenTrial found = find_trial(study, number);
  if (found.state != TrialState::kRunning) {
    throw ValueError("trial " + std::to_string(number) + " is " + to_string(found.state) +
                     ", not RUNNING; only running trials can be told");
  }
  // Checked here, not left to Study::tell, which would store such a result as a FAIL: a typo on the command line
  // must not end the trial.
  const std::string stays = "; trial " + std::to_string(number) + " stays RUNNING";
  if (!values.empty()) {
    const std::size_t n = study.directions().size();
    if (values.size() != n) {
      std::vector<std::string> dirs;
      for (StudyDirection d : study.directions()) dirs.push_back(to_string(d));
      throw UsageError("study '" + args.study + "' has " + std::to_string(n) + " objective(s) (" + join(dirs, ", ") +
                       "), so --values takes " + std::to_string(n) + " value(s), got " +
                       std::to_string(values.size()) + stays);
    }
    for (double v : values) {
      if (!std::isfinite(v)) {
        throw UsageError("--values: " + format_double(v) + " is not a finite number" + stays +
                         ". Report a failed evaluation with --state fail --reason TEXT");
      }
    }
  }
  Trial trial(study, found);
  TrialState final_state;
  if (!values.empty()) {
    final_state = study.tell(trial, values);
  } else {
    std::string upper = state_name;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    TrialState st = parse_trial_state(upper);
    final_state = study.tell(trial, st, reason);
  }
  std::cout << "Trial " << number << " is " << to_string(final_state) << ".\n";
  return 0;
}

int cmd_validate(const std::string& file) {
  StudyConfig cfg = load_study_config(file);
  std::cout << file << ": OK: study '" << cfg.name << "', " << cfg.space.params().size() << " parameter(s), "
            << cfg.directions.size() << " objective(s)\n";
  return 0;
}

void add_storage(CLI::App* cmd, CommonArgs& a, bool required) {
  auto* opt = cmd->add_option("--storage", a.storage,
                              "storage URL: sqlite:///relative.db, sqlite:////abs/path.db or "
                              "postgresql://user:pass@host:port/db (workers on many machines)");
  if (required) opt->required();
}

void add_format(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("--format", a.format, "output format")->check(CLI::IsMember({"table", "json", "csv"}))
      ->default_str("table");
}

/// A number of seconds in (0, 1e9] (CLI11's PositiveNumber accepts nan and prints its range as 309 digits).
const CLI::Validator kSeconds(
    [](std::string& text) -> std::string {
      std::optional<double> v = parse_double(text);
      if (v && *v > 0 && *v <= 1e9) return "";
      return "expected a number of seconds > 0 and at most 1e9 (e.g. 3600), got '" + text + "'";
    },
    "SECONDS>0");

/// A whole number >= `min`, with a message that says so.
CLI::Validator at_least(long long min, const std::string& what) {
  return CLI::Validator(
      [min, what](std::string& text) -> std::string {
        std::optional<long long> v = parse_int(text);
        if (v && *v >= min) return "";
        return "expected " + what + " (a whole number >= " + std::to_string(min) + "), got '" + text + "'";
      },
      "INT>=" + std::to_string(min));
}

/// The "Examples:" footer of one command.
std::string examples(std::initializer_list<const char*> lines) {
  std::string out = "Examples:";
  for (const char* l : lines) out += std::string("\n  ") + l;
  return out;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{kDescription, "nasforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nasforge 0.1.0");
  CommonArgs a;
  int top = 1;
  bool yes = false, force = false;
  int trial_number = -1;
  std::vector<double> values;
  std::string state_name, reason, file;
  std::vector<std::string> states, where;
  std::string sort_key;
  const CLI::Validator n_trials_check = at_least(1, "a number of trials") & CLI::Range(1, 100000000);

  auto* run = app.add_subcommand("run", "create a study from a YAML file and run it (continues it if it exists "
                                        "with the same file)");
  run->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  add_storage(run, a, false);
  run->add_option("--study", a.study, "study name (overrides study.name)");
  run->add_option("--n-trials", a.n_trials, "target number of finished trials (overrides study.n_trials)")
      ->check(n_trials_check);
  run->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  run->add_option("--workers", a.workers, "worker processes sharing the study (default 1)")->check(CLI::Range(1, 256));
  run->add_flag("--quiet,-q", a.quiet, "no progress output");
  run->footer(examples({"nasforge run configs/quickstart.yaml",
                        "nasforge run configs/quickstart.yaml --workers 2 --timeout 600",
                        "nasforge run study.yaml --storage sqlite:///runs/study.db --study study-v2"}));

  auto* resume = app.add_subcommand("resume", "continue a stored study after a stop or crash");
  add_storage(resume, a, true);
  resume->add_option("--study", a.study, "study name")->required();
  resume->add_option("--n-trials", a.n_trials, "new target number of finished trials")->check(n_trials_check);
  resume->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  resume->add_option("--workers", a.workers, "worker processes (default 1)")->check(CLI::Range(1, 256));
  resume->add_flag("--quiet,-q", a.quiet, "no progress output");
  resume->footer(examples({"nasforge resume --storage sqlite:///quickstart.db --study quickstart",
                           "nasforge resume --storage sqlite:///quickstart.db --study quickstart --n-trials 100"}));

  auto* worker = app.add_subcommand("worker", "run trials of a stored study until its target (start any number, "
                                              "on any machine sharing the storage)");
  add_storage(worker, a, true);
  worker->add_option("--study", a.study, "study name")->required();
  worker->add_option("--n-trials", a.n_trials, "target number of finished trials")->check(n_trials_check);
  worker->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  worker
      ->add_option("--worker-index", a.worker_index,
                   "distinct per worker (e.g. the Slurm array or Kubernetes completion index); seeds its own sampler "
                   "stream reproducibly. Without it, a random stream: workers still propose different trials")
      ->check(at_least(0, "a worker index"));
  worker->add_flag("--quiet,-q", a.quiet, "no progress output");
  worker->footer(examples({"nasforge worker --storage postgresql://nasforge@db-host:5432/nasforge --study big "
                           "--worker-index 3"}));

  auto* create = app.add_subcommand("create", "create a study from a YAML file without running it (for ask/tell)");
  create->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  add_storage(create, a, false);
  create->add_option("--study", a.study, "study name (overrides study.name)");
  create->footer(examples({"nasforge create study.yaml --storage sqlite:///study.db"}));

  auto* validate = app.add_subcommand("validate", "check a study file and report the first problem");
  validate->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  validate->footer(examples({"nasforge validate configs/quickstart.yaml"}));

  auto* studies = app.add_subcommand("studies", "list the studies in a storage");
  add_storage(studies, a, true);
  add_format(studies, a);
  studies->footer(examples({"nasforge studies --storage sqlite:///quickstart.db"}));

  auto* trials = app.add_subcommand("trials", "list the trials of a study");
  add_storage(trials, a, true);
  trials->add_option("--study", a.study, "study name")->required();
  trials->add_option("--state", states, "only these states (complete, pruned, fail, running, waiting)");
  add_format(trials, a);
  trials->footer(examples({"nasforge trials --storage sqlite:///quickstart.db --study quickstart --format json",
                           "nasforge trials --storage sqlite:///quickstart.db --study quickstart --state fail"}));

  auto* best = app.add_subcommand("best", "the best trial(s): top K by value, or the Pareto set for several "
                                          "objectives");
  add_storage(best, a, true);
  best->add_option("--study", a.study, "study name")->required();
  best->add_option("--top", top, "how many (single objective, or with --sort)")
      ->check(at_least(1, "how many trials to show"));
  best->add_option("--where", where,
                   "keep trials where KEY OP VALUE holds; repeatable; KEY is value, a parameter or a metric "
                   "(macs, params, size_bytes, peak_mem_bytes, latency_ms, val_accuracy, ...), OP one of "
                   "< <= > >= == !=, e.g. --where \"macs<5e6\" --where \"latency_ms<2\"");
  best->add_option("--sort", sort_key, "order by KEY[:asc|:desc] instead of the objective, e.g. latency_ms");
  add_format(best, a);
  best->footer(examples({"nasforge best --storage sqlite:///quickstart.db --study quickstart --top 5",
                         "nasforge best --storage sqlite:///quickstart.db --study quickstart --where \"macs<2e6\" "
                         "--sort latency_ms"}));

  std::string out_dir;
  bool evaluate_after = false;
  auto* exp = app.add_subcommand("export", "write a trained trial's network (genotype, hyperparameters, metrics, "
                                           "weights) to a folder that 'nasforge evaluate' can rebuild");
  add_storage(exp, a, true);
  exp->add_option("--study", a.study, "study name")->required();
  exp->add_option("--trial", trial_number, "trial number")->required()->check(at_least(0, "a trial number"));
  exp->add_option("--out", out_dir, "output folder: new or empty (created), outside the storage's trial files")
      ->required();
  exp->add_flag("--force", force,
                "export into a non-empty folder, replacing its model.json and weights.pt (other files stay)");
  exp->add_flag("--evaluate", evaluate_after, "rebuild the exported model and evaluate it on its validation data");
  exp->add_option("--device", a.device, "auto, cpu or cuda (with --evaluate)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  exp->footer(examples({"nasforge export --storage sqlite:///quickstart.db --study quickstart --trial 0 --out best-model",
                        "nasforge export --storage sqlite:///quickstart.db --study quickstart --trial 3 --out "
                        "best-model --force --evaluate"}));

  auto* eval = app.add_subcommand("evaluate", "rebuild an exported (or a trial's saved) model and evaluate it on "
                                              "the validation split of the data it was trained on");
  eval->add_option("MODEL_DIR", file, "folder with model.json and weights.pt")->required()->check(CLI::ExistingDirectory);
  eval->add_option("--device", a.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  eval->add_option("--format", a.format, "table or json")->check(CLI::IsMember({"table", "json"}));
  eval->footer(examples({"nasforge evaluate best-model --format json"}));

  auto* del = app.add_subcommand("delete", "delete a study, all its trials and its trial files (the study's folder "
                                           "of saved weights next to the database)");
  add_storage(del, a, true);
  del->add_option("--study", a.study, "study name")->required();
  del->add_flag("--yes", yes, "confirm");
  del->footer(examples({"nasforge delete --storage sqlite:///quickstart.db --study quickstart --yes"}));

  std::string new_name;
  auto* rename = app.add_subcommand("rename", "give a study a new name; its trial files move with it");
  add_storage(rename, a, true);
  rename->add_option("--study", a.study, "current name")->required();
  rename->add_option("--as", new_name, "new name (letters, digits, '.', '_', '-')")->required();
  rename->footer(std::string(kStudyNameRule) + ".\n" +
                 examples({"nasforge rename --storage sqlite:///old.db --study 'my study' --as my-study"}));

  std::string copy_from, copy_to;
  auto* copy_cmd = app.add_subcommand(
      "copy",
      "copy a study with all its trials (values, intermediate values, attributes, datetimes) to another "
      "storage, e.g. from SQLite to PostgreSQL or back; its trial files (weights) come along when both "
      "storages keep them");
  copy_cmd->add_option("--from", copy_from, "storage URL to copy from (sqlite:///a.db, postgresql://user@host/db)")
      ->required();
  copy_cmd->add_option("--to", copy_to, "storage URL to copy to (a new SQLite file is created)")->required();
  copy_cmd->add_option("--study", a.study, "name of the study to copy")->required();
  copy_cmd->add_option("--as", new_name, "name in the destination (default: the same name); must not exist there");
  copy_cmd->footer(
      "The source is read whole before anything is written. The trials go into the destination in one transaction; "
      "trial files are copied into a staging folder first and moved into place after the trials, so a copy killed "
      "at any point leaves no study, or one that commands refuse as unfinished until the same copy command is run "
      "again (it finishes the move). RUNNING trials are copied as RUNNING with a fresh heartbeat, so a worker on the "
      "destination fails and retries them after the grace period.\n" +
      examples({"nasforge copy --from sqlite:///study.db --to postgresql://nasforge@db-host:5432/nasforge "
                "--study quickstart",
                "nasforge copy --from sqlite:///quickstart.db --to sqlite:///backup.db --study quickstart"}));

  auto* ask = app.add_subcommand("ask", "start a trial of a stored study and print {number, params} as JSON");
  add_storage(ask, a, true);
  ask->add_option("--study", a.study, "study name")->required();
  ask->add_flag("--force", force, "start a trial even when the study has reached its n_trials target");
  ask->footer(examples({"nasforge ask --storage sqlite:///study.db --study study"}));

  auto* tell = app.add_subcommand("tell", "finish a trial started with ask");
  add_storage(tell, a, true);
  tell->add_option("--study", a.study, "study name")->required();
  tell->add_option("--trial", trial_number, "trial number printed by ask")->required()
      ->check(at_least(0, "a trial number"));
  tell->add_option("--values", values, "objective value(s), one per objective: COMPLETE");
  tell->add_option("--state", state_name, "instead of values")->check(CLI::IsMember({"pruned", "fail"}, CLI::ignore_case));
  tell->add_option("--reason", reason, "why it failed (with --state fail)");
  tell->footer(examples({"nasforge tell --storage sqlite:///study.db --study study --trial 0 --values 0.93",
                         "nasforge tell --storage sqlite:///study.db --study study --trial 1 --state fail --reason OOM"}));

  auto* help = app.add_subcommand("help", "show the help of a command (nasforge help run)");
  std::string help_topic;
  help->add_option("COMMAND", help_topic, "command");

  // After the subcommands: they would inherit it.
  app.footer(examples({"nasforge run configs/quickstart.yaml",
                       "nasforge best --storage sqlite:///quickstart.db --study quickstart --top 5",
                       "nasforge resume --storage sqlite:///quickstart.db --study quickstart --n-trials 100"}) +
             "\nRun 'nasforge COMMAND --help' (or 'nasforge help COMMAND') for a command's options and examples.");

  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  if (argc >= 2 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    throw UsageError(std::string("unknown command '") + argv[1] + "'" + did_you_mean(argv[1], commands) +
                     "; the commands are " + join(commands, ", ") + " (nasforge --help describes them)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }

  // An empty --study would otherwise read as "not given" and fall back to study.name.
  for (const CLI::App* sub : app.get_subcommands()) {
    const CLI::Option* study_opt = sub->get_option_no_throw("--study");
    if (study_opt && study_opt->count() > 0 && a.study.empty()) {
      throw UsageError("--study: a study name cannot be empty");
    }
  }
  if (*help) {
    if (help_topic.empty()) {
      std::cout << app.help();
      return 0;
    }
    if (std::find(commands.begin(), commands.end(), help_topic) == commands.end()) {
      throw UsageError("no command '" + help_topic + "'" + did_you_mean(help_topic, commands) + "; the commands are " +
                       join(commands, ", "));
    }
    std::cout << app.get_subcommand(help_topic)->help();
    return 0;
  }
  if (*run) return cmd_run(file, a);
  if (*resume) return cmd_resume(a);
  if (*worker) return cmd_worker(a);
  if (*create) return cmd_create(file, a);
  if (*validate) return cmd_validate(file);
  if (*studies) return cmd_studies(a);
  if (*trials) return cmd_trials(a, states);
  if (*best) return cmd_best(a, top, where, sort_key);
  if (*del) return cmd_delete(a, yes);
  if (*rename) return cmd_rename(a, new_name);
  if (*exp) return cmd_export(a, trial_number, out_dir, evaluate_after, force);
  if (*eval) return cmd_evaluate(file, a);
  if (*copy_cmd) return cmd_copy(copy_from, copy_to, a.study, new_name);
  if (*ask) return cmd_ask(a, force);
  if (*tell) return cmd_tell(a, trial_number, values, state_name, reason);
  return 0;
}

}  // namespace nasforge
