#include "search/cli/listing_commands.h"

#include <algorithm>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "search/cli/printing.h"
#include "search/cli/study_loader.h"
#include "search/report.h"
#include "search/study.h"
#include "search/trial_filter.h"

namespace nasforge {

namespace {

/// One stderr line for a stored name that breaks kStudyNameRule (written by an older nasforge): listing it is
/// harmless, but every command that touches its files refuses until it is renamed.
void warn_about_name(const std::string& name, const std::string& url) {
  if (auto problem = study_name_problem(name)) {
    std::cerr << "nasforge: warning: study " << quote_study_name(name) << " has a name that cannot be a folder ("
              << *problem << "); commands that touch its trial files refuse it. Rename it with 'nasforge rename "
              << "--storage " << redact_url(url) << " --study " << quote_study_name(name) << " --as NEW_NAME'\n";
  }
}

}  // namespace

int cmd_studies(const CommonArgs& args) {
  OutputFormat format = parse_format(args.format);
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  std::vector<StudyInfo> studies = storage->list_studies();
  for (const auto& s : studies) warn_about_name(s.name, args.storage);
  std::vector<TrialCounts> counts;
  std::vector<std::vector<FrozenTrial>> bests;
  for (const auto& s : studies) {
    counts.push_back(storage->count_trials(s.study_id));
    bests.push_back(pareto_front(storage->get_all_trials(s.study_id, {TrialState::kComplete}), s.directions));
  }
  write_studies(std::cout, studies, counts, bests, format);
  return 0;
}

int cmd_trials(const CommonArgs& args, const std::vector<std::string>& state_names) {
  OutputFormat format = parse_format(args.format);
  if (args.study.empty()) throw UsageError("--study NAME is required");
  std::vector<TrialState> states;
  for (const auto& s : state_names) {
    std::string upper = s;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    states.push_back(parse_trial_state(upper));
  }
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  warn_about_name(args.study, args.storage);
  write_trials(std::cout, study.trials(states), study.directions(), format, table_columns(*storage, study));
  return 0;
}

int cmd_best(const CommonArgs& args, int top, const std::vector<std::string>& where, const std::string& sort) {
  OutputFormat format = parse_format(args.format);
  if (args.study.empty()) throw UsageError("--study NAME is required");
  check(top >= 1, "--top must be >= 1, got " + std::to_string(top));
  std::vector<TrialFilter> filters;
  for (const auto& w : where) filters.push_back(TrialFilter::parse(w));
  std::optional<TrialOrder> order;
  if (!sort.empty()) order = TrialOrder::parse(sort);
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  warn_about_name(args.study, args.storage);
  std::vector<FrozenTrial> out = filter_trials(study.trials({TrialState::kComplete}), filters);
  if (order) {
    sort_trials(out, *order);
    if (static_cast<int>(out.size()) > top) out.resize(static_cast<std::size_t>(top));
  } else if (study.directions().size() == 1) {
    bool minimize = study.directions()[0] == StudyDirection::kMinimize;
    std::stable_sort(out.begin(), out.end(), [minimize](const FrozenTrial& a, const FrozenTrial& b) {
      return minimize ? a.values[0] < b.values[0] : a.values[0] > b.values[0];
    });
    if (static_cast<int>(out.size()) > top) out.resize(static_cast<std::size_t>(top));
  } else {
    out = pareto_front(out, study.directions());  // the whole set: --top does not rank incomparable trials
  }
  if (out.empty() && format == OutputFormat::kTable) {
    std::cout << "No completed trial in study '" << args.study << "'" << (filters.empty() ? " yet" : " matches --where")
              << ".\n";
    return 0;
  }
  std::vector<std::string> keys;
  for (const auto& f : filters) keys.push_back(f.key());
  if (order) keys.push_back(order->key);
  write_trials(std::cout, out, study.directions(), format, table_columns(*storage, study, keys));
  return 0;
}

}  // namespace nasforge
