#include "search/cli/listing_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/cost/target_costs.h"
#include "evaluators/cost/target_profile.h"
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

// One way to ship one trial: its float network or a compression variant, priced on the target.
struct Candidate {
  int trial = 0;
  std::string variant;  // "fp32" for the float network
  double accuracy = 0;
  TargetCosts costs;
  std::string genotype;
  double excess = 0;     // sum of relative overshoots over the limits (0 = feasible)
  std::string misses;    // what is over, for the nearest miss
};

void add_limit(Candidate& c, const char* what, double value, const std::optional<double>& limit, const char* unit) {
  if (!limit || value <= *limit) return;
  c.excess += value / *limit - 1;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.4g %s > %.4g (by %.3g)", what, value, unit, *limit, value - *limit);
  c.misses += (c.misses.empty() ? "" : ", ") + std::string(buf);
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


int cmd_best_target(const CommonArgs& args, const BestTargetArgs& b, int top, const std::vector<std::string>& where) {
  if (args.study.empty()) throw UsageError("--study NAME is required");
  const TargetProfile target = load_target(b.target);
  std::vector<TrialFilter> filters;
  for (const auto& w : where) filters.push_back(TrialFilter::parse(w));
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  const std::vector<FrozenTrial> trials = filter_trials(study.trials({TrialState::kComplete}), filters);
  std::vector<Candidate> all;
  std::size_t without = 0;
  std::vector<std::string> variants_seen;
  for (const FrozenTrial& t : trials) {
    auto dep = t.user_attrs.find("deployment");
    if (dep == t.user_attrs.end() || !dep->second.is_object() || !dep->second.contains("")) {
      ++without;
      continue;
    }
    const Deployment fp32 = Deployment::from_json(dep->second[""]);
    for (const auto& [variant, json] : dep->second.items()) {
      const std::string name = variant.empty() ? "fp32" : variant;
      if (std::find(variants_seen.begin(), variants_seen.end(), name) == variants_seen.end()) {
        variants_seen.push_back(name);
      }
      if (b.variant != "any" && b.variant != name) continue;
      Candidate c;
      c.trial = t.number;
      c.variant = name;
      auto acc = t.user_attrs.find(variant.empty() ? "val_accuracy" : "val_accuracy_" + variant);
      if (acc == t.user_attrs.end() || !acc->second.is_number()) continue;
      c.accuracy = acc->second.get<double>();
      c.costs = predict_costs(variant.empty() ? fp32 : Deployment::from_json(json, &fp32.graph), target);
      auto g = t.user_attrs.find("genotype");
      if (g != t.user_attrs.end() && g->second.is_string()) c.genotype = g->second.get<std::string>();
      if (!c.costs.fits) {
        c.excess += 1;  // over the device's own memory: a miss whatever the flags say
        c.misses = c.costs.misses;
      }
      add_limit(c, "latency", c.costs.latency_ms, b.max_latency_ms, "ms");
      add_limit(c, "flash", static_cast<double>(c.costs.flash_bytes) / 1024, b.max_flash_kb, "KB");
      add_limit(c, "sram", static_cast<double>(c.costs.sram_bytes) / 1024, b.max_sram_kb, "KB");
      all.push_back(std::move(c));
    }
  }
  if (b.variant != "any" && std::find(variants_seen.begin(), variants_seen.end(), b.variant) == variants_seen.end() &&
      !variants_seen.empty()) {
    throw UsageError("--variant " + b.variant + ": no trial has it; the study's variants are " + join(variants_seen, ", ") +
                     " (or any)");
  }
  if (all.empty()) {
    std::cout << "No completed trial of study '" << args.study << "' has a stored deployment"
              << (without ? " (" + std::to_string(without) + " trained before nasforge stored them)" : "") << ".\n";
    return 0;
  }
  std::vector<Candidate> feasible;
  for (const Candidate& c : all) {
    if (c.excess == 0) feasible.push_back(c);
  }
  std::stable_sort(feasible.begin(), feasible.end(),
                   [](const Candidate& x, const Candidate& y) { return x.accuracy > y.accuracy; });
  const std::vector<std::string> header = {"trial", "variant", "val_accuracy", "latency_ms", "flash_kb", "sram_kb",
                                           "fits", "genotype"};
  auto row = [](const Candidate& c) {
    char kb[2][32];
    std::snprintf(kb[0], sizeof kb[0], "%.1f", static_cast<double>(c.costs.flash_bytes) / 1024);
    std::snprintf(kb[1], sizeof kb[1], "%.1f", static_cast<double>(c.costs.sram_bytes) / 1024);
    return std::vector<std::string>{std::to_string(c.trial), c.variant, format_double(std::round(c.accuracy * 1e4) / 1e4),
                                    fmt_ms(c.costs.latency_ms), kb[0], kb[1], c.costs.fits ? "true" : "false",
                                    c.genotype};
  };
  const bool table = args.format == "table";
  if (feasible.empty()) {
    const Candidate& near = *std::min_element(all.begin(), all.end(), [](const Candidate& x, const Candidate& y) {
      return x.excess < y.excess;
    });
    if (!table) {
      write_rows(std::cout, header, {}, parse_format(args.format));
      return 0;
    }
    std::cout << "Nothing of study '" << args.study << "' (" << all.size() << " trial/variant pairs) fits " << target.name
              << " under the given limits.\nNearest miss: trial " << near.trial << " " << near.variant << ": "
              << near.misses << ".\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < feasible.size() && static_cast<int>(i) < top; ++i) rows.push_back(row(feasible[i]));
  if (!table) {
    write_rows(std::cout, header, rows, parse_format(args.format));
    return 0;
  }
  std::cout << "Best of study '" << args.study << "' on " << target.name << " (" << target.device << "; "
            << target.runtime << "), " << feasible.size() << " of " << all.size() << " trial/variant pairs feasible:\n";
  write_rows(std::cout, header, rows, OutputFormat::kTable);
  // The accuracy-vs-latency trade-off: feasible pairs no other pair beats on both.
  std::vector<Candidate> front;
  std::vector<Candidate> by_latency = feasible;
  std::stable_sort(by_latency.begin(), by_latency.end(), [](const Candidate& x, const Candidate& y) {
    return x.costs.latency_ms < y.costs.latency_ms || (x.costs.latency_ms == y.costs.latency_ms && x.accuracy > y.accuracy);
  });
  for (const Candidate& c : by_latency) {
    if (front.empty() || c.accuracy > front.back().accuracy) front.push_back(c);
  }
  std::cout << "\nPareto front on " << target.name << " (val_accuracy vs predicted latency_ms):\n";
  rows.clear();
  for (const Candidate& c : front) rows.push_back(row(c));
  write_rows(std::cout, header, rows, OutputFormat::kTable);
  if (without) std::cout << "(" << without << " trial(s) without a stored deployment were skipped)\n";
  return 0;
}

}  // namespace nasforge
