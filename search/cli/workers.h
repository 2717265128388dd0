#pragma once

#include <optional>
#include <string>

#include "search/cli/progress.h"
#include "search/runner.h"

namespace nasforge {

/// Runs `workers` child processes of this executable (`nasforge worker`) on study `study_name` in `storage_url`
/// until they all exit, redrawing `progress` meanwhile. A stop signal is forwarded to them once; Error when any of
/// them failed.
RunSummary run_workers(const std::string& study_name, const std::string& storage_url, int workers,
                       std::optional<double> timeout_s, Progress& progress);

}  // namespace nasforge
