#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "search/study.h"

namespace nasforge {

/// Progress of a run on stderr: one rewritten line on a terminal, one line per finished trial otherwise.
class Progress {
 public:
  /// Shows `study` against its target `n_trials`; `quiet` shows nothing. The clock starts now.
  Progress(Study& study, std::optional<int> n_trials, bool quiet);

  /// A trial of this process finished: the status line on a terminal, else one line naming the trial.
  void trial_finished(const FrozenTrial& t);
  /// A running trial reported `value` at `step`: shown at once on a terminal; otherwise as its own line when the
  /// last line is a few seconds old, so that long trials show life without flooding logs.
  void trial_reported(int number, int step, double value);
  /// A trial's own message (e.g. one per compression variant).
  void trial_progress(int number, const std::string& message);
  /// A strategy's own long work between trials (e.g. a darts supernet epoch).
  void strategy_progress(const std::string& message);
  /// Redraws the status line on a terminal (while worker processes run the trials).
  void status_line();
  /// Ends the status line on a terminal.
  void finish();
  /// Seconds since the display was created.
  double elapsed() const;

 private:
  void message_line(const std::string& what);
  std::string summary_text();

  static constexpr double kReportEveryS = 5;

  Study& study_;
  std::optional<int> n_trials_;
  double last_line_s_ = 0;
  bool quiet_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace nasforge
