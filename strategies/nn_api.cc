#include "strategies/nn_api.h"

#include "core/nn_module.h"

namespace nasforge {

const StrategyNnApi& strategy_nn_api(const std::string& needed_for) {
  using Entry = const StrategyNnApi* (*)();
  const auto entry = reinterpret_cast<Entry>(nn_module_symbol(kStrategyNnApiSymbol, needed_for));
  const StrategyNnApi* api = entry();
  check_nn_module_version("strategy entry points", api->version, kStrategyNnApiVersion, needed_for);
  return *api;
}

}  // namespace nasforge
