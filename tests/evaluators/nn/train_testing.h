#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "evaluators/fake_trial.h"
#include "evaluators/nn/trainer.h"
#include "spaces/architecture.h"
#include "testing.h"

namespace nasforge::testing {

/// A chain small enough to train in well under a second on 8x8 images: stem conv, one stride-2 stage.
inline constexpr const char* kTinyChain =
    "type: chain\n"
    "stem: {channels: 8}\n"
    "stages: [{depth: [1], widths: [16], stride: 2}]\n"
    "ops: [conv, dwsep]\n"
    "kernels: [3]\n";

/// 256 synthetic 1x8x8 images of 4 classes, 64 of them held out for validation.
inline constexpr const char* kTinyData =
    "dataset: {format: synthetic, size: 256, classes: 4, shape: [1, 8, 8], val_size: 64, seed: 3}\n";

/// kTinyData as tensors on the CPU, for tests that call the trainer or compression steps directly.
inline TrainData tiny_tensors() {
  DatasetOptions o;
  o.format = "synthetic";
  o.synthetic_size = 256;
  o.synthetic_classes = 4;
  o.synthetic_shape = Shape{1, 8, 8};
  o.val_size = 64;
  o.seed = 3;
  return to_tensors(load_dataset(o), AugmentOptions{}, torch::kCPU);
}

/// Settings that keep a trial fast and reproducible: one CPU thread, few latency runs.
inline constexpr const char* kFastSettings = "device: cpu\nthreads: 1\nlatency: {runs: 3, warmup: 1}\n";

/// Fixture for train objective tests: a search space with a tiny chain architecture.
class TrainTest : public NasforgeTest {
 protected:
  /// `params_yaml` (a `space:` mapping or "") plus the architecture `arch_yaml`.
  static SearchSpace make_space(const std::string& params_yaml, const std::string& arch_yaml = kTinyChain) {
    SearchSpace space = params_yaml.empty() ? SearchSpace() : parse_space(params_yaml);
    space.set_architecture(make_architecture(ConfigNode::parse_string(arch_yaml, "arch.yaml")));
    return space;
  }
  /// The `train` objective for `extra` keys on top of kTinyData and kFastSettings.
  static std::unique_ptr<Objective> objective(const std::string& extra, const SearchSpace& space,
                                              std::size_t n_objectives = 1) {
    return build_objective(std::string("kind: train\n") + kTinyData + kFastSettings + extra, space, n_objectives);
  }
  /// The architecture parameters of `genotype` plus `extra`.
  static ParamMap params_of(const SearchSpace& space, const std::string& genotype, const ParamMap& extra = {}) {
    ParamMap p = space.architecture()->params(genotype);
    for (const auto& [k, v] : extra) p[k] = v;
    return p;
  }
};

}  // namespace nasforge::testing
