#pragma once

#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "storage/storage.h"
#include "spaces/trial.h"

namespace nasforge {

/// Output formats shared by every listing command.
enum class OutputFormat { kTable, kJson, kCsv };

/// Parses "table", "json" or "csv"; UsageError otherwise.
OutputFormat parse_format(const std::string& name);

/// What the table format shows besides number, state, values and duration (CSV and JSON always show everything).
struct TableColumns {
  std::set<std::string> hide_params;  ///< Parameters left out (e.g. an architecture's, summarised by its genotype).
  std::vector<std::string> attrs;     ///< User attributes shown as columns, in this order, when any trial has them;
                                      ///< "prefix_*" stands for every attribute starting with "prefix_".
};

/// Writes trials in `format` (JSON: an array of FrozenTrial::to_json objects).
void write_trials(std::ostream& out, const std::vector<FrozenTrial>& trials,
                  const std::vector<StudyDirection>& directions, OutputFormat format, const TableColumns& columns = {});

/// One row per study: name, directions, trial counts by state, best value.
void write_studies(std::ostream& out, const std::vector<StudyInfo>& studies, const std::vector<TrialCounts>& counts,
                   const std::vector<std::vector<FrozenTrial>>& bests, OutputFormat format);

/// Writes a table of text cells in `format`: aligned columns under a rule, CSV (quoted where needed), or a JSON
/// array of objects whose cells are numbers, booleans or strings as their text reads.
void write_rows(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, OutputFormat format);

/// "0.397887" or "[0.1, 0.2]" for a trial's values; "-" when it has none. `brief` rounds to 6 significant
/// digits for progress lines; otherwise values round-trip exactly.
std::string format_values(const std::vector<double>& values, bool brief = false);

/// "x=1, opt=adam" for a parameter map; `brief` as for format_values.
std::string format_params(const ParamMap& params, bool brief = false);

}  // namespace nasforge
