#include "search/cli/run_commands.h"

#include <climits>
#include <iostream>
#include <random>

#include "core/error.h"
#include "search/cli/printing.h"
#include "search/cli/progress.h"
#include "search/cli/study_loader.h"
#include "search/cli/workers.h"
#include "search/runner.h"

namespace nasforge {

namespace {

/// Runs trials in this process until the study's target, the timeout or Ctrl-C. The study gets its options here,
/// once: they feed `progress`, which could only be made after the study.
RunSummary run_in_process(LoadedStudy& ls, const CommonArgs& args, Progress& progress) {
  ls.study->set_options(study_options(ls, &progress));
  RunOptions ro;
  ro.n_trials = ls.n_trials;
  ro.timeout_s = args.timeout_s;
  ro.on_trial_finished = [&progress](const FrozenTrial& t) { progress.trial_finished(t); };
  return optimize(*ls.study, *ls.objective, ro);
}

/// Runs the study (in this process, or in --workers child processes), prints the result, and turns a stop by the
/// user into Interrupted naming the resume command.
void finish_run(LoadedStudy& ls, const std::string& url, const CommonArgs& args) {
  Progress progress(*ls.study, ls.n_trials, args.quiet);
  RunSummary summary = args.workers > 1
                           ? run_workers(ls.study->name(), url, args.workers, args.timeout_s, progress)
                           : run_in_process(ls, args, progress);
  progress.finish();
  if (summary.exhausted && !args.quiet) std::cerr << "The search space is exhausted: every point was tried.\n";
  if (summary.timed_out && !args.quiet) {
    std::cerr << "Stopped after the timeout of " << fmt_seconds(*args.timeout_s) << ".\n";
  }
  print_result(*ls.study, url, summary.elapsed_s);
  if (summary.interrupted) {
    throw Interrupted("stopped by the user; the study is saved. Continue with: nasforge resume --storage " +
                      redact_url(url) + " --study " + ls.study->name());
  }
}

/// Stores a new n_trials target, after the study has been read whole: a damaged database is then found before
/// anything is written to it.
void set_target(Storage& storage, LoadedStudy& ls, std::optional<int> n_trials) {
  if (!n_trials) return;
  storage.set_study_system_attr(ls.study->id(), study_attr::kNTrials, *n_trials);
  ls.n_trials = n_trials;
}

}  // namespace

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
  RunSummary s = run_in_process(ls, args, progress);
  progress.finish();
  if (s.interrupted) throw Interrupted("worker " + std::to_string(index) + " stopped by the user");
  return 0;
}

}  // namespace nasforge
