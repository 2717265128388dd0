// The strategies' exported entry point of libnasforge_nn.so; strategy_nn_api() (strategies/nn_api.cc) finds it.
#include "strategies/nn_api.h"
#include "strategies/nn/differentiable_search.h"
#include "strategies/nn/rl_controller.h"

extern "C" __attribute__((visibility("default"))) const nasforge::NnTable* nasforge_strategy_nn_api() {
  static const nasforge::StrategyNnApi api = [] {
    nasforge::StrategyNnApi a;
    a.version = nasforge::kStrategyNnApiVersion;
    a.make_rl_sampler = &nasforge::make_rl_sampler_nn;
    a.run_differentiable_search = &nasforge::run_differentiable_search_nn;
    return a;
  }();
  return &api;
}
