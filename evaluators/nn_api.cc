#include "evaluators/nn_api.h"

#include "core/nn_module.h"

namespace nasforge {

const EvaluatorNnApi& evaluator_nn_api(const std::string& needed_for) {
  return static_cast<const EvaluatorNnApi&>(nn_module_table(kEvaluatorNnApiSymbol, kEvaluatorNnApiVersion, needed_for));
}

}  // namespace nasforge
