// Magnitude pruning of a CompressedNet.
//
// Unstructured pruning ranks weights by |w| with a stable sort, so equal magnitudes are pruned in flat index order
// (layers in graph order for the global ranking) and the result is the same on every run. Weights already
// masked rank below every live one, so they stay masked and count towards the target.
//
// Channel pruning rebuilds the module with fewer channels and copies the kept slices of every tensor. Masks and
// cluster assignments are sliced together with their weights, so both stay valid for the smaller layers (a
// cluster may lose all its weights; it then keeps its slot and costs nothing but its table entry).

#include "evaluators/compression/nn/prune.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/compression/channel_pruning.h"

namespace nasforge {

namespace {

void check_sparsity(double sparsity) {
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw ValueError("pruning sparsity must be in [0, 1], got " + format_double(sparsity));
  }
}

// A flat float mask over `scores` with zeros at the `count` lowest scores (ties: lower index first).
torch::Tensor mask_lowest(const torch::Tensor& scores, std::int64_t count) {
  torch::Tensor mask = torch::ones_like(scores);
  if (count <= 0) return mask;
  torch::Tensor order = std::get<1>(torch::sort(scores, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  return mask.index_fill_(0, order.slice(0, 0, count), 0);
}

// Newly masked weights of a clustered layer move to the reserved zero slot.
void mask_clusters(CompressedNet& c, int node, const torch::Tensor& mask) {
  auto it = c.clusters.find(node);
  if (it == c.clusters.end()) return;
  ClusterState& s = it->second;
  torch::Tensor pruned = mask.eq(0);
  if (!pruned.any().item<bool>()) return;
  s.assignment = s.assignment.masked_fill(pruned, s.k);
  s.zero_slot = true;
}

torch::Device device_of(GraphNet& net) {
  auto params = net->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

std::string sizes_text(c10::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

// copy_ would broadcast a wrongly sliced tensor silently; a mismatch is a bug in the slicing.
void assign(const torch::Tensor& dst, const torch::Tensor& src, const std::string& what) {
  if (dst.sizes() != src.sizes()) {
    throw StateError("channel pruning: " + what + " has shape " + sizes_text(src.sizes()) +
                     " but the pruned layer expects " + sizes_text(dst.sizes()));
  }
  dst.copy_(src);
}

}  // namespace

void prune_unstructured(CompressedNet& c, double sparsity, bool global) {
  check_sparsity(sparsity);
  torch::NoGradGuard no_grad;
  const std::vector<int> nodes = c.weight_nodes();
  std::vector<torch::Tensor> scores;
  for (int node : nodes) {
    torch::Tensor s = c.weight(node).detach().abs().reshape({-1});
    auto it = c.masks.find(node);
    if (it != c.masks.end()) s = s.masked_fill(it->second.reshape({-1}).eq(0), -1.0);
    scores.push_back(s);
  }
  std::vector<torch::Tensor> masks;
  if (global) {
    torch::Tensor all = torch::cat(scores);
    torch::Tensor mask = mask_lowest(all, std::llround(sparsity * static_cast<double>(all.numel())));
    std::int64_t offset = 0;
    for (const auto& s : scores) {
      masks.push_back(mask.slice(0, offset, offset + s.numel()));
      offset += s.numel();
    }
  } else {
    for (const auto& s : scores) {
      masks.push_back(mask_lowest(s, std::llround(sparsity * static_cast<double>(s.numel()))));
    }
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    torch::Tensor w = c.weight(nodes[i]);
    torch::Tensor mask = masks[i].view(w.sizes()).to(w.dtype());
    auto it = c.masks.find(nodes[i]);
    // A lower target never revives weights: pruning only grows the masks.
    if (it != c.masks.end()) mask = mask * it->second;
    if (it == c.masks.end() && mask.eq(0).sum().item<std::int64_t>() == 0) continue;
    c.masks[nodes[i]] = mask.contiguous();
    w.mul_(mask);
    mask_clusters(c, nodes[i], mask);
  }
}

void prune_channels(CompressedNet& c, const NetGraph& original, double sparsity, int norm) {
  check_sparsity(sparsity);
  if (norm != 1 && norm != 2) throw ValueError("channel pruning norm must be 1 or 2, got " + std::to_string(norm));
  const auto& nodes = c.graph.nodes();
  if (original.nodes().size() != nodes.size()) {
    throw ValueError("channel pruning: the original graph has " + std::to_string(original.nodes().size()) +
                     " nodes but the network has " + std::to_string(nodes.size()));
  }
  torch::NoGradGuard no_grad;
  // keep[i]: the surviving output channels of node i (CPU int64, ascending), undefined when all survive.
  std::vector<torch::Tensor> keep(nodes.size());
  std::map<int, std::int64_t> counts;
  const std::map<int, std::int64_t> targets = uniform_channel_keep(original, sparsity);
  for (const ChannelGroup& g : prunable_channel_groups(c.graph)) {
    const NetNode& o = original.nodes()[static_cast<std::size_t>(g.producer)];
    if (o.kind != OpKind::kConv || o.name != nodes[static_cast<std::size_t>(g.producer)].name) {
      throw ValueError("channel pruning: node " + std::to_string(g.producer) + " of the original graph is '" + o.name +
                       "', not the conv '" + nodes[static_cast<std::size_t>(g.producer)].name + "'");
    }
    auto t = targets.find(g.producer);
    if (t == targets.end()) continue;  // not prunable in the original graph
    const std::int64_t target = t->second;
    if (target >= g.channels) continue;
    torch::Tensor w = c.weight(g.producer).detach().to(torch::kCPU, torch::kDouble);
    // Squared L2 ranks like L2 without a rounding square root.
    torch::Tensor score = norm == 1 ? w.abs().sum({1, 2, 3}) : w.square().sum({1, 2, 3});
    torch::Tensor order = std::get<1>(torch::sort(score, /*stable=*/true, /*dim=*/0, /*descending=*/true));
    torch::Tensor kept = std::get<0>(torch::sort(order.slice(0, 0, target)));
    keep[static_cast<std::size_t>(g.producer)] = kept;
    for (int f : g.followers) keep[static_cast<std::size_t>(f)] = kept;
    counts[g.producer] = target;
  }
  if (counts.empty()) return;

  const torch::Device device = device_of(c.net);
  std::vector<torch::Tensor> index(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (keep[i].defined()) index[i] = keep[i].to(device);
  }
  auto rows = [&](const torch::Tensor& t, std::size_t node) {
    return index[node].defined() ? t.index_select(0, index[node].to(t.device())) : t;
  };
  // A weight-shaped tensor (weight, mask, cluster assignment) of conv/linear `node`, sliced on output channels and
  // on input channels whose producer lost some.
  auto slice = [&](torch::Tensor t, std::size_t node) {
    const NetNode& n = nodes[node];
    t = rows(t, node);
    const std::size_t in = static_cast<std::size_t>(n.inputs[0]);
    if (!index[in].defined()) return t;
    torch::Tensor idx = index[in].to(t.device());
    if (n.kind == OpKind::kConv && n.groups == 1) return t.index_select(1, idx);
    if (n.kind == OpKind::kLinear) {
      // The linear layer reads C x H x W flattened channel-major: one block of H * W columns per channel.
      const Shape& x = nodes[in].out;
      return t.reshape({t.size(0), x.c, x.h * x.w}).index_select(1, idx).reshape({t.size(0), -1});
    }
    return t;  // depthwise: one input channel per filter, already selected with the rows
  };

  NetGraph pruned = prune_channel_groups(c.graph, counts);
  GraphNet net(pruned);
  net->to(device);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const int node = static_cast<int>(i);
    const std::string& name = nodes[i].name;
    if (auto conv = c.net->conv(node)) {
      assign(net->conv(node)->weight, slice(conv->weight, i), "'" + name + "' weight");
      if (conv->bias.defined()) assign(net->conv(node)->bias, rows(conv->bias, i), "'" + name + "' bias");
    } else if (auto lin = c.net->linear(node)) {
      assign(net->linear(node)->weight, slice(lin->weight, i), "'" + name + "' weight");
      if (lin->bias.defined()) assign(net->linear(node)->bias, lin->bias, "'" + name + "' bias");
    }
    if (auto bn = c.net->bn(node)) {
      auto dst = net->bn(node);
      if (bn->weight.defined()) assign(dst->weight, rows(bn->weight, i), "'" + name + "' BatchNorm weight");
      if (bn->bias.defined()) assign(dst->bias, rows(bn->bias, i), "'" + name + "' BatchNorm bias");
      assign(dst->running_mean, rows(bn->running_mean, i), "'" + name + "' running mean");
      assign(dst->running_var, rows(bn->running_var, i), "'" + name + "' running variance");
      dst->num_batches_tracked.copy_(bn->num_batches_tracked);
    }
  }
  for (auto& [node, mask] : c.masks) mask = slice(mask, static_cast<std::size_t>(node)).contiguous();
  for (auto& [node, state] : c.clusters) {
    state.assignment = slice(state.assignment, static_cast<std::size_t>(node)).contiguous();
  }
  net->train(c.net->is_training());
  net->set_transform(c.net->transform());
  c.graph = std::move(pruned);
  c.net = net;
}

TrainResult prune(CompressedNet& c, const PruneOptions& o, const StepContext& ctx) {
  const bool one_shot = o.schedule == PruneSchedule::kOneShot;
  const std::int64_t rounds = one_shot ? 1 : std::max<std::int64_t>(1, o.steps);
  // Channel targets are fractions of the channels the step started with, not of the previous round's.
  const NetGraph original = c.graph;
  TrainResult last;
  for (std::int64_t k = 1; k <= rounds; ++k) {
    const double target = one_shot ? o.sparsity : o.target(k);
    if (o.structure == PruneStructure::kUnstructured) {
      prune_unstructured(c, target, o.global);
    } else {
      prune_channels(c, original, o.target_macs ? channel_sparsity_for_macs(original, target) : target, o.norm);
    }
    StepContext round = ctx;
    round.seed = ctx.seed + static_cast<std::uint64_t>(k - 1);
    last = finetune(c, o.finetune_epochs, o.lr, round);
  }
  return last;
}

}  // namespace nasforge
