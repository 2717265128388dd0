#include "evaluators/cost/target_budget.h"

#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

const char* to_string(TargetMetric metric) {
  switch (metric) {
    case TargetMetric::kLatencyMs: return "latency_ms";
    case TargetMetric::kFlashBytes: return "flash_bytes";
    case TargetMetric::kSramBytes: return "sram_bytes";
    case TargetMetric::kFits: return "fits";
  }
  return "?";
}

const std::vector<TargetMetric>& target_metrics() {
  static const std::vector<TargetMetric> kAll = {TargetMetric::kLatencyMs, TargetMetric::kFlashBytes,
                                                 TargetMetric::kSramBytes, TargetMetric::kFits};
  return kAll;
}

std::string target_metric_name(TargetMetric metric, const std::string& variant, const std::string& target) {
  return std::string(to_string(metric)) + (variant.empty() ? "" : "_" + variant) + "@" + target;
}

double target_metric_value(TargetMetric metric, const TargetCosts& costs) {
  switch (metric) {
    case TargetMetric::kLatencyMs: return costs.latency_ms;
    case TargetMetric::kFlashBytes: return static_cast<double>(costs.flash_bytes);
    case TargetMetric::kSramBytes: return static_cast<double>(costs.sram_bytes);
    case TargetMetric::kFits: return costs.fits ? 1 : 0;
  }
  return 0;
}

TargetLimit TargetLimit::read(const std::string& key, const ConfigNode& value, const std::vector<TargetProfile>& targets,
                              const std::vector<std::string>& variants) {
  TargetLimit t;
  t.key = key;
  const std::size_t at = key.rfind('@');
  const std::string metric_part = key.substr(0, at), target_name = key.substr(at + 1);
  std::vector<std::string> names;
  for (const TargetProfile& p : targets) names.push_back(p.name);
  bool found = false;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].name == target_name) t.target = i, found = true;
  }
  if (!found) {
    value.fail("budget key '" + key + "' names target '" + target_name + "', which is not in the objective's targets: " +
               (names.empty() ? std::string("(none; add targets: [" + target_name + "])") : join(names, ", ")) +
               did_you_mean(target_name, names));
  }
  // Every metric of the fp32 network and of each variant on this target, spelt as target_metric_name spells it.
  std::vector<std::string> with_fp32 = {""};
  with_fp32.insert(with_fp32.end(), variants.begin(), variants.end());
  found = false;
  std::vector<std::string> allowed;
  for (TargetMetric m : target_metrics()) {
    for (const std::string& v : with_fp32) {
      allowed.push_back(target_metric_name(m, v, target_name));
      if (allowed.back() == key) t.metric = m, t.variant = v, found = true;
    }
  }
  if (!found) {
    value.fail("unknown budget metric '" + metric_part + "' in '" + key + "'" + did_you_mean(key, allowed) +
               "; allowed for this target: " + join(allowed, ", "));
  }
  if (t.metric == TargetMetric::kFits) {
    if (!value.is_scalar() || value.scalar() != "true") {
      value.fail("'" + key + "' can only be true (candidates that do not fit are not trained), got " + value.describe());
    }
    t.limit = 1;
  } else {
    t.limit = value.as_double();
    if (!(t.limit > 0) || !std::isfinite(t.limit)) {
      value.fail("'" + key + "' must be a positive limit, got " + value.describe());
    }
  }
  return t;
}

std::string TargetLimit::violation(const TargetCosts& costs) const {
  if (metric == TargetMetric::kFits) return costs.fits ? "" : key + " is false (" + costs.misses + ")";
  const double v = target_metric_value(metric, costs);
  if (v <= limit) return "";
  return key + " " + format_double(metric == TargetMetric::kLatencyMs ? std::round(v * 1000) / 1000 : v) +
         " > budget " + format_double(limit);
}

}  // namespace nasforge
