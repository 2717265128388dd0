#include "evaluators/nn/trainer.h"

#include <cmath>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/nn/nn_api.h"
#include "spaces/architecture.h"
#include "testing.h"

namespace nasforge {
namespace {

class TrainerTest : public testing::NasforgeTest {};

std::int64_t parameter_count(GraphNet& net) {
  std::int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  return n;
}

NetGraph build(const std::string& arch_yaml, const std::string& genotype, const Shape& input, int classes) {
  auto arch = make_architecture(ConfigNode::parse_string(arch_yaml, "arch.yaml"));
  return arch->build(genotype, input, classes);
}

TEST_F(TrainerTest, LearningRateFollowsWarmupAndSchedule) {
  TrainHyperparams h;
  h.lr = 1.0;
  h.epochs = 2;
  h.warmup_epochs = 0.5;  // 5 of the 10 iterations per epoch
  h.schedule = "cosine";
  EXPECT_DOUBLE_EQ(learning_rate(h, 0, 10), 0.2);
  EXPECT_DOUBLE_EQ(learning_rate(h, 3, 10), 0.8);
  EXPECT_DOUBLE_EQ(learning_rate(h, 4, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(h, 5, 10), 1.0);  // cosine starts at its peak after warm-up
  EXPECT_DOUBLE_EQ(learning_rate(h, 12, 10), 0.5 * (1 + std::cos(M_PI * 7.0 / 15.0)));
  EXPECT_NEAR(learning_rate(h, 20, 10), 0.0, 1e-15);

  h.warmup_epochs = 0;
  h.schedule = "step";
  h.step_epochs = 1;
  h.gamma = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(h, 9, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(h, 10, 10), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(h, 25, 10), 0.1 * 0.1);

  h.schedule = "constant";
  EXPECT_DOUBLE_EQ(learning_rate(h, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(h, 19, 10), 1.0);
}

TEST_F(TrainerTest, AugmentationCropsAndFlipsEachSampleOfThePaddedImage) {
  const std::int64_t b = 16, h = 4, w = 5;
  torch::Tensor x = torch::empty({b, 1, h, w}, torch::kUInt8);
  for (std::int64_t i = 0; i < b; ++i) {
    for (std::int64_t r = 0; r < h; ++r) {
      for (std::int64_t c = 0; c < w; ++c) x[i][0][r][c] = static_cast<int>(1 + r * w + c + 20 * (i % 10));
    }
  }
  TrainData data;
  data.is_image = true;
  data.mean = torch::zeros({1, 1, 1, 1});
  data.stddev = torch::ones({1, 1, 1, 1});
  data.augment.crop_padding = 1;
  data.augment.hflip = true;
  at::Generator gen = at::detail::createCPUGenerator(7);
  torch::Tensor out = prepare_batch(data, x, /*augment=*/true, &gen);
  ASSERT_EQ(out.sizes(), x.sizes());
  EXPECT_EQ(out.scalar_type(), torch::kFloat);

  torch::Tensor padded = torch::constant_pad_nd(x, {1, 1, 1, 1}, 0).to(torch::kFloat);
  std::set<std::tuple<int, int, int>> seen;
  for (std::int64_t i = 0; i < b; ++i) {
    bool found = false;
    for (int oy = 0; oy <= 2 && !found; ++oy) {
      for (int ox = 0; ox <= 2 && !found; ++ox) {
        for (int flip = 0; flip <= 1 && !found; ++flip) {
          torch::Tensor crop = padded[i].slice(1, oy, oy + h).slice(2, ox, ox + w);
          if (flip) crop = crop.flip({2});
          if (torch::equal(crop, out[i])) {
            found = true;
            seen.insert({oy, ox, flip});
          }
        }
      }
    }
    EXPECT_TRUE(found) << "sample " << i << " is no crop of its padded image";
  }
  EXPECT_GT(seen.size(), 3u);  // offsets and flips vary across the batch

  at::Generator again = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(prepare_batch(data, x, true, &again), out));
  // Without augmentation (validation) the batch is only converted.
  EXPECT_TRUE(torch::equal(prepare_batch(data, x, false, nullptr), x.to(torch::kFloat)));
}

TEST_F(TrainerTest, ImagesAreNormalizedWithTheTrainingStatistics) {
  DatasetSplits splits;
  for (Dataset* d : {&splits.train, &splits.val}) {
    d->is_image = true;
    d->sample_shape = Shape{2, 1, 2};
    d->num_classes = 2;
    d->pixels = {10, 20, 30, 40, 50, 60, 70, 80};
    d->labels = {0, 1};
  }
  splits.mean = {20.0f, 40.0f};
  splits.stddev = {2.0f, 0.0f};  // a constant channel divides by 1
  TrainData data = to_tensors(splits, AugmentOptions{}, torch::kCPU);
  EXPECT_EQ(data.train.x.scalar_type(), torch::kUInt8);
  EXPECT_EQ(data.train.y.scalar_type(), torch::kLong);
  torch::Tensor v = prepare_batch(data, data.val.x, false, nullptr);
  torch::Tensor expected = torch::tensor({-5.0f, 0.0f, -10.0f, 0.0f, 15.0f, 20.0f, 30.0f, 40.0f}).view({2, 2, 1, 2});
  EXPECT_TRUE(torch::equal(v, expected)) << v;
}

TEST_F(TrainerTest, EvaluationCountsCorrectPredictions) {
  // A linear network on 2 features whose weights pick feature k for class k.
  NetGraph g(Shape{2, 1, 1}, 2);
  g.linear(0, 2, false, Activation::kNone, "fc");
  GraphNet net(g);
  {
    torch::NoGradGuard no_grad;
    net->parameters()[0].copy_(torch::eye(2));
  }
  DatasetSplits splits;
  for (Dataset* d : {&splits.train, &splits.val}) {
    d->sample_shape = Shape{2, 1, 1};
    d->num_classes = 2;
    d->features = {1, 0, 0, 1, 0, 1, 2, 3};  // predictions 0, 1, 1, 1
    d->labels = {0, 1, 0, 1};
  }
  splits.mean = {0, 0};
  splits.stddev = {1, 1};
  TrainData data = to_tensors(splits, AugmentOptions{}, torch::kCPU);
  EvalResult r = evaluate_split(net, data, data.val, /*batch_size=*/3);
  EXPECT_EQ(r.n, 4);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.75);
  // Mean cross-entropy: log(1 + e^-1) for the three right, log(1 + e^1) for the wrong one.
  double expected = (3 * std::log1p(std::exp(-1.0)) + std::log1p(std::exp(1.0))) / 4;
  EXPECT_NEAR(r.loss, expected, 1e-6);
}

TEST_F(TrainerTest, ParameterCountMatchesTheCostModel) {
  NetGraph chain = build(
      "type: chain\nstem: {channels: 8}\n"
      "stages: [{depth: [2], widths: [16], stride: 1}, {depth: [1], widths: [24], stride: 2}]\n"
      "ops: [conv, dwsep, mbconv]\nkernels: [3, 5]\nexpand: [3]\nse: true\nhead: {channels: 32, dropout: 0.1}\n",
      "s1:mb3_k3_w16_se,dw_k5_w16_se|s2:conv_k3_w24", Shape{3, 16, 16}, 10);
  GraphNet chain_net(chain);
  EXPECT_EQ(parameter_count(chain_net), analyze_costs(chain).params);

  NetGraph cell = build("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n",
                        "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
                        Shape{3, 8, 8}, 10);
  GraphNet cell_net(cell);
  EXPECT_EQ(parameter_count(cell_net), analyze_costs(cell).params);
}

TEST_F(TrainerTest, ReferenceCellComputesEveryEdgeAndZeroesNone) {
  // edges: all builds the dead-end conv on edge_2_1 and `none` as x * 0; the module trains what the graph says.
  NetGraph cell = build("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\nedges: all\n",
                        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|none~2|",
                        Shape{3, 8, 8}, 10);
  GraphNet net(cell);
  EXPECT_EQ(parameter_count(net), analyze_costs(cell).params);
  NetGraph zero(Shape{2, 3, 3}, 2);
  zero.set_output(zero.activation(0, Activation::kZero, "none"));
  GraphNet zero_net(zero);
  torch::Tensor x = torch::randn({1, 2, 3, 3}) + 5;
  torch::Tensor y = zero_net->forward(x);
  EXPECT_EQ(y.numel(), x.numel());  // the network output comes out flattened
  EXPECT_EQ(y.abs().sum().item<float>(), 0.0f);
  EXPECT_GT(x.abs().sum().item<float>(), 0.0f);  // a standalone activation never writes into its input
}

TEST_F(TrainerTest, RoundRobinLatenciesOnePerNetworkLargerNetworkSlower) {
  auto net = [](std::int64_t width) {
    NetGraph g(Shape{3, 32, 32}, 10);
    int x = g.conv(0, width, 3, 1, 1, true, Activation::kReLU, "c1");
    x = g.conv(x, width, 3, 1, 1, true, Activation::kReLU, "c2");
    x = g.global_avg_pool(x, "pool");
    g.set_output(g.linear(x, 10, true, Activation::kNone, "fc"));
    return g;
  };
  std::vector<double> ms = measure_latencies_nn({net(4), net(128)}, 15, 2, 1, false);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_GT(ms[0], 0);
  // 1000x the MACs: no scheduling noise turns that ranking around.
  EXPECT_GT(ms[1], ms[0]);
}

TEST_F(TrainerTest, LatencyIsPositive) {
  NetGraph g(Shape{1, 8, 8}, 3);
  int x = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "c");
  x = g.global_avg_pool(x, "pool");
  g.linear(x, 3, true, Activation::kNone, "fc");
  GraphNet net(g);
  double ms = measure_latency_ms(net, g.input_shape(), torch::kCPU, 3, 1);
  EXPECT_GT(ms, 0);
  EXPECT_LT(ms, 1000);
  EXPECT_EQ(measure_latency_ms(net, g.input_shape(), torch::kCPU, 0, 0), 0);
}

}  // namespace
}  // namespace nasforge
