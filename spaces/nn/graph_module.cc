#include "spaces/nn/graph_module.h"

#include "core/error.h"

namespace nasforge {

namespace {

// Module names may not contain dots; graph names use them ("s1.b0.dw"), so map them to underscores.
std::string module_name(const std::string& name) {
  std::string s = name;
  for (char& c : s) {
    if (c == '.' || c == '/' || c == ' ') c = '_';
  }
  return s;
}

torch::Tensor activate(Activation act, torch::Tensor x, bool in_place) {
  switch (act) {
    case Activation::kNone:
      return x;
    case Activation::kReLU:
      return in_place ? x.relu_() : x.relu();
    case Activation::kReLU6:
      return in_place ? x.clamp_(0, 6) : x.clamp(0, 6);
    case Activation::kHardSwish:
      return torch::hardswish(x);
    case Activation::kSigmoid:
      return torch::sigmoid(x);
    case Activation::kHardSigmoid:
      return torch::hardsigmoid(x);
    case Activation::kZero:
      return in_place ? x.mul_(0) : x.mul(0);
  }
  return x;
}

}  // namespace

GraphNetImpl::GraphNetImpl(NetGraph graph) : graph_(std::move(graph)), last_use_(graph_.last_use()) {
  const auto& nodes = graph_.nodes();
  convs_.assign(nodes.size(), torch::nn::Conv2d(nullptr));
  bns_.assign(nodes.size(), torch::nn::BatchNorm2d(nullptr));
  linears_.assign(nodes.size(), torch::nn::Linear(nullptr));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NetNode& n = nodes[i];
    std::string name = module_name(n.name);
    std::int64_t in_c = n.inputs.empty() ? 0 : nodes[static_cast<std::size_t>(n.inputs[0])].out.c;
    if (n.kind == OpKind::kConv) {
      convs_[i] = register_module(name, torch::nn::Conv2d(torch::nn::Conv2dOptions(in_c, n.out_channels, n.kernel)
                                                              .stride(n.stride)
                                                              .padding(n.padding)
                                                              .groups(n.groups)
                                                              .bias(n.bias)));
      if (n.batch_norm) bns_[i] = register_module(name + "_bn", torch::nn::BatchNorm2d(n.out_channels));
    } else if (n.kind == OpKind::kBatchNorm) {
      bns_[i] = register_module(name, torch::nn::BatchNorm2d(in_c));
    } else if (n.kind == OpKind::kLinear) {
      const Shape& x = nodes[static_cast<std::size_t>(n.inputs[0])].out;
      linears_[i] =
          register_module(name, torch::nn::Linear(torch::nn::LinearOptions(x.numel(), n.out_channels).bias(n.bias)));
    }
  }
}

torch::Tensor GraphNetImpl::forward(const torch::Tensor& x) {
  const auto& nodes = graph_.nodes();
  std::vector<torch::Tensor> out(nodes.size());
  NodeTransform* t = transform_.get();
  out[0] = t ? t->output(0, x) : x;
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    const NetNode& n = nodes[i];
    const torch::Tensor& a = out[static_cast<std::size_t>(n.inputs[0])];
    torch::Tensor y;
    switch (n.kind) {
      case OpKind::kConv:
        // The fused conv(+BN) output is private to this node, so its activation can run in place.
        if (t) {
          y = torch::conv2d(a, t->weight(static_cast<int>(i), convs_[i]->weight), convs_[i]->bias, {n.stride, n.stride},
                            {n.padding, n.padding}, {1, 1}, n.groups);
        } else {
          y = convs_[i]->forward(a);
        }
        if (bns_[i]) y = bns_[i]->forward(y);
        y = activate(n.act, y, true);
        break;
      case OpKind::kLinear:
        y = t ? torch::linear(a.flatten(1), t->weight(static_cast<int>(i), linears_[i]->weight), linears_[i]->bias)
              : linears_[i]->forward(a.flatten(1));
        y = activate(n.act, y, false);
        break;
      case OpKind::kBatchNorm:
        y = bns_[i]->forward(a);
        break;
      case OpKind::kActivation:
        y = activate(n.act, a, false);
        break;
      case OpKind::kAvgPool:
        y = torch::avg_pool2d(a, n.kernel, n.stride, n.padding, /*ceil_mode=*/false, /*count_include_pad=*/false);
        break;
      case OpKind::kMaxPool:
        y = torch::max_pool2d(a, n.kernel, n.stride, n.padding);
        break;
      case OpKind::kGlobalAvgPool:
        y = a.mean({2, 3}, /*keepdim=*/true);
        break;
      case OpKind::kAdd:
        y = a;
        for (std::size_t k = 1; k < n.inputs.size(); ++k) y = y + out[static_cast<std::size_t>(n.inputs[k])];
        break;
      case OpKind::kMul:
        y = a * out[static_cast<std::size_t>(n.inputs[1])];
        break;
      case OpKind::kDropout:
        y = torch::dropout(a, n.dropout, is_training());
        break;
      case OpKind::kInput:
        throw StateError("network '" + n.name + "' has a second input node");
    }
    out[i] = t ? t->output(static_cast<int>(i), std::move(y)) : std::move(y);
    // Release inputs whose last reader was this node, so peak memory follows the cost model's live set.
    for (int in : n.inputs) {
      if (last_use_[static_cast<std::size_t>(in)] == static_cast<int>(i))
        out[static_cast<std::size_t>(in)] = torch::Tensor();
    }
  }
  torch::Tensor logits = out[static_cast<std::size_t>(graph_.output())];
  return logits.dim() > 2 ? logits.flatten(1) : logits;
}

void seed_torch(std::uint64_t seed) {
  torch::manual_seed(seed);
}

}  // namespace nasforge
