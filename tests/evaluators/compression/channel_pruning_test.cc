#include "evaluators/compression/channel_pruning.h"

#include "core/error.h"
#include "evaluators/cost/cost_model.h"
#include "testing.h"

namespace nasforge {
namespace {

class ChannelPruningTest : public testing::NasforgeTest {};

std::vector<int> producers(const std::vector<ChannelGroup>& groups) {
  std::vector<int> out;
  for (const auto& g : groups) out.push_back(g.producer);
  return out;
}

TEST_F(ChannelPruningTest, PlainChainFollowsActivationsPoolsAndDropout) {
  NetGraph g(Shape{3, 8, 8}, 10);
  int x = g.conv(0, 8, 3, 1, 1, true, Activation::kNone, "c1");  // n1: 8x8x8
  x = g.activation(x, Activation::kReLU, "relu");                // n2
  x = g.conv(x, 16, 3, 2, 1, true, Activation::kReLU, "c2");     // n3: 16x4x4
  x = g.global_avg_pool(x, "pool");                              // n4
  x = g.dropout(x, 0.2, "drop");                                 // n5
  g.linear(x, 10, true, Activation::kNone, "fc");                // n6
  std::vector<ChannelGroup> groups = prunable_channel_groups(g);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].producer, 1);
  EXPECT_EQ(groups[0].followers, std::vector<int>({2}));
  EXPECT_EQ(groups[0].consumers, std::vector<int>({3}));
  EXPECT_EQ(groups[0].channels, 8);
  EXPECT_EQ(groups[1].producer, 3);
  EXPECT_EQ(groups[1].followers, std::vector<int>({4, 5}));
  EXPECT_EQ(groups[1].consumers, std::vector<int>({6}));
  EXPECT_EQ(groups[1].channels, 16);

  // MACs: c1 8*8*8 * 3*3*3 = 13824; c2 16*4*4 * 8*3*3 = 18432; fc 16*10 = 160.
  EXPECT_EQ(analyze_costs(g).macs, 13824 + 18432 + 160);
  NetGraph p = prune_channel_groups(g, {{1, 4}, {3, 8}});
  const auto& n = p.nodes();
  EXPECT_EQ(n[1].out, (Shape{4, 8, 8}));
  EXPECT_EQ(n[2].out, (Shape{4, 8, 8}));
  EXPECT_EQ(n[3].out, (Shape{8, 4, 4}));
  EXPECT_EQ(n[4].out, (Shape{8, 1, 1}));
  EXPECT_EQ(n[5].out, (Shape{8, 1, 1}));
  EXPECT_EQ(n[6].out, (Shape{10, 1, 1}));
  EXPECT_EQ(n[3].name, "c2");
  CostMetrics m = analyze_costs(p);
  // c1 4*8*8 * 27 = 6912; c2 8*4*4 * 4*9 = 4608; fc 8*10 = 80.
  EXPECT_EQ(m.macs, 6912 + 4608 + 80);
  // c1 4*27 + BN 8 = 116; c2 8*4*9 + BN 16 = 304; fc 80 + 10 = 90.
  EXPECT_EQ(m.params, 116 + 304 + 90);
  // The input graph is untouched.
  EXPECT_EQ(g.nodes()[1].out_channels, 8);
  EXPECT_EQ(g.nodes()[3].out, (Shape{16, 4, 4}));
}

TEST_F(ChannelPruningTest, DepthwiseSeparableBlockShrinksTheDepthwiseConv) {
  NetGraph g(Shape{3, 8, 8}, 5);
  int x = g.conv(0, 8, 3, 1, 1, true, Activation::kReLU, "stem");  // n1
  x = g.conv(x, 8, 3, 1, 8, true, Activation::kReLU, "dw");        // n2: depthwise
  x = g.conv(x, 16, 1, 1, 1, true, Activation::kReLU, "pw");       // n3
  x = g.global_avg_pool(x, "pool");                                // n4
  g.linear(x, 5, true, Activation::kNone, "fc");                   // n5
  std::vector<ChannelGroup> groups = prunable_channel_groups(g);
  ASSERT_EQ(producers(groups), std::vector<int>({1, 3}));  // the depthwise conv mixes nothing: never a producer
  EXPECT_EQ(groups[0].followers, std::vector<int>({2}));
  EXPECT_EQ(groups[0].consumers, std::vector<int>({3}));
  // stem 8*64*27 = 13824; dw 8*64*9 = 4608; pw 16*64*8 = 8192; fc 80.
  EXPECT_EQ(analyze_costs(g).macs, 13824 + 4608 + 8192 + 80);

  NetGraph p = prune_channel_groups(g, {{1, 3}});
  EXPECT_EQ(p.nodes()[2].out_channels, 3);
  EXPECT_EQ(p.nodes()[2].groups, 3);
  EXPECT_EQ(p.nodes()[2].out, (Shape{3, 8, 8}));
  EXPECT_EQ(p.nodes()[3].out, (Shape{16, 8, 8}));
  // stem 3*64*27 = 5184; dw 3*64*9 = 1728; pw 16*64*3 = 3072; fc 80.
  EXPECT_EQ(analyze_costs(p).macs, 5184 + 1728 + 3072 + 80);
  // The depthwise conv's channels are its producer's: it cannot be pruned on its own.
  EXPECT_THROW(prune_channel_groups(g, {{2, 4}}), ValueError);
}

TEST_F(ChannelPruningTest, ResidualAddBlocksItsProducers) {
  NetGraph g(Shape{4, 8, 8}, 3);
  int s = g.conv(0, 8, 3, 1, 1, true, Activation::kReLU, "stem");  // n1, read by the add
  int a = g.conv(s, 8, 3, 1, 1, true, Activation::kReLU, "a");     // n2
  a = g.conv(a, 8, 3, 1, 1, true, Activation::kNone, "b");         // n3, read by the add
  int y = g.add({s, a}, "add");                                    // n4
  y = g.global_avg_pool(y, "pool");                                // n5
  g.linear(y, 3, true, Activation::kNone, "fc");                   // n6
  std::vector<ChannelGroup> groups = prunable_channel_groups(g);
  ASSERT_EQ(producers(groups), std::vector<int>({2}));
  EXPECT_TRUE(groups[0].followers.empty());
  EXPECT_EQ(groups[0].consumers, std::vector<int>({3}));
  EXPECT_THROW(prune_channel_groups(g, {{1, 4}}), ValueError);
  EXPECT_THROW(prune_channel_groups(g, {{3, 4}}), ValueError);
  NetGraph p = prune_channel_groups(g, {{2, 5}});
  EXPECT_EQ(p.nodes()[2].out, (Shape{5, 8, 8}));
  EXPECT_EQ(p.nodes()[3].out, (Shape{8, 8, 8}));
  // a: 8*64*72 -> 5*64*72; b: 8*64*72 -> 8*64*45; the difference is 3*64*72 + 8*64*27.
  EXPECT_EQ(analyze_costs(g).macs - analyze_costs(p).macs, 3 * 64 * 72 + 8 * 64 * 27);
}

TEST_F(ChannelPruningTest, SqueezeExcitationMultiplyBlocksTheGatedChannels) {
  NetGraph g(Shape{3, 8, 8}, 10);
  int x = g.conv(0, 8, 3, 1, 1, true, Activation::kReLU, "stem");                  // n1
  x = g.conv(x, 16, 1, 1, 1, true, Activation::kReLU, "expand");                   // n2
  x = g.conv(x, 16, 3, 1, 16, true, Activation::kReLU, "dw");                      // n3
  int s = g.global_avg_pool(x, "se.pool");                                         // n4
  s = g.conv(s, 8, 1, 1, 1, false, Activation::kReLU, "se.reduce", true);          // n5
  s = g.conv(s, 16, 1, 1, 1, false, Activation::kHardSigmoid, "se.expand", true);  // n6
  x = g.mul(x, s, "se.mul");                                                       // n7
  x = g.conv(x, 8, 1, 1, 1, true, Activation::kNone, "project");                   // n8
  x = g.global_avg_pool(x, "pool");                                                // n9
  g.linear(x, 10, true, Activation::kNone, "fc");                                  // n10
  std::vector<ChannelGroup> groups = prunable_channel_groups(g);
  // expand's channels reach the multiply through the depthwise conv, se.expand's as the gate.
  ASSERT_EQ(producers(groups), std::vector<int>({1, 5, 8}));
  EXPECT_EQ(groups[1].consumers, std::vector<int>({6}));
  EXPECT_EQ(groups[2].followers, std::vector<int>({9}));
  EXPECT_EQ(groups[2].consumers, std::vector<int>({10}));
  NetGraph p = prune_channel_groups(g, {{5, 2}, {8, 4}});
  EXPECT_EQ(p.nodes()[5].out, (Shape{2, 1, 1}));
  EXPECT_EQ(p.nodes()[6].out, (Shape{16, 1, 1}));
  EXPECT_EQ(p.nodes()[10].out, (Shape{10, 1, 1}));
  // se.reduce 16*8 -> 16*2, se.expand 8*16 -> 2*16, project 64*16*8 -> 64*16*4, fc 8*10 -> 4*10.
  EXPECT_EQ(analyze_costs(g).macs - analyze_costs(p).macs, 16 * 6 + 6 * 16 + 64 * 16 * 4 + 4 * 10);
}

TEST_F(ChannelPruningTest, GroupedConvsMultipliersAndTheOutputAreNotPrunable) {
  NetGraph g(Shape{4, 8, 8}, 8);
  int a = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "a");    // n1 -> multiplier-2 depthwise
  int b = g.conv(a, 8, 3, 1, 4, true, Activation::kReLU, "dw2");  // n2
  int c = g.conv(b, 8, 1, 1, 1, true, Activation::kReLU, "c");    // n3 -> grouped conv
  int d = g.conv(c, 8, 3, 1, 2, true, Activation::kReLU, "grp");  // n4
  int e = g.conv(d, 8, 1, 1, 1, true, Activation::kNone, "e");    // n5 -> the network output
  g.global_avg_pool(e, "pool");                                   // n6 is the output
  EXPECT_TRUE(prunable_channel_groups(g).empty());
  EXPECT_THROW(prune_channel_groups(g, {{1, 2}}), ValueError);

  // The same chain with a linear head: only the last conv becomes prunable.
  NetGraph h(Shape{4, 8, 8}, 8);
  int x = h.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "a");
  x = h.conv(x, 4, 3, 1, 2, true, Activation::kReLU, "grp");  // groups 2 over 4 channels
  x = h.conv(x, 6, 1, 1, 1, true, Activation::kReLU, "e");
  h.linear(x, 8, false, Activation::kNone, "fc");  // reads 6x8x8 flattened
  ASSERT_EQ(producers(prunable_channel_groups(h)), std::vector<int>({3}));
  NetGraph p = prune_channel_groups(h, {{3, 2}});
  EXPECT_EQ(analyze_costs(p).params, analyze_costs(h).params - 4 * 4 - 4 * 2 - 4 * 64 * 8);
}

TEST_F(ChannelPruningTest, MacTargetFindsTheChannelFractionThatHalvesMacs) {
  // conv 1->32 (3x3) -> conv 32->32 (3x3) -> pool -> linear 32->10 on 8x8: pruning a fraction s of both convs'
  // outputs scales the second conv's MACs by (1 - s)^2, so half the MACs takes fewer than half the channels.
  NetGraph g(Shape{1, 8, 8}, 10);
  int a = g.conv(0, 32, 3, 1, 1, true, Activation::kReLU, "a");
  int b = g.conv(a, 32, 3, 1, 1, true, Activation::kReLU, "b");
  int p = g.global_avg_pool(b, "pool");
  g.linear(p, 10, true, Activation::kNone, "fc");
  std::map<int, std::int64_t> half = uniform_channel_keep(g, 0.5);
  EXPECT_EQ(half, (std::map<int, std::int64_t>{{a, 16}, {b, 16}}));
  const double full = static_cast<double>(analyze_costs(g).macs);
  // Hand count: a = 64*32*9, b = 64*32*32*9, fc = 320; with 16 channels each: 64*16*9, 64*16*16*9, 160.
  EXPECT_EQ(analyze_costs(prune_channel_groups(g, half)).macs, 64 * 16 * 9 + 64 * 16 * 16 * 9 + 160);
  const double s = channel_sparsity_for_macs(g, 0.5);
  EXPECT_GT(s, 0.25);
  EXPECT_LT(s, 0.35);  // (1 - s)^2 ~ 0.5 for the dominant layer: s ~ 0.29
  const double kept = static_cast<double>(analyze_costs(prune_channel_groups(g, uniform_channel_keep(g, s))).macs);
  EXPECT_NEAR(kept / full, 0.5, 0.03);  // one channel of 32 is the rounding step
  EXPECT_EQ(channel_sparsity_for_macs(g, 0.0), 0.0);
  // 99% of the MACs cannot go while every layer keeps a channel: the largest fraction comes back.
  EXPECT_GT(channel_sparsity_for_macs(g, 0.999), 0.9);
  EXPECT_THROW(channel_sparsity_for_macs(g, 1.0), Error);
}

TEST_F(ChannelPruningTest, RejectsBadCounts) {
  NetGraph g(Shape{1, 4, 4}, 2);
  int x = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "c");
  g.linear(x, 2, true, Activation::kNone, "fc");
  EXPECT_THROW(prune_channel_groups(g, {{1, 0}}), ValueError);
  EXPECT_THROW(prune_channel_groups(g, {{1, 5}}), ValueError);
  EXPECT_THROW(prune_channel_groups(g, {{2, 1}}), ValueError);  // a linear layer
  EXPECT_THROW(prune_channel_groups(g, {{9, 1}}), ValueError);  // no such node
  try {
    prune_channel_groups(g, {{1, 7}});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("7"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("1..4"), std::string::npos);
  }
  EXPECT_EQ(prune_channel_groups(g, {{1, 4}}).to_json(), g.to_json());
  EXPECT_EQ(prune_channel_groups(g, {}).to_json(), g.to_json());
}

}  // namespace
}  // namespace nasforge
