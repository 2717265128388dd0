#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "evaluators/cost/target_costs.h"
#include "evaluators/cost/target_profile.h"

namespace nasforge {

/// The per-target metrics a deployment gets, in the order stored: latency_ms, flash_bytes, sram_bytes, fits.
enum class TargetMetric { kLatencyMs, kFlashBytes, kSramBytes, kFits };

/// "latency_ms", "flash_bytes", "sram_bytes", "fits".
const char* to_string(TargetMetric metric);
/// The four metrics in storage order.
const std::vector<TargetMetric>& target_metrics();

/// The stored name of `metric` for the variant `variant` ("" = the float network) on target `target`:
/// "latency_ms@raspberry-pi-4", "sram_bytes_int8@stm32f746".
std::string target_metric_name(TargetMetric metric, const std::string& variant, const std::string& target);

/// The value of `metric` in `costs` (fits: 1 or 0).
double target_metric_value(TargetMetric metric, const TargetCosts& costs);

/// A hard limit on a target metric from a `budget:` key such as `latency_ms_int8@raspberry-pi-4: 5` or
/// `fits@stm32f746: true`.
struct TargetLimit {
  std::string key;            ///< The key as written.
  TargetMetric metric = TargetMetric::kLatencyMs;  ///< What is limited.
  std::string variant;        ///< "" = the float network, else a compression variant's name.
  std::size_t target = 0;     ///< Index into the objective's targets.
  double limit = 0;           ///< Inclusive upper limit (fits: must fit).

  /// Parses one budget key and its value against the objective's `targets` and `variants`; ConfigError at the
  /// key naming what is wrong and what is allowed.
  static TargetLimit read(const std::string& key, const ConfigNode& value, const std::vector<TargetProfile>& targets,
                          const std::vector<std::string>& variants);
  /// "latency_ms_int8@raspberry-pi-4 6.2 > budget 5" when `costs` exceed the limit, else "".
  std::string violation(const TargetCosts& costs) const;
};

}  // namespace nasforge
