#include "evaluators/compression/nn/cluster.h"

#include <set>

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/compression/nn/prune.h"
#include "evaluators/nn/train_testing.h"
#include "spaces/architecture.h"

namespace nasforge {
namespace {

using testing::kTinyChain;

class ClusterTest : public testing::NasforgeTest {
 protected:
  void SetUp() override {
    NasforgeTest::SetUp();
    seed_torch(testing::kTestSeed);
    data_ = testing::tiny_tensors();
    // stem 8 (+BN) -> depthwise 8 (+BN, stride 2) -> pointwise 16 (+BN) -> pool -> linear 4.
    NetGraph g =
        make_architecture(ConfigNode::parse_string(kTinyChain, "arch.yaml"))->build("s1:dw_k3_w16", Shape{1, 8, 8}, 4);
    net_ = GraphNet(g);
    train_network(net_, data_, hyperparams(15), Monitor{}, 256, 1);
    net_->eval();
  }

  static TrainHyperparams hyperparams(std::int64_t epochs) {
    TrainHyperparams h;
    h.epochs = epochs;
    h.batch_size = 32;
    h.lr = 0.05;
    return h;
  }

  double accuracy(GraphNet& net) { return evaluate_split(net, data_, data_.val, 256).accuracy; }

  TrainData data_;
  GraphNet net_{nullptr};
};

std::set<float> nonzero_values(const torch::Tensor& w) {
  torch::Tensor v = w.detach().to(torch::kCPU).flatten().contiguous();
  std::set<float> out;
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    float x = v[i].item<float>();
    if (x != 0) out.insert(x);
  }
  return out;
}

// Every weight equals the mean of the weights sharing its cluster (and pruned ones are zero).
void expect_shared(const CompressedNet& c, std::int64_t k) {
  for (int node : c.weight_nodes()) {
    SCOPED_TRACE("node " + std::to_string(node));
    ASSERT_EQ(c.clusters.count(node), 1u);
    const ClusterState& s = c.clusters.at(node);
    torch::Tensor w = c.weight(node).detach();
    EXPECT_LE(s.k, k);
    EXPECT_EQ(s.assignment.sizes(), w.sizes());
    EXPECT_EQ(s.assignment.scalar_type(), torch::kLong);
    EXPECT_LE(nonzero_values(w).size(), static_cast<std::size_t>(s.k));
    for (std::int64_t j = 0; j < s.k; ++j) {
      torch::Tensor members = w.masked_select(s.assignment.eq(j));
      if (members.numel() > 0) {
        EXPECT_EQ(members.min().item<float>(), members.max().item<float>());
      }
    }
    if (s.zero_slot) {
      EXPECT_EQ(w.masked_select(s.assignment.eq(s.k)).abs().sum().item<float>(), 0.0f);
    }
  }
}

TEST_F(ClusterTest, SixteenClustersKeepAccuracyAndSurviveFineTuning) {
  const double trained = accuracy(net_);
  ASSERT_GT(trained, 0.9);  // 4 classes: chance is 0.25
  CompressedNet c = CompressedNet::from(net_);
  ClusterOptions o;
  o.clusters = 16;
  TrainResult none = cluster_weights(c, o, {data_, hyperparams(1), 256, 3, {}});
  EXPECT_EQ(none.epochs_run, 0);
  EXPECT_TRUE(c.folded);  // shared values stay shared only if BatchNorm does not rescale them afterwards
  EXPECT_FALSE(c.graph.nodes()[1].batch_norm);
  expect_shared(c, 16);
  // 72 stem and 72 depthwise weights have more than 16 distinct values: each layer uses all 16 slots.
  EXPECT_EQ(c.clusters.at(1).k, 16);
  EXPECT_FALSE(c.clusters.at(1).zero_slot);
  // Distinct centroids: as many values as clusters that kept members (Lloyd may empty one).
  EXPECT_EQ(nonzero_values(c.weight(1)).size(), std::get<0>(at::_unique(c.clusters.at(1).assignment)).numel());
  EXPECT_GT(nonzero_values(c.weight(1)).size(), 8u);
  const double clustered = accuracy(c.net);
  EXPECT_NEAR(clustered, trained, 0.05);

  torch::Tensor before = c.weight(3).clone();
  TrainResult r = finetune(c, 1, 0.01, {data_, hyperparams(1), 256, 4, {}});
  EXPECT_EQ(r.epochs_run, 1);
  expect_shared(c, 16);
  EXPECT_FALSE(torch::equal(c.weight(3), before));  // the centroids did move
  EXPECT_GT(accuracy(c.net), 0.9);
}

TEST_F(ClusterTest, PrunedWeightsTakeTheZeroSlot) {
  CompressedNet c = CompressedNet::from(net_);
  prune_unstructured(c, 0.5, /*global=*/false);
  ClusterOptions o;
  o.clusters = 4;
  o.init = ClusterInit::kDensity;
  o.finetune_epochs = 1;
  o.lr = 0.01;
  TrainResult r = cluster_weights(c, o, {data_, hyperparams(1), 256, 3, {}});
  EXPECT_EQ(r.epochs_run, 1);
  expect_shared(c, 4);
  for (int node : c.weight_nodes()) {
    const ClusterState& s = c.clusters.at(node);
    EXPECT_EQ(s.k, 4);
    EXPECT_TRUE(s.zero_slot);
    EXPECT_TRUE(torch::equal(s.assignment.eq(4), c.masks.at(node).eq(0)));
    EXPECT_EQ(c.weight(node).eq(0).sum().item<std::int64_t>(), std::llround(0.5 * c.weight(node).numel()));
  }
  // Pruning after clustering sends newly pruned weights to the zero slot too.
  prune_unstructured(c, 0.75, true);
  for (int node : c.weight_nodes()) {
    EXPECT_TRUE(torch::equal(c.clusters.at(node).assignment.eq(4), c.masks.at(node).eq(0)));
  }
  expect_shared(c, 4);
}

TEST_F(ClusterTest, SameSeedSameClusters) {
  ClusterOptions o;
  o.clusters = 8;
  o.init = ClusterInit::kRandom;
  CompressedNet a = CompressedNet::from(net_);
  CompressedNet b = CompressedNet::from(net_);
  cluster_weights(a, o, {data_, hyperparams(1), 256, 11, {}});
  cluster_weights(b, o, {data_, hyperparams(1), 256, 11, {}});
  for (int node : a.weight_nodes()) {
    EXPECT_TRUE(torch::equal(a.clusters.at(node).assignment, b.clusters.at(node).assignment));
    EXPECT_TRUE(torch::equal(a.weight(node), b.weight(node)));
  }
  o.clusters = 0;
  EXPECT_THROW(cluster_weights(a, o, {data_, hyperparams(1), 256, 11, {}}), ValueError);
}

}  // namespace
}  // namespace nasforge
