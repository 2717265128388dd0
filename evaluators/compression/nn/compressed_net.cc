#include "evaluators/compression/nn/compressed_net.h"

#include <cmath>

#include "core/error.h"

namespace nasforge {

namespace {

// Copies every parameter and buffer of `from` into `to`, which must have the same structure.
void copy_state(GraphNet& from, GraphNet& to) {
  torch::NoGradGuard no_grad;
  auto src_params = from->named_parameters();
  for (auto& p : to->named_parameters()) p.value().copy_(src_params[p.key()]);
  auto src_buffers = from->named_buffers();
  for (auto& b : to->named_buffers()) b.value().copy_(src_buffers[b.key()]);
}

torch::Device device_of(GraphNet& net) {
  auto params = net->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace

CompressedNet CompressedNet::from(GraphNet& net) {
  CompressedNet c(net->graph());
  c.net = GraphNet(c.graph);
  c.net->to(device_of(net));
  copy_state(net, c.net);
  c.net->eval();
  return c;
}

std::vector<int> CompressedNet::weight_nodes() const {
  std::vector<int> out;
  const auto& nodes = graph.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind == OpKind::kConv || nodes[i].kind == OpKind::kLinear) out.push_back(static_cast<int>(i));
  }
  return out;
}

torch::Tensor CompressedNet::weight(int node) const {
  if (auto conv = net->conv(node)) return conv->weight;
  if (auto lin = net->linear(node)) return lin->weight;
  throw StateError("node " + std::to_string(node) + " ('" + graph.nodes().at(static_cast<std::size_t>(node)).name +
                   "') has no conv or linear weight");
}

std::vector<LayerStorage> CompressedNet::storage() const {
  std::vector<LayerStorage> out;
  for (int node : weight_nodes()) {
    torch::Tensor w = weight(node);
    LayerStorage s;
    s.numel = w.numel();
    s.nonzeros = w.ne(0).sum().item<std::int64_t>();
    s.out_channels = w.size(0);
    const NetNode& n = graph.nodes()[static_cast<std::size_t>(node)];
    // An unfolded BatchNorm is folded on the device: its shift becomes the conv's bias.
    s.bias = n.bias || n.batch_norm ? w.size(0) : 0;
    s.weight_bits = weight_bits;
    s.quantized = !weight_float;
    s.per_channel = per_channel;
    auto it = clusters.find(node);
    if (it != clusters.end()) s.clusters = it->second.k;
    out.push_back(s);
  }
  return out;
}

std::int64_t CompressedNet::extra_float_params() const {
  std::int64_t n = 0;
  for (const auto& node : graph.nodes()) {
    // A standalone BatchNorm is a per-channel scale and shift at inference.
    if (node.kind == OpKind::kBatchNorm) n += 2 * graph.nodes()[static_cast<std::size_t>(node.inputs[0])].out.c;
  }
  return n;
}

double CompressedNet::sparsity() const {
  std::int64_t zeros = 0, total = 0;
  for (int node : weight_nodes()) {
    torch::Tensor w = weight(node);
    total += w.numel();
    zeros += w.eq(0).sum().item<std::int64_t>();
  }
  return total > 0 ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
}

void fold_batch_norm(CompressedNet& c) {
  if (c.folded) return;
  NetGraph folded = c.graph;
  for (auto& n : folded.mutable_nodes()) {
    if (n.kind == OpKind::kConv && n.batch_norm) {
      n.batch_norm = false;
      n.bias = true;
    }
  }
  GraphNet net(folded);
  net->to(device_of(c.net));
  {
    torch::NoGradGuard no_grad;
    const auto& nodes = c.graph.nodes();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const int node = static_cast<int>(i);
      if (auto conv = c.net->conv(node)) {
        torch::Tensor w = conv->weight;
        torch::Tensor b = conv->bias.defined() ? conv->bias : torch::zeros({w.size(0)}, w.options());
        if (auto bn = c.net->bn(node)) {
          torch::Tensor inv_std = torch::rsqrt(bn->running_var + bn->options.eps());
          torch::Tensor g = bn->weight.defined() ? bn->weight * inv_std : inv_std;
          torch::Tensor beta = bn->bias.defined() ? bn->bias : torch::zeros_like(g);
          w = w * g.view({-1, 1, 1, 1});
          b = (b - bn->running_mean) * g + beta;
        }
        net->conv(node)->weight.copy_(w);
        if (net->conv(node)->bias.defined()) net->conv(node)->bias.copy_(b);
      } else if (auto lin = c.net->linear(node)) {
        net->linear(node)->weight.copy_(lin->weight);
        if (lin->bias.defined()) net->linear(node)->bias.copy_(lin->bias);
      } else if (auto bn = c.net->bn(node)) {
        auto dst = net->bn(node);
        dst->weight.copy_(bn->weight);
        dst->bias.copy_(bn->bias);
        dst->running_mean.copy_(bn->running_mean);
        dst->running_var.copy_(bn->running_var);
        dst->num_batches_tracked.copy_(bn->num_batches_tracked);
      }
    }
  }
  net->train(c.net->is_training());
  net->set_transform(c.net->transform());
  c.graph = std::move(folded);
  c.net = net;
  c.folded = true;
  // Folding scales each output channel differently, so shared values would no longer be shared: re-snap.
  enforce_constraints(c);
}

void enforce_constraints(CompressedNet& c) {
  if (c.masks.empty() && c.clusters.empty()) return;
  torch::NoGradGuard no_grad;
  for (const auto& [node, mask] : c.masks) c.weight(node).mul_(mask);
  for (const auto& [node, state] : c.clusters) {
    torch::Tensor w = c.weight(node);
    const std::int64_t slots = state.k + (state.zero_slot ? 1 : 0);
    torch::Tensor idx = state.assignment.reshape({-1});
    torch::Tensor flat = w.reshape({-1});
    torch::Tensor sums = torch::zeros({slots}, w.options()).index_add_(0, idx, flat);
    torch::Tensor counts = torch::zeros({slots}, w.options()).index_add_(0, idx, torch::ones_like(flat));
    torch::Tensor centroids = sums / counts.clamp_min(1);
    if (state.zero_slot) centroids.index_fill_(0, torch::tensor({state.k}, idx.options()), 0);
    w.copy_(centroids.index_select(0, idx).view_as(w));
  }
}

TrainResult finetune(CompressedNet& c, std::int64_t epochs, double lr, const StepContext& ctx) {
  if (epochs <= 0) return {};
  const TrainHooks& hooks = ctx.hooks;
  TrainHyperparams h = ctx.base;
  h.epochs = epochs;
  h.lr = lr;
  h.warmup_epochs = 0;
  h.schedule = "cosine";
  h.patience = 0;
  TrainHooks inner;
  inner.stop_requested = hooks.stop_requested;
  inner.loss = hooks.loss;
  inner.after_step = [&c, &hooks] {
    enforce_constraints(c);
    if (hooks.after_step) hooks.after_step();
  };
  Monitor monitor;  // the best epoch by validation accuracy
  TrainResult r = train_network(c.net, ctx.data, h, monitor, ctx.eval_batch_size, ctx.seed, inner);
  c.net->eval();
  return r;
}

}  // namespace nasforge
