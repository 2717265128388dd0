#pragma once

#include <optional>
#include <string>
#include <vector>

#include "search/cli/common_args.h"

namespace nasforge {

/// `nasforge studies`: one row per study of a storage.
int cmd_studies(const CommonArgs& args);

/// `nasforge trials`: the trials of a study, only those in `state_names` when given.
int cmd_trials(const CommonArgs& args, const std::vector<std::string>& state_names);

/// `nasforge best`: the `top` best completed trials (or the Pareto set) among those matching every `where`
/// filter, ordered by `sort` ("KEY[:asc|:desc]") when given.
int cmd_best(const CommonArgs& args, int top, const std::vector<std::string>& where, const std::string& sort);

/// The options of `nasforge best --target`.
struct BestTargetArgs {
  std::string target;                      ///< --target: shipped name or profile file.
  std::optional<double> max_latency_ms;    ///< --max-latency-ms.
  std::optional<double> max_flash_kb;      ///< --max-flash-kb (1 KB = 1024 bytes).
  std::optional<double> max_sram_kb;       ///< --max-sram-kb.
  std::string variant = "any";             ///< --variant NAME, "fp32" (the float network) or "any".
};

/// `nasforge best --target`: prices every (trial, variant) of a study on a target from its stored deployment, ranks
/// the feasible ones by accuracy, prints their accuracy-vs-latency Pareto front, or the nearest miss.
int cmd_best_target(const CommonArgs& args, const BestTargetArgs& b, int top, const std::vector<std::string>& where);

}  // namespace nasforge
