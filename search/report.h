#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "search/storage.h"
#include "spaces/trial.h"

namespace nasforge {

/// Output formats shared by every listing command.
enum class OutputFormat { kTable, kJson, kCsv };

/// Parses "table", "json" or "csv"; UsageError otherwise.
OutputFormat parse_format(const std::string& name);

/// Writes trials in `format` (JSON: an array of FrozenTrial::to_json objects).
void write_trials(std::ostream& out, const std::vector<FrozenTrial>& trials,
                  const std::vector<StudyDirection>& directions, OutputFormat format);

/// One row per study: name, directions, trial counts by state, best value.
void write_studies(std::ostream& out, const std::vector<StudyInfo>& studies, const std::vector<TrialCounts>& counts,
                   const std::vector<std::vector<FrozenTrial>>& bests, OutputFormat format);

/// "0.3979" or "[0.1, 0.2]" for a trial's values; "-" when it has none.
std::string format_values(const std::vector<double>& values);

/// "x=1, opt=adam" for a parameter map.
std::string format_params(const ParamMap& params);

}  // namespace nasforge
