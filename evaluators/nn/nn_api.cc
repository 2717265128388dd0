// The one exported symbol of libnasforge_nn.so; nn_api() in evaluators/nn_library.cc finds it.
#include "evaluators/nn/nn_api.h"

#include "evaluators/nn_library.h"
#include "strategies/nn/differentiable_search.h"
#include "strategies/nn/rl_controller.h"

extern "C" __attribute__((visibility("default"))) const nasforge::NnApi* nasforge_nn_api() {
  static const nasforge::NnApi api = [] {
    nasforge::NnApi a;
    a.version = nasforge::kNnApiVersion;
    a.make_train_objective = &nasforge::make_train_objective_nn;
    a.evaluate_bundle = &nasforge::evaluate_bundle_nn;
    a.make_rl_sampler = &nasforge::make_rl_sampler_nn;
    a.run_differentiable_search = &nasforge::run_differentiable_search_nn;
    return a;
  }();
  return &api;
}
