// One DARTS (Liu et al., ICLR 2019) or GDAS (Dong & Yang, CVPR 2019) search on the data of the study's `train`
// objective. The training split is cut in two (shuffled with the seed): supernet weights learn on the first part,
// architecture logits on the rest, alternating one architecture step and one weight step per batch. After each
// epoch the argmax cell is derived; the DARTS+ rule (Liang et al., 2019) stops the search once that cell has more
// than max_skip skip connections, the symptom of the skip-connection collapse of long DARTS runs.
#include "strategies/nn/differentiable_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/nn/trainer.h"
#include "spaces/nasbench201.h"
#include "spaces/nn/graph_module.h"
#include "strategies/nn/supernet.h"

namespace nasforge {

namespace {

namespace F = torch::nn::functional;
using SteadyClock = std::chrono::steady_clock;

// Samples scored for the per-epoch supernet accuracy: enough for a stable trend, cheap next to an epoch.
constexpr std::int64_t kMaxEvalSamples = 2048;

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

void check_finite(double value, const std::string& what, int epoch, std::int64_t batch) {
  if (!std::isfinite(value)) {
    throw ObjectiveError("supernet " + what + " is " + (std::isnan(value) ? "nan" : "inf") + " at epoch " +
                         std::to_string(epoch) + ", batch " + std::to_string(batch) +
                         " (lower w_lr or arch_lr, or raise grad_clip)");
  }
}

class Search {
 public:
  Search(const DifferentiableOptions& o, const CellSkeleton& cell, const TrainConfig& train,
         const std::function<void(const std::string&)>& progress)
      : o_(o),
        cell_(cell),
        train_(train),
        progress_(progress),
        gen_(at::detail::createCPUGenerator(o.seed)),
        gumbel_gen_(at::detail::createCPUGenerator(o.seed ^ 0x5851f42d4c957f2dULL)) {}

  DifferentiableResult run() {
    const auto started = SteadyClock::now();
    const std::string method = o_.gdas ? "gdas" : "darts";
    torch::Device device = resolve_device(train_.device);
    if (train_.threads > 0) torch::set_num_threads(static_cast<int>(train_.threads));
    data_ = to_tensors(load_dataset(train_.dataset), train_.dataset.augment, device);

    const std::int64_t n = data_.train.size();
    const auto n_arch = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * o_.arch_fraction));
    const std::int64_t n_weight = n - n_arch;
    if (n_arch < 2 || n_weight < 2) {
      throw ObjectiveError("the " + method + " search splits the " + std::to_string(n) +
                           " training samples into weight and architecture parts (arch_fraction " +
                           format_double(o_.arch_fraction) + "), leaving " + std::to_string(n_weight) + " and " +
                           std::to_string(n_arch) + "; each needs at least 2");
    }
    torch::Tensor perm = torch::randperm(n, gen_, torch::kLong).to(device);
    weight_idx_ = perm.slice(0, 0, n_weight);
    arch_idx_ = perm.slice(0, n_weight, n);

    CellSkeleton skeleton = cell_;
    if (o_.channels > 0) skeleton.channels = o_.channels;
    if (o_.cells_per_stage > 0) skeleton.cells_per_stage = o_.cells_per_stage;
    seed_torch(o_.seed);
    net_ = Supernet(skeleton, data_.shape, data_.num_classes);
    net_->to(device);
    weights_ = net_->weight_parameters();
    torch::optim::SGD w_opt(weights_,
                            torch::optim::SGDOptions(o_.w_lr).momentum(o_.w_momentum).weight_decay(o_.w_weight_decay));
    torch::optim::Adam a_opt(
        std::vector<torch::Tensor>{net_->alpha()},
        torch::optim::AdamOptions(o_.arch_lr).betas({0.5, 0.999}).weight_decay(o_.arch_weight_decay));
    const double max_macs = net_->max_macs();

    const std::int64_t batch = std::min(o_.batch_size, n_weight);
    const std::int64_t arch_batch = std::min(o_.batch_size, n_arch);
    // Trailing partial batches are dropped: a batch of one cannot be batch-normalized.
    const std::int64_t iters = std::max<std::int64_t>(1, n_weight / batch);
    const std::int64_t arch_iters = std::max<std::int64_t>(1, n_arch / arch_batch);

    Json epochs = Json::array();
    CollapseGuard guard(o_.max_skip);
    std::string final_genotype;
    torch::Tensor arch_perm;
    std::int64_t arch_pos = arch_iters;  // forces a fresh permutation on first use
    for (int epoch = 1; epoch <= o_.epochs; ++epoch) {
      const auto epoch_start = SteadyClock::now();
      const double progress = o_.epochs > 1 ? static_cast<double>(epoch - 1) / static_cast<double>(o_.epochs - 1) : 0;
      // Per-epoch cosine schedule, as in DARTS and NAS-Bench-201.
      const double lr =
          o_.w_lr_min + (o_.w_lr - o_.w_lr_min) * 0.5 *
                            (1 + std::cos(M_PI * static_cast<double>(epoch - 1) / static_cast<double>(o_.epochs)));
      tau_ = o_.tau_max - (o_.tau_max - o_.tau_min) * progress;
      for (auto& group : w_opt.param_groups()) group.options().set_lr(lr);
      net_->train();
      torch::Tensor w_perm = weight_idx_.index_select(0, torch::randperm(n_weight, gen_, torch::kLong).to(device));
      double loss_sum = 0, arch_loss_sum = 0;
      std::int64_t seen = 0;
      for (std::int64_t b = 0; b < iters; ++b) {
        torch::Tensor idx = w_perm.slice(0, b * batch, (b + 1) * batch);
        torch::Tensor xw = prepare_batch(data_, data_.train.x.index_select(0, idx), true, &gen_);
        torch::Tensor yw = data_.train.y.index_select(0, idx);
        if (arch_pos >= arch_iters) {
          arch_perm = arch_idx_.index_select(0, torch::randperm(n_arch, gen_, torch::kLong).to(device));
          arch_pos = 0;
        }
        torch::Tensor aidx = arch_perm.slice(0, arch_pos * arch_batch, (arch_pos + 1) * arch_batch);
        ++arch_pos;
        torch::Tensor xa = prepare_batch(data_, data_.train.x.index_select(0, aidx), true, &gen_);
        torch::Tensor ya = data_.train.y.index_select(0, aidx);

        // Architecture step.
        a_opt.zero_grad();
        torch::Tensor arch_loss = arch_grad(xw, yw, xa, ya, lr);
        if (o_.cost_weight > 0) {
          torch::Tensor cost = o_.cost_weight * net_->expected_macs() / max_macs;
          net_->alpha().mutable_grad() = net_->alpha().grad() + grads_of(cost, {net_->alpha()})[0];
        }
        a_opt.step();

        // Weight step, with the architecture held fixed (no gradient to alpha).
        ArchSample arch = o_.gdas ? net_->gumbel_sample(tau_, gumbel_gen_) : net_->softmax_weights(true);
        arch.weights = arch.weights.detach();
        torch::Tensor loss = F::cross_entropy(net_->forward(xw, arch), yw);
        w_opt.zero_grad();
        loss.backward();
        if (o_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(weights_, o_.grad_clip);
        w_opt.step();
        const double value = loss.item<double>();
        check_finite(value, "training loss", epoch, b + 1);
        loss_sum += value * static_cast<double>(batch);
        arch_loss_sum += arch_loss.item<double>() * static_cast<double>(arch_batch);
        seen += batch;
      }
      check_finite(net_->alpha().sum().item<double>(), "architecture parameter", epoch, iters);

      const std::string genotype = net_->derive();
      const std::vector<std::string> ops = parse_nasbench201_arch(genotype);
      const std::vector<std::int64_t> derived = op_indices(ops);
      const double accuracy = evaluate(derived);
      const int skips = count_skips(ops);
      const double expected = net_->expected_macs().item<double>();
      double cell_macs = 0;
      for (std::int64_t k : derived) cell_macs += net_->op_macs(k);
      const double seconds = seconds_since(epoch_start);
      Json record = {{"epoch", epoch},
                     {"train_loss", loss_sum / static_cast<double>(seen)},
                     {"arch_loss", arch_loss_sum / static_cast<double>(iters * arch_batch)},
                     {"val_accuracy", accuracy},
                     {"genotype", genotype},
                     {"skip_connects", skips},
                     {"probs", probs_json()},
                     {"expected_macs", expected},
                     {"genotype_cell_macs", cell_macs},
                     {"w_lr", lr},
                     {"time_s", seconds}};
      if (o_.gdas) record["tau"] = tau_;
      epochs.push_back(record);
      if (progress_) {
        char line[512];
        std::snprintf(line, sizeof line, "epoch %d/%lld: loss %.4f, supernet acc %.4f, %s (%d skip), %.1f s", epoch,
                      static_cast<long long>(o_.epochs), loss_sum / static_cast<double>(seen), accuracy,
                      genotype.c_str(), skips, seconds);
        progress_(line);
      }
      if (guard.observe(genotype)) {
        // With no earlier epoch to fall back on, the excess skip edges take their next-best op instead.
        final_genotype = guard.result().empty() ? net_->derive(o_.max_skip) : guard.result();
        if (progress_) {
          progress_("collapse remedy: " + std::to_string(skips) + " skip connections > max_skip " +
                    std::to_string(o_.max_skip) + "; stopping with " + final_genotype);
        }
        break;
      }
      final_genotype = genotype;
    }
    const bool stopped = guard.collapse_epoch() > 0;

    DifferentiableResult r;
    r.genotype = final_genotype;
    r.search_time_s = seconds_since(started);
    Json alpha = Json::array();
    torch::Tensor a = net_->alpha().detach().to(torch::kCPU, torch::kDouble).contiguous();
    for (std::int64_t e = 0; e < a.size(0); ++e) {
      Json row = Json::array();
      for (std::int64_t k = 0; k < a.size(1); ++k) row.push_back(a[e][k].item<double>());
      alpha.push_back(row);
    }
    r.details = {
        {"method", method},
        {"ops", net_->ops()},
        {"edges", nasbench201_edges()},
        {"epochs", epochs},
        {"alpha", alpha},
        {"final_probs", probs_json()},
        {"genotype", final_genotype},
        {"stopped_for_collapse", stopped},
        {"max_skip", o_.max_skip},
        {"cost_weight", o_.cost_weight},
        {"max_expected_macs", max_macs},
        {"supernet",
         {{"channels", skeleton.channels}, {"cells_per_stage", skeleton.cells_per_stage}, {"stages", skeleton.stages}}},
        {"weight_samples", n_weight},
        {"arch_samples", n_arch},
        {"device", device.str()},
        {"search_time_s", r.search_time_s}};
    if (!o_.gdas) r.details["order"] = o_.order;
    if (stopped) r.details["collapse_epoch"] = guard.collapse_epoch();
    return r;
  }

 private:
  // Sets alpha.grad to the architecture gradient and returns the architecture loss.
  torch::Tensor arch_grad(const torch::Tensor& xw, const torch::Tensor& yw, const torch::Tensor& xa,
                          const torch::Tensor& ya, double lr) {
    if (!o_.gdas) {
      auto [grad, loss] = darts_alpha_grad(net_, weights_, xw, yw, xa, ya, lr, o_.w_weight_decay, o_.order);
      net_->alpha().mutable_grad() = grad;
      return loss;
    }
    torch::Tensor loss = F::cross_entropy(net_->forward(xa, net_->gumbel_sample(tau_, gumbel_gen_)), ya);
    net_->alpha().mutable_grad() = grads_of(loss, {net_->alpha()})[0];
    return loss.detach();
  }

  // Supernet accuracy on (up to kMaxEvalSamples of) the architecture split: the softmax mixture for DARTS; for
  // GDAS the derived cell's path, normalized with batch statistics: the running BatchNorm statistics were
  // gathered over randomly sampled paths and do not fit any single one (with them it scores near chance).
  // `derived`: the op index of each edge of the epoch's derived cell.
  double evaluate(const std::vector<std::int64_t>& derived) {
    torch::NoGradGuard no_grad;
    ArchSample arch;
    if (o_.gdas) {
      net_->train();  // only the running statistics, unused while searching, change
      arch.sampled = derived;
      torch::Tensor index = torch::tensor(arch.sampled, torch::kLong).to(net_->alpha().device());
      arch.weights = torch::zeros_like(net_->alpha()).scatter_(1, index.unsqueeze(1), 1.0);
    } else {
      net_->eval();
      arch = net_->softmax_weights(true);
    }
    const std::int64_t n = std::min(arch_idx_.size(0), kMaxEvalSamples);
    const std::int64_t step = std::max<std::int64_t>(1, train_.eval_batch_size);
    std::int64_t correct = 0;
    for (std::int64_t s = 0; s < n; s += step) {
      torch::Tensor idx = arch_idx_.slice(0, s, std::min(n, s + step));
      torch::Tensor logits =
          net_->forward(prepare_batch(data_, data_.train.x.index_select(0, idx), false, nullptr), arch);
      correct += logits.argmax(1).eq(data_.train.y.index_select(0, idx)).sum().item<std::int64_t>();
    }
    net_->train();
    return n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0;
  }

  // Index in the supernet's op list of each of `ops` (all of them are among its ops: they come from derive()).
  std::vector<std::int64_t> op_indices(const std::vector<std::string>& ops) const {
    std::vector<std::int64_t> out;
    for (const auto& op : ops)
      out.push_back(std::find(net_->ops().begin(), net_->ops().end(), op) - net_->ops().begin());
    return out;
  }

  // softmax(alpha) per edge as {edge: {op: p}}.
  Json probs_json() const {
    torch::Tensor p = torch::softmax(net_->alpha().detach(), 1).to(torch::kCPU, torch::kDouble).contiguous();
    Json out = Json::object();
    for (std::size_t e = 0; e < 6; ++e) {
      Json row = Json::object();
      for (std::size_t k = 0; k < net_->ops().size(); ++k) {
        row[net_->ops()[k]] = p[static_cast<std::int64_t>(e)][static_cast<std::int64_t>(k)].item<double>();
      }
      out[nasbench201_edges()[e]] = row;
    }
    return out;
  }

  const DifferentiableOptions& o_;
  const CellSkeleton& cell_;
  const TrainConfig& train_;
  const std::function<void(const std::string&)>& progress_;
  at::Generator gen_;
  at::Generator gumbel_gen_;
  TrainData data_;
  torch::Tensor weight_idx_, arch_idx_;
  Supernet net_{nullptr};
  std::vector<torch::Tensor> weights_;
  double tau_ = 1;
};

}  // namespace

DifferentiableResult run_differentiable_search_nn(const DifferentiableOptions& options, const CellSkeleton& cell,
                                                  const TrainConfig& train,
                                                  const std::function<void(const std::string&)>& progress) {
  try {
    return Search(options, cell, train, progress).run();
  } catch (const c10::Error& e) {
    throw ObjectiveError(std::string(options.gdas ? "gdas" : "darts") +
                         " supernet search failed in libtorch: " + e.what_without_backtrace());
  }
}

}  // namespace nasforge
