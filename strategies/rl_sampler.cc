// The `rl` strategy's torch-free half: option checking at config load, and a proxy that loads the libtorch
// controller (strategies/nn/rl_controller.cc) on the first proposal, so validating a study file or listing trials
// never loads libtorch.
#include "strategies/rl_sampler.h"

#include <string>

#include "core/error.h"
#include "strategies/nn_api.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const IntKey kHiddenSize{"hidden_size", Range::closed(1, 4096), "LSTM hidden units of the controller"};
const IntKey kBins{"bins", Range::closed(2, 1000),
                   "values a float or int parameter is discretized into (log-spaced if log)"};
const NumberKey kLr{"lr", Range{0, /*min_open=*/true, 1}, "Adam learning rate of the controller"};
const NumberKey kBaselineDecay{"baseline_decay", Range{0, false, 1, /*max_open=*/true},
                               "moving-average baseline b <- decay*b + (1-decay)*reward"};
const NumberKey kEntropyWeight{"entropy_weight", Range::closed(0), "entropy bonus weight (exploration)"};
const NumberKey kTemperature{"temperature", Range{0, /*min_open=*/true}, "softmax temperature of the decision logits"};

class LazyRlSampler : public Sampler {
 public:
  LazyRlSampler(RlOptions options, SearchSpace space) : options_(options), space_(std::move(space)) {}

  ParamMap sample(const SampleContext& ctx) override {
    if (!impl_) impl_ = strategy_nn_api("the rl strategy").make_rl_sampler(options_, space_);
    return impl_->sample(ctx);
  }

 private:
  RlOptions options_;
  SearchSpace space_;
  std::unique_ptr<Sampler> impl_;
};

}  // namespace

RlOptions read_rl_options(SectionReader& options) {
  RlOptions o;
  o.hidden_size = options.integer(kHiddenSize, o.hidden_size);
  o.bins = options.integer(kBins, o.bins);
  o.lr = options.number(kLr, o.lr);
  o.baseline_decay = options.number(kBaselineDecay, o.baseline_decay);
  o.entropy_weight = options.number(kEntropyWeight, o.entropy_weight);
  o.temperature = options.number(kTemperature, o.temperature);
  return o;
}

void check_rl_options(const RlOptions& o) {
  kHiddenSize.check(o.hidden_size);
  kBins.check(o.bins);
  kLr.check(o.lr);
  kBaselineDecay.check(o.baseline_decay);
  kEntropyWeight.check(o.entropy_weight);
  kTemperature.check(o.temperature);
}

std::unique_ptr<Sampler> make_rl_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                         const StrategyEnv& env) {
  RlOptions o = read_rl_options(options);
  o.seed = seed;
  if (env.n_objectives != 1) {
    throw ValueError("the rl strategy optimises a single objective (its reward), the study has " +
                     std::to_string(env.n_objectives) + "; use tpe or random for several objectives");
  }
  return std::make_unique<LazyRlSampler>(o, space);
}

}  // namespace nasforge
