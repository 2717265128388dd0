#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "spaces/net_graph.h"

namespace nasforge {

/// The channels one convolution produces and every node they flow through until a layer mixes them: removing
/// output channel c of `producer` removes channel c from each follower and input channel c of each consumer.
struct ChannelGroup {
  int producer = 0;            ///< A kConv with groups == 1 whose output channels may be removed.
  std::vector<int> followers;  ///< Nodes whose channels follow the producer's one to one (BatchNorm, activations,
                               ///< pools, dropout, depthwise convs), in graph order.
  std::vector<int> consumers;  ///< kConv (groups == 1) and kLinear nodes that read these channels.
  std::int64_t channels = 0;   ///< The producer's current output channels.
};

/// Every group whose channels can be removed without touching a residual add, a squeeze-excitation multiply, a
/// grouped convolution or the network output; in graph order of the producer.
std::vector<ChannelGroup> prunable_channel_groups(const NetGraph& graph);

/// A copy of `graph` in which each producer in `keep` (producer node -> channels kept, 1..channels) and its
/// followers have that many channels; consumers' inputs and every shape are recomputed. Node indices and names
/// are unchanged. ValueError for a node that is not a prunable producer or a count out of range.
NetGraph prune_channel_groups(const NetGraph& graph, const std::map<int, std::int64_t>& keep);

/// The channel counts that remove fraction `sparsity` of each prunable group's channels (keeping
/// max(1, round((1 - sparsity) * C)) of each).
std::map<int, std::int64_t> uniform_channel_keep(const NetGraph& graph, double sparsity);

/// The channel fraction whose uniform pruning (uniform_channel_keep) comes closest to removing fraction
/// `mac_reduction` of `graph`'s MACs, found by bisection. Removing channels shrinks both a layer and its
/// consumers, so halving MACs takes far fewer than half the channels on a plain conv chain. When the prunable
/// layers hold too few MACs to get there, the largest fraction (< 1) is returned.
double channel_sparsity_for_macs(const NetGraph& graph, double mac_reduction);

}  // namespace nasforge
