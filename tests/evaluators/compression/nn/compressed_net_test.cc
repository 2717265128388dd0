#include "evaluators/compression/nn/compressed_net.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "evaluators/nn/distill.h"
#include "evaluators/nn/train_testing.h"

namespace nasforge {
namespace {

class CompressedNetTest : public testing::NasforgeTest {
 protected:
  // conv(+BN, relu) -> conv(+BN) -> global pool -> linear, with BatchNorm statistics far from the identity.
  static GraphNet make_net() {
    NetGraph g(Shape{2, 6, 6}, 3);
    int a = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "a");
    int b = g.conv(a, 5, 3, 2, 1, true, Activation::kNone, "b");
    int p = g.global_avg_pool(b, "pool");
    g.linear(p, 3, true, Activation::kNone, "fc");
    seed_torch(7);
    GraphNet net(g);
    torch::NoGradGuard no_grad;
    for (int node : {1, 2}) {
      auto bn = net->bn(node);
      bn->weight.uniform_(0.5, 2.0);
      bn->bias.uniform_(-1, 1);
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.2, 3.0);
    }
    net->eval();
    return net;
  }
};

TEST_F(CompressedNetTest, CopyIsIndependentOfTheOriginal) {
  GraphNet net = make_net();
  CompressedNet c = CompressedNet::from(net);
  torch::Tensor x = torch::randn({4, 2, 6, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(c.net->forward(x), net->forward(x)));
  c.weight(1).zero_();
  EXPECT_FALSE(torch::equal(c.net->forward(x), net->forward(x)));
  EXPECT_GT(net->conv(1)->weight.abs().sum().item<double>(), 0);
}

TEST_F(CompressedNetTest, FoldingBatchNormKeepsEvalOutputs) {
  GraphNet net = make_net();
  CompressedNet c = CompressedNet::from(net);
  fold_batch_norm(c);
  EXPECT_TRUE(c.folded);
  for (int node : {1, 2}) {
    EXPECT_FALSE(c.graph.nodes()[static_cast<std::size_t>(node)].batch_norm);
    EXPECT_TRUE(c.graph.nodes()[static_cast<std::size_t>(node)].bias);
    EXPECT_FALSE(c.net->bn(node));
  }
  torch::Tensor x = torch::randn({8, 2, 6, 6});
  torch::NoGradGuard no_grad;
  torch::Tensor want = net->forward(x), got = c.net->forward(x);
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << (got - want).abs().max().item<double>();
  // Hand check of one folded weight: w * gamma / sqrt(var + eps).
  auto bn = net->bn(1);
  double expect = net->conv(1)->weight[2][1][0][1].item<double>() * bn->weight[2].item<double>() /
                  std::sqrt(bn->running_var[2].item<double>() + 1e-5);
  EXPECT_NEAR(c.weight(1)[2][1][0][1].item<double>(), expect, 1e-6);
  // Folding again changes nothing.
  torch::Tensor before = c.weight(1).clone();
  fold_batch_norm(c);
  EXPECT_TRUE(torch::equal(before, c.weight(1)));
}

TEST_F(CompressedNetTest, ConstraintsRestoreMasksAndSharedValues) {
  GraphNet net = make_net();
  CompressedNet c = CompressedNet::from(net);
  fold_batch_norm(c);
  torch::Tensor w = c.weight(4);  // fc: 3 x 5
  torch::Tensor mask = torch::ones_like(w);
  mask[0][0] = 0;
  mask[1][3] = 0;
  c.masks[4] = mask;
  // Two clusters over the fc weights; the pruned ones point at the reserved zero slot (index 2).
  torch::Tensor assign = torch::zeros({3, 5}, torch::kLong);
  assign.index_put_({torch::indexing::Slice(), torch::indexing::Slice(2, 5)}, 1);
  assign[0][0] = 2;
  assign[1][3] = 2;
  c.clusters[4] = ClusterState{assign, 2, true};
  {
    torch::NoGradGuard no_grad;
    w.copy_(torch::arange(15, torch::kFloat).view({3, 5}));
  }
  enforce_constraints(c);
  // Cluster 0 holds (0,1) (1,0) (1,1) (2,0) (2,1) minus the masked (0,0): values 1, 5, 6, 10, 11 -> mean 6.6.
  // Cluster 1 holds columns 2..4 minus (1,3): 2,3,4,7,9,12,13,14 -> mean 8.
  torch::Tensor got = c.weight(4);
  EXPECT_EQ(got[0][0].item<float>(), 0.0f);
  EXPECT_EQ(got[1][3].item<float>(), 0.0f);
  EXPECT_NEAR(got[0][1].item<float>(), 6.6f, 1e-5);
  EXPECT_NEAR(got[2][0].item<float>(), 6.6f, 1e-5);
  EXPECT_NEAR(got[0][2].item<float>(), 8.0f, 1e-5);
  EXPECT_NEAR(got[2][4].item<float>(), 8.0f, 1e-5);
  EXPECT_NEAR(c.sparsity(), 2.0 / (4 * 2 * 9 + 5 * 4 * 9 + 15), 1e-12);
  std::vector<LayerStorage> s = c.storage();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[2].numel, 15);
  EXPECT_EQ(s[2].nonzeros, 13);
  EXPECT_EQ(s[2].clusters, 2);
  EXPECT_EQ(s[0].bias, 4);  // the folded BatchNorm's shift became a bias
}

TEST_F(CompressedNetTest, DistillationLossMatchesTheFormula) {
  torch::Tensor s = torch::tensor({{2.0f, 0.5f, -1.0f}, {0.1f, 0.2f, 0.3f}});
  torch::Tensor t = torch::tensor({{1.0f, 1.5f, -0.5f}, {3.0f, 0.0f, 0.0f}});
  torch::Tensor y = torch::tensor({0, 2}, torch::kLong);
  const double alpha = 0.3, T = 2.0;
  // By hand: CE averaged over the batch, KL(p_t || p_s) of the softened distributions summed over classes and
  // averaged over the batch, scaled by T^2.
  double ce = 0, kl = 0;
  for (int i = 0; i < 2; ++i) {
    double zs = 0, zt = 0, zs_t = 0;
    for (int j = 0; j < 3; ++j) {
      zs += std::exp(s[i][j].item<double>());
      zs_t += std::exp(s[i][j].item<double>() / T);
      zt += std::exp(t[i][j].item<double>() / T);
    }
    ce -= std::log(std::exp(s[i][y[i].item<std::int64_t>()].item<double>()) / zs);
    for (int j = 0; j < 3; ++j) {
      double pt = std::exp(t[i][j].item<double>() / T) / zt;
      double ps = std::exp(s[i][j].item<double>() / T) / zs_t;
      kl += pt * std::log(pt / ps);
    }
  }
  double want = alpha * ce / 2 + (1 - alpha) * T * T * kl / 2;
  EXPECT_NEAR(distillation_loss(s, t, y, alpha, T).item<double>(), want, 1e-5);
  // alpha = 1 is plain cross-entropy; identical logits make the soft term vanish.
  EXPECT_NEAR(distillation_loss(s, t, y, 1.0, T).item<double>(), ce / 2, 1e-5);
  EXPECT_NEAR(distillation_loss(s, s, y, 0.0, T).item<double>(), 0.0, 1e-6);
}

}  // namespace
}  // namespace nasforge
