#include "evaluators/compression/channel_pruning.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "core/error.h"
#include "evaluators/cost/cost_model.h"

namespace nasforge {

namespace {

bool is_depthwise(const NetNode& n, std::int64_t in_channels) {
  return n.kind == OpKind::kConv && n.groups > 1 && n.groups == in_channels && n.out_channels == in_channels;
}

// The group whose channels `producer` creates, or nullopt when they reach something that would have to change
// its own channel count in step (an add, a multiply, a grouped conv, the network output).
std::optional<ChannelGroup> group_of(const NetGraph& graph, const std::vector<std::vector<int>>& readers,
                                     int producer) {
  const auto& nodes = graph.nodes();
  ChannelGroup g;
  g.producer = producer;
  g.channels = nodes[static_cast<std::size_t>(producer)].out_channels;
  std::vector<int> frontier = {producer};
  while (!frontier.empty()) {
    int x = frontier.back();
    frontier.pop_back();
    if (x == graph.output()) return std::nullopt;
    for (int r : readers[static_cast<std::size_t>(x)]) {
      const NetNode& n = nodes[static_cast<std::size_t>(r)];
      switch (n.kind) {
        case OpKind::kBatchNorm:
        case OpKind::kActivation:
        case OpKind::kAvgPool:
        case OpKind::kMaxPool:
        case OpKind::kGlobalAvgPool:
        case OpKind::kDropout:
          g.followers.push_back(r);
          frontier.push_back(r);
          break;
        case OpKind::kConv:
          if (n.groups == 1) {
            g.consumers.push_back(r);
          } else if (is_depthwise(n, g.channels)) {
            g.followers.push_back(r);
            frontier.push_back(r);
          } else {
            return std::nullopt;  // grouped conv, or depthwise with a channel multiplier
          }
          break;
        case OpKind::kLinear:
          g.consumers.push_back(r);
          break;
        case OpKind::kAdd:
        case OpKind::kMul:
        case OpKind::kInput:
          return std::nullopt;
      }
    }
  }
  for (auto* v : {&g.followers, &g.consumers}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return g;
}

}  // namespace

std::vector<ChannelGroup> prunable_channel_groups(const NetGraph& graph) {
  const auto& nodes = graph.nodes();
  std::vector<std::vector<int>> readers(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (int in : nodes[i].inputs) readers[static_cast<std::size_t>(in)].push_back(static_cast<int>(i));
  }
  std::vector<ChannelGroup> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind != OpKind::kConv || nodes[i].groups != 1) continue;
    if (auto g = group_of(graph, readers, static_cast<int>(i))) out.push_back(std::move(*g));
  }
  return out;
}

NetGraph prune_channel_groups(const NetGraph& graph, const std::map<int, std::int64_t>& keep) {
  std::vector<ChannelGroup> groups = prunable_channel_groups(graph);
  NetGraph out = graph;
  auto& nodes = out.mutable_nodes();
  for (const auto& [producer, kept] : keep) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const ChannelGroup& g) { return g.producer == producer; });
    if (it == groups.end()) {
      std::string what =
          producer >= 0 && producer < static_cast<int>(nodes.size())
              ? "node " + std::to_string(producer) + " ('" + nodes[static_cast<std::size_t>(producer)].name + "')"
              : "node " + std::to_string(producer) + " (out of range)";
      throw ValueError("cannot prune channels of " + what +
                       ": not a conv (groups 1) whose channels reach only BatchNorm, activations, pools, dropout, "
                       "depthwise convs and then convs or linear layers");
    }
    if (kept < 1 || kept > it->channels) {
      throw ValueError("cannot keep " + std::to_string(kept) + " channels of '" +
                       nodes[static_cast<std::size_t>(producer)].name + "': must be in 1.." +
                       std::to_string(it->channels));
    }
    nodes[static_cast<std::size_t>(producer)].out_channels = kept;
    for (int f : it->followers) {
      NetNode& n = nodes[static_cast<std::size_t>(f)];
      if (n.kind == OpKind::kConv) {
        n.out_channels = kept;
        n.groups = static_cast<int>(kept);
      }
    }
  }
  out.recompute_shapes();
  return out;
}

}  // namespace nasforge

namespace nasforge {

std::map<int, std::int64_t> uniform_channel_keep(const NetGraph& graph, double sparsity) {
  check(sparsity >= 0 && sparsity <= 1, "channel sparsity must be in [0, 1], got " + std::to_string(sparsity));
  std::map<int, std::int64_t> keep;
  for (const ChannelGroup& g : prunable_channel_groups(graph)) {
    keep[g.producer] = std::max<std::int64_t>(1, std::llround((1 - sparsity) * static_cast<double>(g.channels)));
  }
  return keep;
}

double channel_sparsity_for_macs(const NetGraph& graph, double mac_reduction) {
  check(mac_reduction >= 0 && mac_reduction < 1,
        "MAC reduction must be in [0, 1), got " + std::to_string(mac_reduction));
  const double full = static_cast<double>(analyze_costs(graph).macs);
  if (full <= 0 || mac_reduction == 0) return 0;
  auto reduction = [&](double s) {
    return 1 -
           static_cast<double>(analyze_costs(prune_channel_groups(graph, uniform_channel_keep(graph, s))).macs) / full;
  };
  // MACs fall monotonically (in steps, from rounding) as the channel fraction grows.
  double lo = 0, hi = 0.999;
  if (reduction(hi) <= mac_reduction) return hi;
  for (int i = 0; i < 40; ++i) {
    const double mid = 0.5 * (lo + hi);
    (reduction(mid) < mac_reduction ? lo : hi) = mid;
  }
  return std::abs(reduction(lo) - mac_reduction) <= std::abs(reduction(hi) - mac_reduction) ? lo : hi;
}

}  // namespace nasforge
