#include "search/cli/printing.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <utility>

#include "core/config.h"
#include "core/error.h"
#include "spaces/architecture.h"

namespace nasforge {

namespace {

/// The trial's parameters without those of the study's architecture, and its genotype ("" when it has none).
std::pair<ParamMap, std::string> split_architecture(const Study& study, const FrozenTrial& t) {
  ParamMap plain = t.params;
  const auto& arch = study.space().architecture();
  auto g = t.user_attrs.find("genotype");
  if (!arch || g == t.user_attrs.end()) return {plain, ""};
  for (const auto& spec : arch->parameters()) plain.erase(spec.name);
  return {plain, g->second.is_string() ? g->second.get<std::string>() : g->second.dump()};
}

/// The architecture section of a stored study file, or nullptr. Read on its own (not the whole file) so that
/// listing commands neither need the objective's data nor load libtorch.
std::shared_ptr<const ArchitectureSpace> stored_architecture(Storage& storage, const Study& study) {
  StudyInfo info = storage.get_study(study.id());
  auto it = info.system_attrs.find(study_attr::kConfig);
  if (it == info.system_attrs.end()) return nullptr;
  try {
    ConfigNode section = ConfigNode::parse_string(it->second.get<std::string>(), "<stored config>").get("architecture");
    if (!section.defined() || section.is_null()) return nullptr;
    return make_architecture(section);
  } catch (const Error&) {
    return nullptr;  // only affects which columns a table shows
  }
}

}  // namespace

std::string fmt_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.3f" : "%.2f", ms);
  return buf;
}

std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.2fs", s);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

std::string describe_params(const Study& study, const FrozenTrial& t, bool brief) {
  auto [plain, genotype] = split_architecture(study, t);
  if (genotype.empty()) return format_params(plain, brief);
  return plain.empty() ? "genotype=" + genotype : format_params(plain, brief) + ", genotype=" + genotype;
}

void print_result(Study& study, const std::string& storage_url, double elapsed_s) {
  TrialCounts c = study.counts();
  std::cout << "Study '" << study.name() << "' (" << redact_url(storage_url) << "): " << c.finished() << " finished ("
            << c.complete << " complete, " << c.pruned << " pruned, " << c.failed - c.retried << " failed";
  if (c.retried) std::cout << ", " << c.retried << " failed and retried";
  std::cout << ")";
  if (c.running || c.waiting) std::cout << ", " << c.running << " running, " << c.waiting << " waiting";
  std::cout << "; this run took " << fmt_seconds(elapsed_s) << "\n";
  auto best = study.best_trials();
  if (best.empty()) {
    std::cout << "No trial has completed yet.\n";
    return;
  }
  if (study.directions().size() == 1) {
    const FrozenTrial& b = best[0];
    std::cout << "Best trial " << b.number << ": value " << format_values(b.values) << "\n";
    auto [plain, genotype] = split_architecture(study, b);
    if (!genotype.empty()) std::cout << "  genotype = " << genotype << "\n";
    for (const auto& [k, v] : plain) std::cout << "  " << k << " = " << v.to_string() << "\n";
    return;
  }
  std::cout << "Pareto front: " << best.size() << " trial(s)\n";
  for (std::size_t i = 0; i < best.size() && i < 10; ++i) {
    std::cout << "  trial " << best[i].number << ": values " << format_values(best[i].values) << " ["
              << describe_params(study, best[i], false) << "]\n";
  }
  if (best.size() > 10) std::cout << "  ... (nasforge best lists them all)\n";
}

TableColumns table_columns(Storage& storage, const Study& study, const std::vector<std::string>& extra_attrs) {
  TableColumns c;
  if (auto arch = stored_architecture(storage, study)) {
    for (const auto& spec : arch->parameters()) c.hide_params.insert(spec.name);
    // Compression variants add val_accuracy_<v> and size_bytes_<v>: fp32 and compressed side by side.
    c.attrs = {"genotype", "val_accuracy", "val_accuracy_*", "params", "macs", "latency_ms", "size_bytes",
               "size_bytes_*"};
  }
  for (const auto& a : extra_attrs) {
    if (std::find(c.attrs.begin(), c.attrs.end(), a) == c.attrs.end()) c.attrs.push_back(a);
  }
  return c;
}

}  // namespace nasforge
