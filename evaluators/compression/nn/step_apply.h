#pragma once

#include <string>

#include "evaluators/compression/compression_step.h"
#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/setting.h"

namespace nasforge {

/// The libtorch half of one compression step: rewrites `c` in place with the step's resolved `values`.
using StepApply = void (*)(CompressedNet& c, const SettingValues& values, const StepContext& ctx);

/// The libtorch half of the step named `name` (a step_catalog() name); StateError when step_apply.cc has no row
/// for it.
StepApply step_apply(const std::string& name);

}  // namespace nasforge
