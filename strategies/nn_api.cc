#include "strategies/nn_api.h"

#include "core/nn_module.h"

namespace nasforge {

const StrategyNnApi& strategy_nn_api(const std::string& needed_for) {
  return static_cast<const StrategyNnApi&>(nn_module_table(kStrategyNnApiSymbol, kStrategyNnApiVersion, needed_for));
}

}  // namespace nasforge
