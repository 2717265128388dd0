#pragma once

#include <optional>
#include <string>

namespace nasforge {

/// Values of the options shared by several commands; app.cc binds them to the command line.
struct CommonArgs {
  std::string storage;             ///< --storage URL ("" when not given).
  std::string study;               ///< --study name ("" when not given).
  std::string format = "table";    ///< --format: table, json or csv.
  std::optional<int> n_trials;     ///< --n-trials: a new target number of finished trials.
  std::optional<double> timeout_s; ///< --timeout: start no trial after this many seconds.
  int workers = 1;                 ///< --workers: processes sharing the study.
  std::optional<int> worker_index; ///< --worker-index of `nasforge worker`.
  bool quiet = false;              ///< --quiet: no progress output.
  std::string device = "auto";     ///< --device: auto, cpu or cuda.
};

}  // namespace nasforge
