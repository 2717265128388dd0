// The `rl` strategy's controller (Zoph & Le 2017, ENAS-style): an LSTM cell takes one decision per active
// parameter, in space order, fed the embedding of its previous decision; REINFORCE trains it on completed trials.
#include "strategies/nn/rl_controller.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "core/error.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

// Initial weights as ENAS draws them: small, so the first proposals are close to uniform.
constexpr double kInitScale = 0.1;
// Normalised advantages are clipped: one outlier (a NAS-Bench-201 cell without a path, 10% accuracy among ~85%)
// must not erase what a hundred trials taught.
constexpr double kMaxAdvantage = 3.0;

std::vector<double> make_bins(const Distribution& d, std::int64_t n_bins) {
  if (d.kind() == DistributionKind::kCategorical) {
    std::vector<double> v(d.choices().size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
    return v;
  }
  if (d.single()) return {d.low()};
  std::optional<std::size_t> card = d.cardinality();
  std::vector<double> v;
  if (card && *card <= static_cast<std::size_t>(n_bins)) {
    for (std::size_t i = 0; i < *card; ++i) v.push_back(d.discrete_value(i));
    return v;
  }
  const double lo = d.log() ? std::log(d.low()) : d.low();
  const double hi = d.log() ? std::log(d.high()) : d.high();
  for (std::int64_t k = 0; k < n_bins; ++k) {
    const double key = lo + (hi - lo) * static_cast<double>(k) / static_cast<double>(n_bins - 1);
    double x = std::clamp(d.log() ? std::exp(key) : key, d.low(), d.high());
    if (k == 0) x = d.low();  // exactly: exp(log(low)) may miss it by an ulp
    if (k == n_bins - 1) x = d.high();
    if (card) {
      // Onto the grid by index, so that a high bound off the grid never yields an off-grid value.
      auto i = std::llround((x - d.low()) / *d.step());
      x = d.discrete_value(static_cast<std::size_t>(std::clamp<long long>(i, 0, static_cast<long long>(*card) - 1)));
    }
    v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

class RlSampler : public Sampler {
 public:
  RlSampler(const RlOptions& options, const SearchSpace& space) : options_(options), controller_(options, space) {}

  ParamMap sample(const SampleContext& ctx) override {
    learn_new(ctx);
    // The proposal's randomness depends only on the seed and the history size (plus a counter for proposals the
    // study rejected), so a resumed study draws what the uninterrupted one would have drawn.
    const std::uint64_t n = ctx.trials.size();
    if (n != last_size_) {
      last_size_ = n;
      repeats_ = 0;
    }
    std::mt19937_64 rng(derive_seed(derive_seed(options_.seed, n), repeats_++));
    return controller_.sample(ctx.fixed, rng).params;
  }

 private:
  void learn_new(const SampleContext& ctx) {
    std::vector<const FrozenTrial*> fresh;
    for (const FrozenTrial& t : ctx.trials) {
      if (t.state != TrialState::kComplete || t.values.size() != 1 || learnt_.count(t.number)) continue;
      fresh.push_back(&t);
    }
    std::sort(fresh.begin(), fresh.end(),
              [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; });
    const bool minimize = !ctx.directions.empty() && ctx.directions[0] == StudyDirection::kMinimize;
    for (const FrozenTrial* t : fresh) {
      learnt_.insert(t->number);
      const double reward = minimize ? -t->values[0] : t->values[0];
      if (std::isfinite(reward)) controller_.learn(t->params, reward);
    }
  }

  RlOptions options_;
  RlController controller_;
  std::set<int> learnt_;
  std::uint64_t last_size_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t repeats_ = 0;
};

}  // namespace

RlController::RlController(const RlOptions& options, const SearchSpace& space) : options_(options), space_(space) {
  check_rl_options(options);
  const std::int64_t h = options.hidden_size;
  cell_ = torch::nn::LSTMCell(torch::nn::LSTMCellOptions(h, h));
  start_ = torch::zeros({1, h});
  for (const ParamSpec& spec : space_.params()) {
    bins_.push_back(make_bins(spec.distribution, options.bins));
    std::vector<double> keys = bins_.back();
    if (spec.distribution.kind() != DistributionKind::kCategorical && spec.distribution.log()) {
      for (double& k : keys) k = std::log(k);
    }
    bin_keys_.push_back(std::move(keys));
    const auto n = static_cast<std::int64_t>(bins_.back().size());
    heads_.emplace_back(torch::nn::LinearOptions(h, n));
    embeddings_.emplace_back(torch::nn::EmbeddingOptions(n, h));
  }
  parameters_ = cell_->parameters();
  parameters_.push_back(start_);
  for (auto& m : heads_) {
    for (auto& p : m->parameters()) parameters_.push_back(p);
  }
  for (auto& m : embeddings_) {
    for (auto& p : m->parameters()) parameters_.push_back(p);
  }
  {
    torch::NoGradGuard no_grad;
    at::Generator gen = at::detail::createCPUGenerator(options.seed);
    for (auto& p : parameters_) p.uniform_(-kInitScale, kInitScale, gen);
  }
  start_.set_requires_grad(true);
  optimizer_ = std::make_unique<torch::optim::Adam>(parameters_, torch::optim::AdamOptions(options.lr));
}

std::int64_t RlController::nearest_bin(std::size_t index, const ParamValue& value) const {
  const Distribution& d = space_.params()[index].distribution;
  if (d.kind() == DistributionKind::kCategorical) {
    try {
      return static_cast<std::int64_t>(d.to_internal(value));
    } catch (const ValueError&) {
      return -1;
    }
  }
  if (!value.is_number()) return -1;
  const double x = value.as_double();
  if (std::isnan(x)) return -1;
  const double key = d.log() ? (x > 0 ? std::log(x) : -std::numeric_limits<double>::infinity()) : x;
  const std::vector<double>& keys = bin_keys_[index];
  std::int64_t best = 0;
  for (std::size_t k = 1; k < keys.size(); ++k) {
    if (std::abs(keys[k] - key) < std::abs(keys[static_cast<std::size_t>(best)] - key)) {
      best = static_cast<std::int64_t>(k);
    }
  }
  return best;
}

std::optional<RlRollout> RlController::rollout(const ParamMap& given, std::mt19937_64* rng) {
  RlRollout r;
  r.params = given;
  const std::int64_t h = options_.hidden_size;
  torch::Tensor hx = torch::zeros({1, h}), cx = torch::zeros({1, h});
  torch::Tensor input = start_;
  std::vector<torch::Tensor> log_probs, entropies;
  const auto& params = space_.params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamSpec& spec = params[i];
    if (!space_.is_active(spec, r.params)) continue;
    std::tie(hx, cx) = cell_->forward(input, std::make_tuple(hx, cx));
    torch::Tensor logits = heads_[i]->forward(hx).squeeze(0) / options_.temperature;
    torch::Tensor logp = torch::log_softmax(logits, 0);
    std::int64_t choice = -1;
    auto it = given.find(spec.name);
    if (it != given.end()) {
      choice = nearest_bin(i, it->second);
      if (choice < 0 && rng) {
        throw ValueError("rl: fixed value '" + it->second.to_string() + "' of parameter '" + spec.name +
                         "' is not in " + spec.distribution.describe());
      }
      if (choice < 0) return std::nullopt;
    } else if (rng) {
      // Inverse CDF with the platform-independent uniform01, so that a seed gives the same proposals everywhere.
      torch::Tensor p = logp.detach().exp().to(torch::kDouble).contiguous();
      const double* pp = p.data_ptr<double>();
      const auto n = p.size(0);
      double u = uniform01(*rng), acc = 0;
      choice = n - 1;
      for (std::int64_t k = 0; k < n; ++k) {
        acc += pp[k];
        if (u < acc) {
          choice = k;
          break;
        }
      }
      r.params[spec.name] = spec.distribution.to_external(bins_[i][static_cast<std::size_t>(choice)]);
    } else {
      return std::nullopt;
    }
    r.decided.push_back(i);
    r.choices.push_back(choice);
    r.logits.push_back(logits);
    log_probs.push_back(logp[choice]);
    entropies.push_back(-(logp.exp() * logp).sum());
    input = embeddings_[i]->forward(torch::tensor({choice}, torch::kLong));
  }
  r.log_prob = log_probs.empty() ? torch::zeros({}) : torch::stack(log_probs).sum();
  r.entropy = entropies.empty() ? torch::zeros({}) : torch::stack(entropies).sum();
  return r;
}

RlRollout RlController::sample(const ParamMap& fixed, std::mt19937_64& rng) {
  torch::NoGradGuard no_grad;
  return *rollout(fixed, &rng);
}

std::optional<RlRollout> RlController::score(const ParamMap& params) {
  return rollout(params, nullptr);
}

torch::Tensor RlController::loss(const RlRollout& rollout, double advantage) const {
  return -advantage * rollout.log_prob - options_.entropy_weight * rollout.entropy;
}

void RlController::step(const RlRollout& rollout, double advantage) {
  optimizer_->zero_grad();
  torch::Tensor l = loss(rollout, advantage);
  if (l.requires_grad()) {
    l.backward();
    optimizer_->step();
  }
}

std::optional<double> RlController::learn(const ParamMap& params, double reward) {
  std::optional<RlRollout> r = score(params);
  if (!r) return std::nullopt;
  // Welford moments: dividing by the reward std makes the step size independent of the objective's scale
  // (HPOLib MSEs of 1e-4 and NAS-Bench-201 accuracies of 90 learn alike).
  ++n_rewards_;
  const double delta = reward - reward_mean_;
  reward_mean_ += delta / static_cast<double>(n_rewards_);
  reward_m2_ += delta * (reward - reward_mean_);
  const double b = baseline_.value_or(reward);
  const double sd = n_rewards_ > 1 ? std::sqrt(reward_m2_ / static_cast<double>(n_rewards_ - 1)) : 0.0;
  double advantage = 0;
  if (sd > 1e-12 * std::max(1.0, std::abs(reward_mean_))) {
    advantage = std::clamp((reward - b) / sd, -kMaxAdvantage, kMaxAdvantage);
  }
  step(*r, advantage);
  baseline_ = options_.baseline_decay * b + (1 - options_.baseline_decay) * reward;
  return advantage;
}

std::vector<torch::Tensor> RlController::probabilities(const ParamMap& params) {
  torch::NoGradGuard no_grad;
  std::optional<RlRollout> r = score(params);
  check(r.has_value(),
        "RlController::probabilities: the assignment misses an active parameter or has a value "
        "outside its choices");
  std::vector<torch::Tensor> out;
  for (const auto& l : r->logits) out.push_back(torch::softmax(l, 0));
  return out;
}

std::unique_ptr<Sampler> make_rl_sampler_nn(const RlOptions& options, const SearchSpace& space) {
  return std::make_unique<RlSampler>(options, space);
}

}  // namespace nasforge
