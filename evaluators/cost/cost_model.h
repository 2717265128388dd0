#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/json.h"
#include "evaluators/cost/target_budget.h"
#include "spaces/net_graph.h"

namespace nasforge {

/// Deployment costs of a network for batch-1 inference, counted analytically from its NetGraph.
struct CostMetrics {
  std::int64_t params = 0;                 ///< Trainable parameters as libtorch counts them (BatchNorm affine included).
  std::int64_t macs = 0;                   ///< Multiply-accumulates of the conv and linear layers.
  std::int64_t size_bytes = 0;             ///< fp32 bytes of the deployed weights (BatchNorm folded into its conv).
  std::int64_t peak_activation_bytes = 0;  ///< Largest fp32 live set of activations over the layer order (MCUNet).

  /// {"params":..,"macs":..,"size_bytes":..,"peak_mem_bytes":..}: the names stored with each trial.
  Json to_json() const;
};

/// Hard upper limits on a candidate's costs (the `budget:` key of a train objective); a candidate over any of them
/// is rejected before it is trained. Limits are inclusive; an absent one is no limit.
struct CostBudget {
  std::optional<std::int64_t> params;          ///< Trainable parameters.
  std::optional<std::int64_t> macs;            ///< Multiply-accumulates of one inference.
  std::optional<std::int64_t> size_bytes;      ///< fp32 deployed weight bytes.
  std::optional<std::int64_t> peak_mem_bytes;  ///< Peak activation memory.
  std::vector<TargetLimit> on_targets;         ///< Limits on device-target metrics (keys with '@').

  /// Reads a `budget:` mapping; keys with '@' limit the metrics of `targets` (for the float network or one of
  /// `variants`). ConfigError naming the key and value for unknown keys and non-positive limits.
  static CostBudget from_config(const ConfigNode& section, const std::vector<TargetProfile>& targets = {},
                                const std::vector<std::string>& variants = {});
  /// True when no limit is set.
  bool empty() const { return !params && !macs && !size_bytes && !peak_mem_bytes && on_targets.empty(); }
  /// Why `costs` exceed the budget ("macs 5123456 > budget 4000000"; every exceeded limit), or nullopt. Target
  /// limits read `price(target index, variant)`, which they need only when there are any.
  std::optional<std::string> violation(
      const CostMetrics& costs,
      const std::function<TargetCosts(std::size_t target, const std::string& variant)>& price = {}) const;
};

/// Counts params, MACs, size and peak activation memory of `graph`. Activations, BatchNorm and dropout run in
/// place when their input is not read later; see docs/objectives.md for the exact conventions.
CostMetrics analyze_costs(const NetGraph& graph);

}  // namespace nasforge
