#pragma once

#include <string>
#include <vector>

#include "search/report.h"
#include "search/study.h"
#include "storage/storage.h"

namespace nasforge {

/// "1.25s", "12.5s" or "3m07s": durations in progress lines and run summaries.
std::string fmt_seconds(double s);

/// "0.253" or "47.29": a latency in milliseconds with 3 or 4 significant digits, for listings.
std::string fmt_ms(double ms);

/// A trial's parameters for one line: an architecture's many parameters are summarised by its genotype. `brief`
/// rounds numbers as format_values does.
std::string describe_params(const Study& study, const FrozenTrial& t, bool brief);

/// The summary on stdout after a run: trial counts, this run's time, then the best trial or the Pareto front.
void print_result(Study& study, const std::string& storage_url, double elapsed_s);

/// Table columns of a study: an architecture's parameters give way to its genotype and cost metrics, then the
/// user attributes in `extra_attrs` (the keys a listing filters or sorts by).
TableColumns table_columns(Storage& storage, const Study& study, const std::vector<std::string>& extra_attrs = {});

}  // namespace nasforge
