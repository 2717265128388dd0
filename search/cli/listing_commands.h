#pragma once

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

}  // namespace nasforge
