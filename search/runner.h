#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "evaluators/objective.h"
#include "search/study.h"

namespace nasforge {

/// How optimize() runs; `n_trials` counts finished trials of the whole study, across all workers.
struct RunOptions {
  std::optional<int> n_trials;       ///< Stop once the study holds this many finished trials.
  std::optional<double> timeout_s;   ///< Start no new trial after this many seconds.
  double poll_interval_s = 0.2;      ///< How often to look again when all slots are taken by other workers.
  /// Called after each trial this process finished (progress display); may be empty.
  std::function<void(const FrozenTrial&)> on_trial_finished;
};

/// What one optimize() call did.
struct RunSummary {
  int completed = 0;         ///< Trials this process finished as COMPLETE.
  int pruned = 0;            ///< ... as PRUNED.
  int failed = 0;            ///< ... as FAIL.
  bool interrupted = false;  ///< Stopped by Ctrl-C / SIGTERM.
  bool exhausted = false;    ///< Stopped because the sampler had no point left (grid).
  bool timed_out = false;    ///< Stopped by timeout_s.
  double elapsed_s = 0;      ///< Wall time of the loop.
};

/// The study loop: ask, evaluate with a heartbeat, tell; pruning and objective errors end one trial, never the
/// loop. Returns when n_trials is reached, on timeout, on Ctrl-C (the trial in flight is failed and re-enqueued)
/// or when the space is exhausted.
RunSummary optimize(Study& study, Objective& objective, const RunOptions& options);

/// Installs SIGINT/SIGTERM handlers that set the returned flag; a second signal exits at once with 130.
const std::atomic<bool>& install_stop_handlers();

/// True once a stop signal arrived.
bool stop_requested();

}  // namespace nasforge
