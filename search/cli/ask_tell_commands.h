#pragma once

#include <string>
#include <vector>

#include "search/cli/common_args.h"

namespace nasforge {

/// `nasforge create`: creates the study of `file` without running it (for ask/tell).
int cmd_create(const std::string& file, CommonArgs args);

/// `nasforge validate`: reads `file` as a study file and reports the first problem (as an error) or what it holds.
int cmd_validate(const std::string& file);

/// `nasforge ask`: starts a trial and prints {number, params} as JSON; `force` goes past the study's target.
int cmd_ask(const CommonArgs& args, bool force);

/// `nasforge tell`: finishes RUNNING trial `number` with `values` (COMPLETE) or as `state_name` (pruned, fail) with
/// `reason`.
int cmd_tell(const CommonArgs& args, int number, const std::vector<double>& values, const std::string& state_name,
             const std::string& reason);

}  // namespace nasforge
