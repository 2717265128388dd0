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
  o.hidden_size = options.integer("hidden_size", o.hidden_size, "LSTM hidden units of the controller");
  options.require(o.hidden_size >= 1 && o.hidden_size <= 4096, "hidden_size",
                  "must be in [1, 4096], got " + std::to_string(o.hidden_size));
  o.bins = options.integer("bins", o.bins, "values a float or int parameter is discretized into (log-spaced if log)");
  options.require(o.bins >= 2 && o.bins <= 1000, "bins", "must be in [2, 1000], got " + std::to_string(o.bins));
  o.lr = options.number("lr", o.lr, "Adam learning rate of the controller");
  options.require(o.lr > 0 && o.lr <= 1, "lr", "must be in (0, 1], got " + std::to_string(o.lr));
  o.baseline_decay =
      options.number("baseline_decay", o.baseline_decay, "moving-average baseline b <- decay*b + (1-decay)*reward");
  options.require(o.baseline_decay >= 0 && o.baseline_decay < 1, "baseline_decay",
                  "must be in [0, 1), got " + std::to_string(o.baseline_decay));
  o.entropy_weight = options.number("entropy_weight", o.entropy_weight, "entropy bonus weight (exploration)");
  options.require(o.entropy_weight >= 0, "entropy_weight", "must be >= 0, got " + std::to_string(o.entropy_weight));
  o.temperature = options.number("temperature", o.temperature, "softmax temperature of the decision logits");
  options.require(o.temperature > 0, "temperature", "must be > 0, got " + std::to_string(o.temperature));
  return o;
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
