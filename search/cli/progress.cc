#include "search/cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "search/cli/printing.h"
#include "search/report.h"

namespace nasforge {

namespace {

/// The first line of a failure reason, cut to fit a progress line.
std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 160 ? line.substr(0, 157) + "..." : line;
}

}  // namespace

Progress::Progress(Study& study, std::optional<int> n_trials, bool quiet)
    : study_(study), n_trials_(n_trials), quiet_(quiet), tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void Progress::trial_finished(const FrozenTrial& t) {
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

void Progress::trial_reported(int number, int step, double value) {
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
void Progress::trial_progress(int number, const std::string& message) {
  message_line("trial " + std::to_string(number) + " " + message);
}

void Progress::strategy_progress(const std::string& message) { message_line("strategy: " + message); }

void Progress::message_line(const std::string& what) {
  if (quiet_) return;
  if (tty_) {
    std::cerr << "\r\033[K" << summary_text() << " | " << what << std::flush;
    return;
  }
  std::cerr << what << " | " << fmt_seconds(elapsed()) << std::endl;
}

void Progress::status_line() {
  if (quiet_ || !tty_) return;
  std::cerr << "\r\033[K" << summary_text() << std::flush;
}

void Progress::finish() {
  if (!quiet_ && tty_) std::cerr << "\r\033[K" << summary_text() << std::endl;
}

std::string Progress::summary_text() {
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

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace nasforge
