#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "spaces/search_space.h"
#include "strategies/rl_sampler.h"
#include "strategies/sampler.h"

namespace nasforge {

/// One pass of the controller over an assignment of the space, in space order.
struct RlRollout {
  ParamMap params;                    ///< The assignment: fixed or replayed values as given, sampled ones added.
  std::vector<std::size_t> decided;   ///< Index (in space.params()) of each decision's parameter.
  std::vector<std::int64_t> choices;  ///< Chosen bin of each decision.
  std::vector<torch::Tensor> logits;  ///< Tempered logits of each decision (1-D, part of the autograd graph).
  torch::Tensor log_prob;             ///< Sum of the decisions' log-probabilities (scalar).
  torch::Tensor entropy;              ///< Sum of the decisions' entropies (scalar).
};

/// The ENAS / Zoph & Le controller: an LSTM cell that takes one decision per active parameter (a categorical's
/// choice, or one of `bins` values of a number), fed the embedding of its previous decision, trained with
/// REINFORCE (moving-average baseline, advantages divided by the running std of rewards, entropy bonus, Adam).
/// Runs on the CPU: it is a few thousand weights and one step per trial.
class RlController {
 public:
  /// A controller for `space` whose initial weights are determined by options.seed.
  RlController(const RlOptions& options, const SearchSpace& space);

  /// Samples every active parameter not in `fixed` (fixed values are kept and condition later decisions).
  RlRollout sample(const ParamMap& fixed, std::mt19937_64& rng);
  /// The rollout that produces `params` (every active parameter given; numbers snap to their nearest bin), with
  /// gradients; nullopt when an active parameter is missing or a categorical value is not among its choices.
  std::optional<RlRollout> score(const ParamMap& params);
  /// REINFORCE loss of a scored rollout: -advantage * log_prob - entropy_weight * entropy.
  torch::Tensor loss(const RlRollout& rollout, double advantage) const;
  /// One Adam step on loss(rollout, advantage).
  void step(const RlRollout& rollout, double advantage);
  /// Learns from one evaluated assignment (`reward`: higher is better): advantage from the baseline and the
  /// running reward std, one policy-gradient step, then the baseline moves. Returns the advantage used, or
  /// nullopt when `params` cannot be scored (nothing changes then).
  std::optional<double> learn(const ParamMap& params, double reward);

  /// The values (internal representation) parameter `index` of the space is discretized into, ascending.
  const std::vector<double>& bins(std::size_t index) const { return bins_[index]; }
  /// Choice probabilities of every decision of `params`' rollout, without gradients (tests, diagnostics).
  std::vector<torch::Tensor> probabilities(const ParamMap& params);
  /// The moving-average baseline (nullopt before the first reward).
  std::optional<double> baseline() const { return baseline_; }

 private:
  std::optional<RlRollout> rollout(const ParamMap& given, std::mt19937_64* rng);
  std::int64_t nearest_bin(std::size_t index, const ParamValue& value) const;

  RlOptions options_;
  SearchSpace space_;
  std::vector<std::vector<double>> bins_;      // per parameter, internal values
  std::vector<std::vector<double>> bin_keys_;  // the same in the space bins are evenly spaced in (log for log)
  torch::nn::LSTMCell cell_{nullptr};
  torch::Tensor start_;  // learnt input of the first decision
  std::vector<torch::nn::Linear> heads_;
  std::vector<torch::nn::Embedding> embeddings_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::optional<double> baseline_;
  std::int64_t n_rewards_ = 0;
  double reward_mean_ = 0, reward_m2_ = 0;  // Welford running moments of the rewards
};

/// The `rl` strategy's sampler: an LSTM controller (libtorch) emitting one decision per parameter, trained with
/// REINFORCE on the completed trials it has not learnt from yet (reached through strategy_nn_api()).
std::unique_ptr<Sampler> make_rl_sampler_nn(const RlOptions& options, const SearchSpace& space);

}  // namespace nasforge
