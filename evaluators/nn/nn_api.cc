// The evaluators' exported entry point of libnasforge_nn.so; evaluator_nn_api() (evaluators/nn_api.cc) finds it.
#include "evaluators/nn/nn_api.h"

#include "evaluators/nn_api.h"

extern "C" __attribute__((visibility("default"))) const nasforge::NnTable* nasforge_evaluator_nn_api() {
  static const nasforge::EvaluatorNnApi api = [] {
    nasforge::EvaluatorNnApi a;
    a.version = nasforge::kEvaluatorNnApiVersion;
    a.make_train_objective = &nasforge::make_train_objective_nn;
    a.evaluate_bundle = &nasforge::evaluate_bundle_nn;
    a.measure_latencies = &nasforge::measure_latencies_nn;
    return a;
  }();
  return &api;
}
