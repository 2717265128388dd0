// The weight-sharing supernet of the `darts` and `gdas` strategies (Liu et al., ICLR 2019; Dong & Yang, CVPR
// 2019), in the NAS-Bench-201 form both were benchmarked in: one cell topology (4 nodes, 6 edges) repeated in
// every stage, one set of architecture logits shared by all cells.
#include "strategies/nn/supernet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/strings.h"
#include "spaces/nasbench201.h"

namespace nasforge {

namespace {

namespace nn = torch::nn;

int conv_kernel(const std::string& op) {
  if (op == "nor_conv_1x1") return 1;
  if (op == "nor_conv_3x3") return 3;
  return 0;
}

// NAS-Bench-201's ReLUConvBN; its search networks use BN without affine parameters on the cell edges.
nn::Sequential relu_conv_bn(std::int64_t in, std::int64_t out, int kernel, int stride, bool affine) {
  return nn::Sequential(nn::ReLU(),
                        nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)),
                        nn::BatchNorm2d(nn::BatchNorm2dOptions(out).affine(affine)));
}

}  // namespace

MixedOpImpl::MixedOpImpl(std::int64_t channels, const std::vector<std::string>& ops) : ops_(ops) {
  for (std::size_t k = 0; k < ops_.size(); ++k) {
    const std::string& op = ops_[k];
    const auto& valid = nasbench201_ops();
    if (std::find(valid.begin(), valid.end(), op) == valid.end()) {
      throw ValueError("unknown supernet op '" + op + "'; ops: " + join(valid, ", "));
    }
    const int kernel = conv_kernel(op);
    if (kernel > 0) {
      convs_.push_back(register_module("op" + std::to_string(k) + "_" + op,
                                       relu_conv_bn(channels, channels, kernel, 1, /*affine=*/false)));
    } else {
      convs_.emplace_back(nullptr);
    }
  }
}

torch::Tensor MixedOpImpl::forward_op(const torch::Tensor& x, std::int64_t k) {
  const auto i = static_cast<std::size_t>(k);
  const std::string& op = ops_.at(i);
  if (op == "none") return torch::zeros_like(x);
  if (op == "skip_connect") return x;
  if (op == "avg_pool_3x3") {
    return torch::avg_pool2d(x, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
  }
  return convs_[i]->forward(x);
}

torch::Tensor MixedOpImpl::forward(const torch::Tensor& x, const torch::Tensor& weights) {
  torch::Tensor out;
  for (std::size_t k = 0; k < ops_.size(); ++k) {
    // `none` adds w * 0: skipping it changes neither the value nor any gradient.
    if (ops_[k] == "none") continue;
    torch::Tensor term = weights[static_cast<std::int64_t>(k)] * forward_op(x, static_cast<std::int64_t>(k));
    out = out.defined() ? out + term : term;
  }
  return out.defined() ? out : torch::zeros_like(x);
}

torch::Tensor MixedOpImpl::forward_sampled(const torch::Tensor& x, const torch::Tensor& weights, std::int64_t index) {
  return weights[index] * forward_op(x, index);
}

SearchCellImpl::SearchCellImpl(std::int64_t channels, const std::vector<std::string>& ops) {
  const auto& names = nasbench201_edges();
  for (const auto& name : names) edges_.push_back(register_module(name, MixedOp(channels, ops)));
}

torch::Tensor SearchCellImpl::forward(const torch::Tensor& x, const torch::Tensor& weights,
                                      const std::vector<std::int64_t>& sampled) {
  std::array<torch::Tensor, 4> node = {x, {}, {}, {}};
  for (int j = 1; j < 4; ++j) {
    torch::Tensor sum;
    for (int i = 0; i < j; ++i) {
      const std::size_t e = nasbench201_edge_index(j, i);
      const auto row = static_cast<std::int64_t>(e);
      torch::Tensor term =
          sampled.empty() ? edges_[e]->forward(node[static_cast<std::size_t>(i)], weights[row])
                          : edges_[e]->forward_sampled(node[static_cast<std::size_t>(i)], weights[row], sampled[e]);
      sum = sum.defined() ? sum + term : term;
    }
    node[static_cast<std::size_t>(j)] = sum;
  }
  return node[3];
}

SupernetImpl::SupernetImpl(const CellSkeleton& cell, const Shape& input, int num_classes) : ops_(cell.ops) {
  check(!ops_.empty(), "a supernet needs at least one op");
  check(cell.channels >= 1 && cell.cells_per_stage >= 1 && cell.stages >= 1,
        "supernet skeleton needs channels, cells_per_stage and stages >= 1");
  // DARTS and NAS-Bench-201 start the logits near zero (1e-3 * N(0, 1)): every op equally likely.
  alpha_ = register_parameter("alpha", 1e-3 * torch::randn({6, static_cast<std::int64_t>(ops_.size())}));
  std::int64_t c = cell.channels;
  stem_ = register_module(
      "stem", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(input.c, c, 3).padding(1).bias(false)), nn::BatchNorm2d(c)));
  std::int64_t h = input.h, w = input.w;
  op_macs_.assign(ops_.size(), 0.0);
  for (std::int64_t s = 1; s <= cell.stages; ++s) {
    for (std::int64_t k = 0; k < cell.cells_per_stage; ++k) {
      const std::size_t index = cells_.size();
      if (s > 1 && k == 0) {
        if (h < 2 || w < 2 || h % 2 != 0 || w % 2 != 0) {
          throw ValueError("input " + input.to_string() + " is too small for a supernet of " +
                           std::to_string(cell.stages) + " stages: the reduction before stage " + std::to_string(s) +
                           " needs an even feature map of at least 2x2, got " + std::to_string(h) + "x" +
                           std::to_string(w));
        }
        const std::int64_t prev = c;
        c *= 2;
        h /= 2;
        w /= 2;
        const std::string name = "reduce" + std::to_string(s);
        // ResNet basic block: ReLU-Conv(s2)-BN-ReLU-Conv-BN (flat: a nested Sequential has no AnyModule forward).
        nn::Sequential main(nn::ReLU(), nn::Conv2d(nn::Conv2dOptions(prev, c, 3).stride(2).padding(1).bias(false)),
                            nn::BatchNorm2d(c), nn::ReLU(),
                            nn::Conv2d(nn::Conv2dOptions(c, c, 3).padding(1).bias(false)), nn::BatchNorm2d(c));
        reduce_main_.push_back(register_module(name + "_main", main));
        reduce_short_.push_back(
            register_module(name + "_shortcut", nn::Sequential(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)),
                                                               nn::Conv2d(nn::Conv2dOptions(prev, c, 1).bias(false)))));
      } else {
        reduce_main_.emplace_back(nullptr);
        reduce_short_.emplace_back(nullptr);
      }
      cells_.push_back(register_module("cell" + std::to_string(index), SearchCell(c, ops_)));
      for (std::size_t o = 0; o < ops_.size(); ++o) {
        const int kernel = conv_kernel(ops_[o]);
        op_macs_[o] += static_cast<double>(kernel * kernel) * static_cast<double>(c * c * h * w);
      }
    }
  }
  head_ = register_module(
      "head", nn::Sequential(nn::BatchNorm2d(c), nn::ReLU(), nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)),
                             nn::Flatten(), nn::Linear(c, num_classes)));
}

torch::Tensor SupernetImpl::forward(const torch::Tensor& x, const ArchSample& arch) {
  torch::Tensor y = stem_->forward(x);
  for (std::size_t i = 0; i < cells_.size(); ++i) {
    if (!reduce_main_[i].is_empty()) y = reduce_main_[i]->forward(y) + reduce_short_[i]->forward(y);
    y = cells_[i]->forward(y, arch.weights, arch.sampled);
  }
  return head_->forward(y);
}

ArchSample SupernetImpl::softmax_weights(bool detach) const {
  ArchSample a;
  a.weights = torch::softmax(detach ? alpha_.detach() : alpha_, 1);
  return a;
}

ArchSample SupernetImpl::gumbel_sample(double tau, at::Generator& gen) const {
  const auto n = alpha_.size(1);
  torch::Tensor log_p = torch::log_softmax(alpha_, 1);
  // Uniform noise away from 0 and 1 keeps -log(-log(u)) finite (NAS-Bench-201 redraws instead).
  torch::Tensor u = torch::rand({6, n}, gen, torch::TensorOptions().dtype(torch::kFloat)).clamp_(1e-10, 1 - 1e-7);
  torch::Tensor gumbel = u.log().neg().log().neg().to(alpha_.device());
  torch::Tensor probs = torch::softmax((log_p + gumbel) / tau, 1);
  torch::Tensor index = probs.argmax(1);
  torch::Tensor one_hot = torch::zeros_like(probs).scatter_(1, index.unsqueeze(1), 1.0);
  ArchSample a;
  // Forward value one_hot, gradient of the soft probabilities (straight-through).
  a.weights = one_hot - probs.detach() + probs;
  torch::Tensor cpu = index.to(torch::kCPU);
  for (std::int64_t e = 0; e < 6; ++e) a.sampled.push_back(cpu[e].item<std::int64_t>());
  return a;
}

std::vector<torch::Tensor> SupernetImpl::weight_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    if (item.key() != "alpha") out.push_back(item.value());
  }
  return out;
}

std::string SupernetImpl::derive(std::int64_t max_skip) const {
  torch::NoGradGuard no_grad;
  return nasbench201_arch(derive_ops(torch::softmax(alpha_, 1), ops_, max_skip));
}

torch::Tensor SupernetImpl::expected_macs() const {
  torch::Tensor macs = torch::tensor(std::vector<double>(op_macs_.begin(), op_macs_.end()), torch::kDouble)
                           .to(alpha_.device(), torch::kFloat);
  return (torch::softmax(alpha_, 1) * macs.unsqueeze(0)).sum();
}

double SupernetImpl::max_macs() const {
  return 6.0 * *std::max_element(op_macs_.begin(), op_macs_.end());
}

int count_skips(const std::vector<std::string>& ops) {
  return static_cast<int>(std::count(ops.begin(), ops.end(), "skip_connect"));
}

bool collapsed(const std::string& genotype, std::int64_t max_skip) {
  return max_skip >= 0 && count_skips(parse_nasbench201_arch(genotype)) > max_skip;
}

bool CollapseGuard::observe(const std::string& genotype) {
  ++epochs_;
  if (collapse_epoch_ > 0) return true;
  if (collapsed(genotype, max_skip_)) {
    collapse_epoch_ = epochs_;
    if (epochs_ == 1) result_.clear();
    return true;
  }
  result_ = genotype;
  return false;
}

std::vector<torch::Tensor> grads_of(const torch::Tensor& loss, const std::vector<torch::Tensor>& inputs) {
  std::vector<torch::Tensor> g =
      torch::autograd::grad({loss}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false, /*create_graph=*/false,
                            /*allow_unused=*/true);
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!g[i].defined()) g[i] = torch::zeros_like(inputs[i]);
  }
  return g;
}

std::pair<torch::Tensor, torch::Tensor> darts_alpha_grad(Supernet& net, const std::vector<torch::Tensor>& weights,
                                                         const torch::Tensor& xw, const torch::Tensor& yw,
                                                         const torch::Tensor& xa, const torch::Tensor& ya, double xi,
                                                         double weight_decay, int order) {
  namespace F = torch::nn::functional;
  torch::Tensor alpha = net->alpha();
  if (order != 2) {
    torch::Tensor loss = F::cross_entropy(net->forward(xa, net->softmax_weights(false)), ya);
    return {grads_of(loss, {alpha})[0], loss.detach()};
  }
  std::vector<torch::Tensor> backup;
  for (const auto& w : weights) backup.push_back(w.detach().clone());
  {
    // w' = w - xi * (dL_train/dw + weight_decay * w): the next SGD step without momentum.
    std::vector<torch::Tensor> g =
        grads_of(F::cross_entropy(net->forward(xw, net->softmax_weights(true)), yw), weights);
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i].sub_(xi * (g[i] + weight_decay * backup[i]));
  }
  torch::Tensor val_loss = F::cross_entropy(net->forward(xa, net->softmax_weights(false)), ya);
  std::vector<torch::Tensor> inputs = {alpha};
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  std::vector<torch::Tensor> g = grads_of(val_loss, inputs);
  torch::Tensor d_alpha = g[0];
  torch::Tensor norm_sq = torch::zeros({}, alpha.options());
  for (std::size_t i = 1; i < g.size(); ++i) norm_sq = norm_sq + g[i].pow(2).sum();
  const double norm = std::sqrt(norm_sq.item<double>());
  if (norm > 0 && xi > 0) {
    // d/dalpha of L_val(w - xi * dL_train/dw(w, alpha), alpha) = dL_val/dalpha - xi * H v, with the Hessian-vector
    // product H v = d^2 L_train / dalpha dw * dL_val/dw' from gradients at w +- eps * v.
    const double eps = 0.01 / norm;
    auto train_grad_at = [&](double sign) {
      {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < weights.size(); ++i) weights[i].copy_(backup[i] + sign * eps * g[i + 1]);
      }
      return grads_of(F::cross_entropy(net->forward(xw, net->softmax_weights(false)), yw), {alpha})[0];
    };
    torch::Tensor plus = train_grad_at(1.0);
    torch::Tensor minus = train_grad_at(-1.0);
    d_alpha = d_alpha - xi * (plus - minus) / (2 * eps);
  }
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i].copy_(backup[i]);
  }
  return {d_alpha, val_loss.detach()};
}

std::vector<std::string> derive_ops(const torch::Tensor& probs, const std::vector<std::string>& ops,
                                    std::int64_t max_skip) {
  torch::Tensor p = probs.detach().to(torch::kCPU, torch::kDouble).contiguous();
  check(p.dim() == 2 && p.size(0) == 6 && p.size(1) == static_cast<std::int64_t>(ops.size()),
        "architecture weights must be [6, " + std::to_string(ops.size()) + "]");
  auto acc = p.accessor<double, 2>();
  const auto n = static_cast<std::int64_t>(ops.size());
  // Best op of edge e among those not excluded; -1 when every op is excluded.
  auto best = [&](std::int64_t e, bool no_none, bool no_skip) {
    std::int64_t arg = -1;
    for (std::int64_t k = 0; k < n; ++k) {
      const std::string& op = ops[static_cast<std::size_t>(k)];
      if ((no_none && op == "none") || (no_skip && op == "skip_connect")) continue;
      if (arg < 0 || acc[e][k] > acc[e][arg]) arg = k;
    }
    return arg;
  };
  auto choose = [&](bool no_none) {
    std::vector<std::int64_t> pick(6);
    for (std::int64_t e = 0; e < 6; ++e) {
      pick[static_cast<std::size_t>(e)] = best(e, no_none, false);
      if (pick[static_cast<std::size_t>(e)] < 0) pick[static_cast<std::size_t>(e)] = best(e, false, false);
    }
    auto skip_it = std::find(ops.begin(), ops.end(), "skip_connect");
    if (max_skip >= 0 && skip_it != ops.end()) {
      const auto skip = static_cast<std::int64_t>(skip_it - ops.begin());
      std::vector<std::int64_t> skips;
      for (std::int64_t e = 0; e < 6; ++e) {
        if (pick[static_cast<std::size_t>(e)] == skip) skips.push_back(e);
      }
      std::stable_sort(skips.begin(), skips.end(),
                       [&](std::int64_t a, std::int64_t b) { return acc[a][skip] > acc[b][skip]; });
      for (std::size_t s = static_cast<std::size_t>(max_skip); s < skips.size(); ++s) {
        const std::int64_t alt = best(skips[s], no_none, true);
        if (alt >= 0) pick[static_cast<std::size_t>(skips[s])] = alt;
      }
    }
    std::vector<std::string> out;
    for (std::int64_t k : pick) out.push_back(ops[static_cast<std::size_t>(k)]);
    return out;
  };
  std::vector<std::string> out = choose(false);
  if (!nasbench201_reachable(out)[3]) out = choose(true);
  return out;
}

}  // namespace nasforge
