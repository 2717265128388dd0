#include "evaluators/compression/nn/prune.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/compression/channel_pruning.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/nn/train_testing.h"
#include "spaces/architecture.h"

namespace nasforge {
namespace {

using testing::kTinyChain;

class PruneTest : public testing::NasforgeTest {
 protected:
  void SetUp() override {
    NasforgeTest::SetUp();
    seed_torch(testing::kTestSeed);
  }
};

NetGraph build(const std::string& arch_yaml, const std::string& genotype, const Shape& input, int classes) {
  return make_architecture(ConfigNode::parse_string(arch_yaml, "arch.yaml"))->build(genotype, input, classes);
}

TrainHyperparams tiny_hyperparams(std::int64_t epochs) {
  TrainHyperparams h;
  h.epochs = epochs;
  h.batch_size = 32;
  h.lr = 0.05;
  return h;
}

std::int64_t zeros(const torch::Tensor& t) {
  return t.eq(0).sum().item<std::int64_t>();
}

std::int64_t masked(const CompressedNet& c) {
  std::int64_t n = 0;
  for (const auto& [node, mask] : c.masks) n += zeros(mask);
  return n;
}

std::int64_t total_weights(const CompressedNet& c) {
  std::int64_t n = 0;
  for (int node : c.weight_nodes()) n += c.weight(node).numel();
  return n;
}

// conv (2 -> 4, 1x1) with |w| = 1..8, then linear (4 -> 2) with |w| = 0.1..0.8, signs alternating.
CompressedNet two_layers(bool equal_weights = false) {
  NetGraph g(Shape{2, 1, 1}, 2);
  int x = g.conv(0, 4, 1, 1, 1, false, Activation::kNone, "conv");
  g.linear(x, 2, false, Activation::kNone, "fc");
  GraphNet net(g);
  torch::Tensor sign = torch::tensor({1.0f, -1.0f}).repeat({4});
  torch::Tensor mag = torch::arange(1, 9, torch::kFloat);
  {
    torch::NoGradGuard no_grad;
    net->conv(1)->weight.copy_(equal_weights ? torch::ones({4, 2, 1, 1}) : (sign * mag).view({4, 2, 1, 1}));
    net->linear(2)->weight.copy_(equal_weights ? torch::ones({2, 4}) : (sign * mag * 0.1).view({2, 4}));
  }
  return CompressedNet::from(net);
}

TEST_F(PruneTest, UnstructuredGlobalRanksAllLayersTogether) {
  CompressedNet c = two_layers();
  prune_unstructured(c, 0.25, /*global=*/true);
  // The 4 smallest of 16 magnitudes are all in the linear layer.
  EXPECT_EQ(zeros(c.weight(1)), 0);
  EXPECT_TRUE(torch::equal(c.weight(2).flatten().eq(0), torch::tensor({1, 1, 1, 1, 0, 0, 0, 0}).to(torch::kBool)));
  ASSERT_EQ(c.masks.count(2), 1u);
  EXPECT_EQ(c.masks[2].sizes(), c.weight(2).sizes());
  EXPECT_EQ(c.masks[2].scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(c.masks[2].eq(0), c.weight(2).eq(0)));
  EXPECT_DOUBLE_EQ(c.sparsity(), 0.25);
  // round(0.3 * 16) = 5, still all in the linear layer; round(0.6 * 16) = 10 takes the conv's 1 and 2 as well.
  CompressedNet d = two_layers();
  prune_unstructured(d, 0.3, true);
  EXPECT_EQ(zeros(d.weight(2)), 5);
  EXPECT_EQ(zeros(d.weight(1)), 0);
  prune_unstructured(d, 0.6, true);
  EXPECT_EQ(zeros(d.weight(2)), 8);
  EXPECT_TRUE(torch::equal(d.weight(1).flatten().eq(0), torch::tensor({1, 1, 0, 0, 0, 0, 0, 0}).to(torch::kBool)));
}

TEST_F(PruneTest, UnstructuredPerLayerPrunesEachLayerAlone) {
  CompressedNet c = two_layers();
  prune_unstructured(c, 0.25, /*global=*/false);
  EXPECT_TRUE(torch::equal(c.weight(1).flatten().eq(0), torch::tensor({1, 1, 0, 0, 0, 0, 0, 0}).to(torch::kBool)));
  EXPECT_TRUE(torch::equal(c.weight(2).flatten().eq(0), torch::tensor({1, 1, 0, 0, 0, 0, 0, 0}).to(torch::kBool)));
  EXPECT_DOUBLE_EQ(c.sparsity(), 0.25);
  // round(0.3 * 8) = 2 per layer, 4 in all (the global ranking removes 5).
  CompressedNet d = two_layers();
  prune_unstructured(d, 0.3, false);
  EXPECT_EQ(zeros(d.weight(1)), 2);
  EXPECT_EQ(zeros(d.weight(2)), 2);
  // Surviving weights keep their values.
  EXPECT_EQ(d.weight(1).flatten()[2].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(d.weight(2).flatten()[7].item<float>(), -0.8f);
}

TEST_F(PruneTest, UnstructuredTiesFollowIndexOrderAndMasksOnlyGrow) {
  CompressedNet eq = two_layers(/*equal_weights=*/true);
  prune_unstructured(eq, 0.25, true);
  // All 16 magnitudes tie: the first four in graph and index order go.
  EXPECT_TRUE(torch::equal(eq.weight(1).flatten().eq(0), torch::tensor({1, 1, 1, 1, 0, 0, 0, 0}).to(torch::kBool)));
  EXPECT_EQ(zeros(eq.weight(2)), 0);

  CompressedNet c = two_layers();
  prune_unstructured(c, 0.25, true);  // fc[0..3]
  {
    torch::NoGradGuard no_grad;
    c.weight(2).view({-1})[0] = 100.0f;  // as if fine-tuning had revived it without re-masking
  }
  prune_unstructured(c, 0.25, true);
  EXPECT_EQ(c.weight(2).flatten()[0].item<float>(), 0.0f);  // still masked, and it counts
  EXPECT_EQ(masked(c), 4);
  EXPECT_EQ(zeros(c.weight(1)), 0);
  prune_unstructured(c, 0.5, true);
  EXPECT_EQ(masked(c), 8);
  EXPECT_EQ(zeros(c.weight(2)), 8);  // fc[4..7] (0.5..0.8) are the next smallest
  prune_unstructured(c, 0.1, true);  // a lower target revives nothing
  EXPECT_EQ(masked(c), 8);
  EXPECT_DOUBLE_EQ(c.sparsity(), 0.5);
  prune_unstructured(c, 1.0, false);
  EXPECT_DOUBLE_EQ(c.sparsity(), 1.0);

  EXPECT_THROW(prune_unstructured(c, 1.5, true), ValueError);
  EXPECT_THROW(prune_unstructured(c, -0.1, true), ValueError);
  EXPECT_THROW(prune_channels(c, c.graph, 0.5, 3), ValueError);
}

// c1 -> depthwise -> c2 -> max pool -> BatchNorm -> linear, with channels {1, 4} of c1 and {0, 5} of c2 dead:
// zero filters whose BatchNorm output is zero too (shift and mean 0), through every follower.
GraphNet dead_channel_net() {
  NetGraph g(Shape{2, 6, 6}, 3);
  int x = g.conv(0, 6, 3, 1, 1, true, Activation::kReLU, "c1");  // n1
  x = g.conv(x, 6, 3, 1, 6, true, Activation::kReLU, "dw");      // n2
  x = g.conv(x, 6, 1, 1, 1, true, Activation::kReLU, "c2");      // n3
  x = g.max_pool(x, 2, 2, 0, "pool");                            // n4: 6x3x3
  x = g.batch_norm(x, "bn");                                     // n5
  g.linear(x, 3, true, Activation::kNone, "fc");                 // n6 reads 54 features
  GraphNet net(g);
  torch::NoGradGuard no_grad;
  for (int node : {1, 2, 3, 5}) {
    auto bn = net->bn(node);
    bn->weight.copy_(torch::rand({6}) + 0.5);
    bn->bias.copy_(torch::randn({6}) * 0.1);
    bn->running_mean.copy_(torch::randn({6}) * 0.1);
    bn->running_var.copy_(torch::rand({6}) + 0.5);
  }
  auto kill = [&](int node, std::vector<std::int64_t> channels, bool filters) {
    for (std::int64_t ch : channels) {
      if (filters) net->conv(node)->weight[ch].zero_();
      net->bn(node)->bias[ch].zero_();
      net->bn(node)->running_mean[ch].zero_();
    }
  };
  kill(1, {1, 4}, true);
  kill(2, {1, 4}, false);  // its input channel is already zero
  kill(3, {0, 5}, true);
  kill(5, {0, 5}, false);
  net->eval();
  return net;
}

TEST_F(PruneTest, RemovingDeadChannelsKeepsTheOutput) {
  torch::Tensor x = torch::randn({5, 2, 6, 6});
  for (bool folded : {false, true}) {
    for (int norm : {1, 2}) {
      GraphNet net = dead_channel_net();
      CompressedNet c = CompressedNet::from(net);
      // A mask and a cluster assignment that must be sliced with their weights.
      torch::Tensor c2_mask = (torch::arange(36).view({6, 6, 1, 1}).remainder(3) != 0).to(torch::kFloat);
      c.masks[3] = c2_mask;
      c.clusters[6] = ClusterState{torch::arange(162).remainder(5).view({3, 54}), 5, false};
      {
        torch::NoGradGuard no_grad;
        c.weight(3).mul_(c2_mask);
      }
      if (folded) fold_batch_norm(c);
      torch::Tensor before = c.net->forward(x);
      torch::Tensor fc_before = c.weight(6).clone();
      torch::Tensor c2_before = c.weight(3).clone();

      prune_channels(c, net->graph(), 1.0 / 3, norm);
      const auto& n = c.graph.nodes();
      EXPECT_EQ(n[1].out_channels, 4);
      EXPECT_EQ(n[2].out_channels, 4);
      EXPECT_EQ(n[2].groups, 4);
      EXPECT_EQ(n[3].out, (Shape{4, 6, 6}));
      EXPECT_EQ(n[5].out, (Shape{4, 3, 3}));
      EXPECT_EQ(c.weight(6).sizes(), (std::vector<std::int64_t>{3, 36}));
      EXPECT_EQ(c.folded, folded);
      EXPECT_EQ(c.net->bn(1).is_empty(), folded);
      torch::Tensor after = c.net->forward(x);
      EXPECT_LT((after - before).abs().max().item<float>(), 1e-6) << "folded " << folded << " norm " << norm;

      torch::Tensor keep1 = torch::tensor({0, 2, 3, 5}, torch::kLong);
      torch::Tensor keep2 = torch::tensor({1, 2, 3, 4}, torch::kLong);
      EXPECT_TRUE(torch::equal(c.weight(3), c2_before.index_select(0, keep2).index_select(1, keep1)));
      EXPECT_TRUE(torch::equal(c.weight(6), fc_before.view({3, 6, 9}).index_select(1, keep2).reshape({3, 36})));
      EXPECT_TRUE(torch::equal(c.masks[3], c2_mask.index_select(0, keep2).index_select(1, keep1)));
      EXPECT_TRUE(
          torch::equal(c.clusters[6].assignment,
                       torch::arange(162).remainder(5).view({3, 6, 9}).index_select(1, keep2).reshape({3, 36})));
      EXPECT_EQ(analyze_costs(c.graph).params, [&] {
        std::int64_t p = 0;
        for (const auto& t : c.net->parameters()) p += t.numel();
        return p;
      }());
    }
  }
}

TEST_F(PruneTest, ChainMacsHalveAndTargetsStayFractionsOfTheOriginal) {
  // stem 8 -> conv 16 (stride 2) -> mbconv x2 with a residual add -> head conv 32 -> pool -> linear.
  NetGraph g = build(
      "type: chain\nstem: {channels: 8}\nstages: [{depth: [2], widths: [16], stride: 2}]\n"
      "ops: [conv, mbconv]\nkernels: [3]\nexpand: [2]\nhead: {channels: 32}\n",
      "s1:conv_k3_w16,mb2_k3_w16", Shape{1, 8, 8}, 4);
  // Prunable: the stem, the expand conv (with its depthwise follower), the head conv. The block convs feed the add.
  std::vector<int> producers;
  for (const auto& grp : prunable_channel_groups(g)) producers.push_back(grp.producer);
  ASSERT_EQ(producers.size(), 3u);
  // stem 8*64*9; b0 16*16*8*9; expand 32*16*16; dw 32*16*9; project 16*16*32; head 32*16*16; fc 32*4.
  EXPECT_EQ(analyze_costs(g).macs, 4608 + 18432 + 8192 + 4608 + 8192 + 8192 + 128);
  GraphNet net(g);
  CompressedNet c = CompressedNet::from(net);
  prune_channels(c, g, 0.25, 1);
  EXPECT_EQ(c.graph.nodes()[1].out_channels, 6);  // round(0.75 * 8)
  prune_channels(c, g, 0.5, 1);                   // half of the original 8, not of 6
  EXPECT_EQ(c.graph.nodes()[1].out_channels, 4);
  EXPECT_EQ(analyze_costs(c.graph).macs, 2304 + 9216 + 4096 + 2304 + 4096 + 4096 + 64);
  torch::Tensor y = c.net->forward(torch::randn({3, 1, 8, 8}));
  EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{3, 4}));
  // A higher sparsity never grows channels back; sparsity 1 keeps one channel per group.
  prune_channels(c, g, 0.25, 1);
  EXPECT_EQ(c.graph.nodes()[1].out_channels, 4);
  prune_channels(c, g, 1.0, 2);
  for (int p : producers) EXPECT_EQ(c.graph.nodes()[static_cast<std::size_t>(p)].out_channels, 1);
  EXPECT_EQ(c.net->forward(torch::randn({2, 1, 8, 8})).sizes(), (std::vector<std::int64_t>{2, 4}));
}

TEST_F(PruneTest, ChannelStepPrunesAndFineTunesTheTinyChain) {
  NetGraph g = build(kTinyChain, "s1:dw_k3_w16", Shape{1, 8, 8}, 4);  // stem 8 -> dw 8 -> pw 16 -> pool -> fc
  TrainData data = testing::tiny_tensors();
  TrainHyperparams h = tiny_hyperparams(15);
  GraphNet net(g);
  train_network(net, data, h, Monitor{}, 256, 1);
  net->eval();
  const double trained = evaluate_split(net, data, data.val, 256).accuracy;
  torch::Tensor probe = torch::randn({2, 1, 8, 8});
  torch::Tensor reference = net->forward(probe);

  CompressedNet c = CompressedNet::from(net);
  PruneOptions o;
  o.structure = PruneStructure::kChannel;
  o.sparsity = 0.5;
  o.finetune_epochs = 3;
  o.lr = 0.02;
  TrainResult r = prune(c, o, {data, h, 256, 7, {}});
  EXPECT_EQ(r.epochs_run, 3);
  const auto& n = c.graph.nodes();
  EXPECT_EQ(n[1].out_channels, 4);
  EXPECT_EQ(n[2].groups, 4);
  EXPECT_EQ(n[3].out_channels, 8);
  // stem 8*64*9 -> 4*64*9; dw (stride 2) 8*16*9 -> 4*16*9; pw 16*16*8 -> 8*16*4; fc 16*4 -> 8*4.
  EXPECT_EQ(analyze_costs(g).macs, 4608 + 1152 + 2048 + 64);
  EXPECT_EQ(analyze_costs(c.graph).macs, 2304 + 576 + 512 + 32);
  const double pruned = evaluate_split(c.net, data, data.val, 256).accuracy;
  EXPECT_GT(trained, 0.5);  // 4 classes: chance is 0.25
  EXPECT_GT(pruned, 0.5);
  EXPECT_DOUBLE_EQ(r.best.val_accuracy, pruned);  // the best fine-tuning epoch is what the net holds
  // The pruned net runs a batch-1 forward pass on the device (what latency_ms_<variant> times).
  double ms = measure_latency_ms(c.net, c.graph.input_shape(), torch::kCPU, 2, 1);
  EXPECT_TRUE(std::isfinite(ms));
  EXPECT_GT(ms, 0);
  // The trained original is untouched.
  EXPECT_EQ(net->graph().nodes()[1].out_channels, 8);
  EXPECT_TRUE(torch::equal(net->forward(probe), reference));
}

TEST_F(PruneTest, IterativeUnstructuredScheduleHoldsMasksThroughFineTuning) {
  NetGraph g = build(kTinyChain, "s1:conv_k3_w16", Shape{1, 8, 8}, 4);
  TrainData data = testing::tiny_tensors();
  TrainHyperparams h = tiny_hyperparams(2);
  GraphNet net(g);
  train_network(net, data, h, Monitor{}, 256, 1);
  CompressedNet c = CompressedNet::from(net);
  const std::int64_t total = total_weights(c);
  PruneOptions o;
  o.schedule = PruneSchedule::kAgp;
  o.steps = 3;
  o.initial_sparsity = 0.1;
  o.sparsity = 0.7;
  o.finetune_epochs = 1;
  // After every fine-tuning step, record how many weights the masks hold at zero.
  std::set<std::int64_t> seen;
  TrainHooks hooks;
  hooks.after_step = [&] { seen.insert(masked(c)); };
  TrainResult r = prune(c, o, {data, h, 256, 5, hooks});
  EXPECT_EQ(r.epochs_run, 1);
  std::set<std::int64_t> expected;
  for (std::int64_t k = 1; k <= 3; ++k) expected.insert(std::llround(o.target(k) * static_cast<double>(total)));
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(masked(c), std::llround(0.7 * static_cast<double>(total)));
  for (const auto& [node, mask] : c.masks) {
    EXPECT_EQ(c.weight(node).masked_select(mask.eq(0)).abs().sum().item<float>(), 0.0f);
  }
  EXPECT_GE(c.sparsity(), 0.7 - 1e-9);
}

}  // namespace
}  // namespace nasforge
