#include "evaluators/nn_api.h"

#include "core/nn_module.h"

namespace nasforge {

const EvaluatorNnApi& evaluator_nn_api(const std::string& needed_for) {
  using Entry = const EvaluatorNnApi* (*)();
  const auto entry = reinterpret_cast<Entry>(nn_module_symbol(kEvaluatorNnApiSymbol, needed_for));
  const EvaluatorNnApi* api = entry();
  check_nn_module_version("evaluator entry points", api->version, kEvaluatorNnApiVersion, needed_for);
  return *api;
}

}  // namespace nasforge
