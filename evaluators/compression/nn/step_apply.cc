#include "evaluators/compression/nn/step_apply.h"

#include <vector>

#include "core/error.h"
#include "evaluators/compression/nn/cluster.h"
#include "evaluators/compression/nn/prune.h"
#include "evaluators/compression/nn/quantize.h"

namespace nasforge {

namespace {

// One row per step of step_types(), keyed by its name; each builds its options from the resolved values.
struct StepApplyRow {
  const char* name;
  StepApply apply;
};

// clang-format off
const std::vector<StepApplyRow> kStepApplyRows = {
    {"quantize", [](CompressedNet& c, const SettingValues& v, const StepContext& ctx) {
       quantize_post_training(c, QuantizeOptions::from(v), ctx.data, ctx.eval_batch_size);
     }},
    {"qat", [](CompressedNet& c, const SettingValues& v, const StepContext& ctx) {
       quantize_aware_training(c, QatOptions::from(v), ctx);
     }},
    {"prune", [](CompressedNet& c, const SettingValues& v, const StepContext& ctx) {
       prune(c, PruneOptions::from(v), ctx);
     }},
    {"cluster", [](CompressedNet& c, const SettingValues& v, const StepContext& ctx) {
       cluster_weights(c, ClusterOptions::from(v), ctx);
     }},
};
// clang-format on

}  // namespace

StepApply step_apply(const std::string& name) {
  for (const auto& row : kStepApplyRows) {
    if (name == row.name) return row.apply;
  }
  throw StateError("compression step '" + name +
                   "' has no libtorch implementation (a row in evaluators/compression/nn/step_apply.cc)");
}

}  // namespace nasforge
