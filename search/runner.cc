#include "search/runner.h"

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <csignal>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "spaces/architecture.h"

namespace nasforge {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void handle_stop(int sig) {
  if (g_stop.exchange(true)) {
    // Second signal: the user insists. Storage writes are transactional, so leaving now cannot corrupt anything;
    // the trial in flight stays RUNNING until its heartbeat goes stale.
    _exit(130);
  }
}

/// Keeps a trial's heartbeat fresh from a background thread while the objective runs.
class HeartbeatThread {
 public:
  HeartbeatThread(Storage& storage, std::int64_t trial_id, double interval_s) {
    if (interval_s <= 0) return;
    thread_ = std::thread([this, &storage, trial_id, interval_s] {
      std::unique_lock<std::mutex> lock(mu_);
      auto period = std::chrono::duration<double>(interval_s);
      while (!cv_.wait_for(lock, period, [this] { return done_; })) {
        try {
          storage.record_heartbeat(trial_id);
        } catch (const std::exception&) {
          // A missed beat is harmless; the next one or the grace period covers it.
        }
      }
    });
  }
  HeartbeatThread(const HeartbeatThread&) = delete;
  HeartbeatThread& operator=(const HeartbeatThread&) = delete;
  ~HeartbeatThread() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

const std::atomic<bool>& install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = handle_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking waits (poll in the command objective) wake up
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return g_stop;
}

bool stop_requested() { return g_stop.load(); }

RunSummary optimize(Study& study, Objective& objective, const RunOptions& options) {
  using SteadyClock = std::chrono::steady_clock;
  const auto start = SteadyClock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(SteadyClock::now() - start).count(); };
  // The objective's hard budget filters proposals before they become trials (the sampler is asked again).
  const BudgetCheck over_budget = [&objective](const ParamMap& params) { return objective.reject(params); };
  const StudyOptions& so = study.options();
  auto stopping = [&] { return so.stop_flag != nullptr && so.stop_flag->load(); };
  RunSummary summary;

  while (true) {
    if (stopping()) {
      summary.interrupted = true;
      break;
    }
    if (options.timeout_s && elapsed() >= *options.timeout_s) {
      summary.timed_out = true;
      break;
    }
    std::optional<Trial> trial;
    try {
      trial = study.ask(options.n_trials, over_budget);
    } catch (const SpaceExhausted&) {
      summary.exhausted = true;
      break;
    }
    if (!trial) {
      // Every slot is taken. Trials of other workers may still fail and be re-enqueued, so wait for them rather
      // than exit early and leave a retry orphaned.
      TrialCounts c = study.counts();
      if (c.running == 0 && c.waiting == 0) break;
      std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_interval_s));
      continue;
    }

    TrialState state = TrialState::kFail;
    bool interrupted = false;
    {
      HeartbeatThread heartbeat(*study.storage(), trial->id(), so.heartbeat_interval_s);
      try {
        try {
          // The genotype is recorded before training so that a failed or pruned trial still names its network,
          // and an invalid one (InvalidArchitecture) fails here without any training.
          if (const auto& arch = study.space().architecture()) {
            trial->set_user_attr("genotype", arch->genotype(trial->params()));
          }
          std::vector<double> values = objective.evaluate(*trial);
          state = study.tell(*trial, values);
        } catch (const TrialPruned&) {
          state = study.tell(*trial, TrialState::kPruned);
        } catch (const Interrupted& e) {
          study.fail(*trial, std::string("interrupted: ") + e.what(), /*force_retry=*/true);
          interrupted = true;
        } catch (const StateError&) {
          throw;
        } catch (const StorageError&) {
          throw;
        } catch (const std::exception& e) {
          if (stopping()) {
            // The objective failed because we were interrupted (e.g. its child was killed by Ctrl-C).
            study.fail(*trial, std::string("interrupted: ") + e.what(), /*force_retry=*/true);
            interrupted = true;
          } else {
            state = study.tell(*trial, TrialState::kFail, e.what());
          }
        }
      } catch (const StateError& e) {
        // Another worker failed this trial after its heartbeat went stale (a stall longer than the grace period)
        // and re-enqueued it; our result is discarded and the retry runs it again. The study is still consistent.
        std::cerr << "nasforge: warning: " << e.what() << "\n";
        state = TrialState::kFail;
      }
    }
    if (interrupted) {
      summary.interrupted = true;
      break;
    }
    if (state == TrialState::kComplete) ++summary.completed;
    if (state == TrialState::kPruned) ++summary.pruned;
    if (state == TrialState::kFail) ++summary.failed;
    if (options.on_trial_finished) options.on_trial_finished(study.storage()->get_trial(trial->id()));
  }
  summary.elapsed_s = elapsed();
  return summary;
}

}  // namespace nasforge
