#include "evaluators/compression/nn/quantize.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "evaluators/nn/train_testing.h"

namespace nasforge {
namespace {

using testing::kTinyChain;

constexpr const char* kConv = "s1:conv_k3_w16";

class QuantizeTest : public testing::TrainTest {
 protected:
  // The tiny synthetic task (256 1x8x8 images of 4 classes, 64 for validation) as tensors.
  static const TrainData& data() {
    static const TrainData d = testing::tiny_tensors();
    return d;
  }

  static TrainHyperparams hyper(std::int64_t epochs) {
    TrainHyperparams h;
    h.epochs = epochs;
    h.batch_size = 32;
    h.lr = 0.1;
    return h;
  }

  // The tiny chain trained once (with BatchNorm); tests work on independent copies.
  static GraphNet& trained() {
    static GraphNet net = [] {
      seed_torch(testing::kTestSeed);
      SearchSpace space = make_space("", kTinyChain);
      GraphNet n(space.architecture()->build(kConv, Shape{1, 8, 8}, 4));
      train_network(n, data(), hyper(6), Monitor{}, 256, 1);
      return n;
    }();
    return net;
  }

  static double accuracy(CompressedNet& c) { return evaluate_split(c.net, data(), data().val, 256).accuracy; }

  static torch::Tensor val_logits(GraphNet& net) {
    torch::NoGradGuard no_grad;
    net->eval();
    return net->forward(prepare_batch(data(), data().val.x, false, nullptr));
  }

  // The weight conv/linear node `node` computes with (after the installed transform).
  static torch::Tensor effective_weight(CompressedNet& c, int node) {
    torch::NoGradGuard no_grad;
    torch::Tensor w = c.weight(node);
    return c.net->transform() ? c.net->transform()->weight(node, w) : w;
  }

  static QuantizeOptions ptq(int bits, QuantMode mode = QuantMode::kStatic) {
    QuantizeOptions o;
    o.mode = mode;
    o.bits = bits;
    o.calibration_samples = 128;
    return o;
  }
};

// The value libtorch's quantized tensors give for `x`: quantize with the 8-bit type of the range's sign, clamp
// the integers to `range` (for fewer bits) and dequantize.
torch::Tensor reference_per_tensor(const torch::Tensor& x, const QParams& q, const QuantRange& range) {
  const bool is_signed = range.qmin < 0;
  torch::Tensor qx = torch::quantize_per_tensor(x, q.scale, q.zero_point, is_signed ? torch::kQInt8 : torch::kQUInt8);
  if (range.qmax - range.qmin == 255) return qx.dequantize();
  torch::Tensor ints =
      qx.int_repr().to(torch::kFloat).clamp(static_cast<double>(range.qmin), static_cast<double>(range.qmax));
  return (ints - static_cast<float>(q.zero_point)) * static_cast<float>(q.scale);
}

// Random values across and beyond the grid of `q`, plus exact ties (k + 0.5) * scale.
torch::Tensor grid_probe(const QParams& q, const QuantRange& range, std::int64_t n) {
  const auto s = static_cast<float>(q.scale);
  const double span = static_cast<double>(range.qmax - range.qmin);
  torch::Tensor k =
      torch::randint(range.qmin - 3, range.qmax + 3, {n}).to(torch::kFloat) - static_cast<float>(q.zero_point);
  torch::Tensor ties = (k + 0.5f) * s;
  torch::Tensor noise = (torch::rand({n}) * 1.2 - 0.6) * span * s;  // 20% beyond each end
  return torch::cat({ties, noise, torch::zeros({1})});
}

TEST_F(QuantizeTest, PerTensorMatchesLibtorchQuantizedTensors) {
  seed_torch(1);
  int checked = 0;
  for (bool is_signed : {false, true}) {
    for (int bits : {8, 4, 2}) {
      QuantRange range = quant_range(bits, is_signed);
      for (int t = 0; t < 20; ++t) {
        // Ranges from tiny to large, symmetric and affine, so scales and zero points vary.
        double scale_exp = -6.0 + 0.6 * t;
        double lo = -std::pow(10.0, scale_exp) * (t % 3), hi = std::pow(10.0, scale_exp) * (1 + t % 4);
        QParams q = choose_qparams(lo, hi, range, t % 2 == 1);
        torch::Tensor x = grid_probe(q, range, 500);
        torch::Tensor got = fake_quantize_tensor(x, q, range);
        torch::Tensor want = reference_per_tensor(x, q, range);
        ASSERT_TRUE(torch::equal(got, want))
            << "bits " << bits << " signed " << is_signed << " scale " << q.scale << " zp " << q.zero_point;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 120);
}

TEST_F(QuantizeTest, PerChannelMatchesLibtorchQuantizedTensors) {
  seed_torch(2);
  for (bool is_signed : {false, true}) {
    for (int bits : {8, 3}) {
      QuantRange range = quant_range(bits, is_signed);
      for (std::int64_t axis : {0, 1, 3}) {
        std::vector<std::int64_t> shape{4, 3, 2, 5};
        const std::int64_t channels = shape[static_cast<std::size_t>(axis)];
        std::vector<double> scales;
        std::vector<std::int64_t> zps;
        for (std::int64_t k = 0; k < channels; ++k) {
          QParams q = choose_qparams(-0.01 * static_cast<double>(k % 3), std::pow(7.0, static_cast<double>(k) - 2),
                                     range, k % 2 == 0);
          scales.push_back(q.scale);
          zps.push_back(q.zero_point);
        }
        torch::Tensor s = torch::tensor(scales, torch::kDouble), z = torch::tensor(zps, torch::kLong);
        std::vector<std::int64_t> view(4, 1);
        view[static_cast<std::size_t>(axis)] = channels;
        torch::Tensor sf = s.to(torch::kFloat).view(view), zf = z.to(torch::kFloat).view(view);
        // Integers around each channel's grid (ties included) and beyond it.
        torch::Tensor k = torch::randint(range.qmin - 4, range.qmax + 4, shape).to(torch::kFloat) - zf;
        torch::Tensor half = torch::randint(0, 2, shape).to(torch::kFloat) * 0.5f;
        torch::Tensor x =
            (k + half) * sf + torch::where(torch::rand(shape) < 0.3, torch::randn(shape) * sf, torch::zeros(shape));

        torch::Tensor got = fake_quantize_channels(x, s, z, axis, range);
        torch::Tensor qx = torch::quantize_per_channel(x, s, z, axis, is_signed ? torch::kQInt8 : torch::kQUInt8);
        torch::Tensor want = bits == 8 ? qx.dequantize()
                                       : (qx.int_repr()
                                              .to(torch::kFloat)
                                              .clamp(static_cast<double>(range.qmin), static_cast<double>(range.qmax)) -
                                          zf) *
                                             sf;
        ASSERT_TRUE(torch::equal(got, want)) << "bits " << bits << " signed " << is_signed << " axis " << axis;
      }
    }
  }
  EXPECT_THROW(
      fake_quantize_channels(torch::zeros({2, 3}), torch::ones({3}), torch::zeros({3}), 0, quant_range(8, true)),
      Error);
}

TEST_F(QuantizeTest, GradientsAreStraightThroughInsideTheRange) {
  QuantRange range = quant_range(4, false);  // 0..15
  QParams q{0.5, 3};                         // values -1.5 .. 6
  torch::Tensor x = torch::tensor({-3.0f, -1.7f, -1.2f, 0.0f, 2.25f, 5.9f, 6.2f, 9.0f}).requires_grad_(true);
  fake_quantize_tensor(x, q, range).sum().backward();
  // -1.7 rounds to integer -0.4 + 3 -> 0 (inside, kept); 6.2 rounds to 12 + 3 = 15 (inside); -3 and 9 clamp.
  torch::Tensor want = torch::tensor({0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f});
  EXPECT_TRUE(torch::equal(x.grad(), want)) << x.grad();

  torch::Tensor w = torch::tensor({{-1.0f, 0.2f, 3.0f}, {-1.0f, 0.2f, 3.0f}}).requires_grad_(true);
  // Channel 0 has scale 1 (everything inside -8..7); channel 1 scale 0.1 clamps -1.0 and 3.0.
  fake_quantize_channels(w, torch::tensor({1.0f, 0.1f}), torch::tensor({0, 0}), 0, quant_range(4, true))
      .sum()
      .backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::tensor({{1.0f, 1.0f, 1.0f}, {0.0f, 1.0f, 0.0f}}))) << w.grad();
}

TEST_F(QuantizeTest, FoldingBatchNormKeepsEvalOutputs) {
  CompressedNet c = CompressedNet::from(trained());
  ASSERT_TRUE(c.net->graph().nodes()[1].batch_norm);
  torch::Tensor before = val_logits(c.net);
  fold_batch_norm(c);
  EXPECT_TRUE(c.folded);
  for (const NetNode& n : c.net->graph().nodes()) EXPECT_FALSE(n.batch_norm) << n.name;
  EXPECT_TRUE(torch::allclose(val_logits(c.net), before, 1e-4, 1e-4));
}

TEST_F(QuantizeTest, EightBitStaticKeepsAccuracyAndTwoBitsLoseIt) {
  CompressedNet fp = CompressedNet::from(trained());
  const double fp_acc = accuracy(fp);
  ASSERT_GT(fp_acc, 0.8);  // the tiny task is learned
  torch::Tensor fp_logits = val_logits(fp.net);

  CompressedNet q8 = CompressedNet::from(trained());
  quantize_post_training(q8, ptq(8), data(), 64);
  EXPECT_TRUE(q8.folded);
  EXPECT_EQ(q8.weight_bits, 8);
  EXPECT_FALSE(q8.weight_float);
  EXPECT_TRUE(q8.per_channel);
  EXPECT_TRUE(q8.activations_quantized);
  EXPECT_NEAR(accuracy(q8), fp_acc, 0.05);
  const double err8 = (val_logits(q8.net) - fp_logits).abs().mean().item<double>();
  const double scale = fp_logits.abs().mean().item<double>();
  EXPECT_LT(err8, 0.05 * scale);

  CompressedNet q2 = CompressedNet::from(trained());
  quantize_post_training(q2, ptq(2), data(), 64);
  const double err2 = (val_logits(q2.net) - fp_logits).abs().mean().item<double>();
  EXPECT_GT(err2, 10 * err8);
  EXPECT_LT(accuracy(q2), fp_acc - 0.1);
  // The trained original is untouched.
  EXPECT_TRUE(torch::equal(val_logits(trained()), fp_logits));
}

TEST_F(QuantizeTest, EveryObserverCalibratesAWorkingEightBitNetwork) {
  CompressedNet fp = CompressedNet::from(trained());
  const double fp_acc = accuracy(fp);
  for (ObserverKind kind :
       {ObserverKind::kMinMax, ObserverKind::kMovingAverage, ObserverKind::kPercentile, ObserverKind::kEntropy}) {
    CompressedNet c = CompressedNet::from(trained());
    QuantizeOptions o = ptq(8);
    o.observer = kind;
    o.activation_symmetric = kind == ObserverKind::kEntropy;
    quantize_post_training(c, o, data(), 32);
    EXPECT_NEAR(accuracy(c), fp_acc, 0.08) << to_string(kind);
  }
}

TEST_F(QuantizeTest, WeightsLieOnTheQuantizationGrid) {
  for (bool per_channel : {true, false}) {
    for (bool symmetric : {true, false}) {
      CompressedNet c = CompressedNet::from(trained());
      {
        // Every third weight zero, as pruning leaves them.
        torch::NoGradGuard no_grad;
        for (int node : c.weight_nodes()) {
          torch::Tensor w = c.weight(node);
          w.view({-1}).slice(0, 0, w.numel(), 3).zero_();
        }
      }
      QuantizeOptions o = ptq(3);
      o.per_channel = per_channel;
      o.weight_symmetric = symmetric;
      quantize_post_training(c, o, data(), 64);
      for (int node : c.weight_nodes()) {
        torch::Tensor w = effective_weight(c, node);
        torch::Tensor original = c.weight(node);
        EXPECT_FALSE(torch::equal(w, original));
        std::int64_t most = 0;
        if (per_channel) {
          for (std::int64_t k = 0; k < w.size(0); ++k) most = std::max(most, std::get<0>(torch::_unique(w[k])).numel());
        } else {
          most = std::get<0>(torch::_unique(w)).numel();
        }
        EXPECT_LE(most, 8) << "node " << node << " per_channel " << per_channel << " symmetric " << symmetric;
        EXPECT_GE(most, 3);
        // Symmetric or not, the grid holds an exact 0: pruned weights stay pruned.
        torch::Tensor zeros = original == 0;
        EXPECT_GE(zeros.sum().item<std::int64_t>(), original.numel() / 3);
        EXPECT_EQ(w.masked_select(zeros).abs().sum().item<float>(), 0.0f);
      }
    }
  }
}

TEST_F(QuantizeTest, PerChannelScalesFitChannelsOfDifferentMagnitude) {
  NetGraph g(Shape{1, 4, 4}, 3);
  int x = g.conv(0, 3, 3, 1, 1, false, Activation::kReLU, "conv", /*bias=*/true);
  x = g.global_avg_pool(x, "pool");
  g.linear(x, 3, true, Activation::kNone, "fc");
  seed_torch(4);
  GraphNet net(g);
  {
    torch::NoGradGuard no_grad;
    // Output channels whose weights differ by a factor of 100 each.
    net->conv(1)->weight.mul_(torch::tensor({100.0f, 1.0f, 0.01f}).view({3, 1, 1, 1}));
  }
  double err[2] = {0, 0};
  for (bool per_channel : {true, false}) {
    CompressedNet c = CompressedNet::from(net);
    QuantizeOptions o = ptq(8, QuantMode::kDynamic);
    o.per_channel = per_channel;
    quantize_post_training(c, o, data(), 64);
    EXPECT_EQ(c.per_channel, per_channel);
    torch::Tensor w = c.weight(1);
    // Relative error of the smallest channel, which per-tensor quantization rounds to nothing.
    err[per_channel ? 0 : 1] = ((effective_weight(c, 1)[2] - w[2]).norm() / w[2].norm()).item<double>();
  }
  EXPECT_LT(err[0], 0.01);
  EXPECT_GT(err[1], 0.5);
}

TEST_F(QuantizeTest, StaticModeQuantizesNodeOutputsExceptPoolingAndDropout) {
  NetGraph g(Shape{1, 8, 8}, 4);
  int x = g.conv(0, 4, 3, 1, 1, false, Activation::kReLU, "conv", true);  // 1
  x = g.max_pool(x, 2, 2, 0, "max");                                      // 2
  x = g.dropout(x, 0.5, "drop");                                          // 3
  x = g.global_avg_pool(x, "pool");                                       // 4
  g.linear(x, 4, true, Activation::kNone, "fc");                          // 5
  seed_torch(5);
  GraphNet net(g);
  CompressedNet c = CompressedNet::from(net);
  quantize_post_training(c, ptq(4), data(), 64);
  auto t = c.net->transform();
  ASSERT_TRUE(t);
  torch::NoGradGuard no_grad;
  torch::Tensor y = torch::randn({2, 4, 4, 4});
  EXPECT_TRUE(torch::equal(t->output(2, y), y));
  EXPECT_TRUE(torch::equal(t->output(3, y), y));
  for (int node : {0, 1, 4, 5}) {
    torch::Tensor q = t->output(node, y);
    EXPECT_FALSE(torch::equal(q, y)) << node;
    EXPECT_LE(std::get<0>(torch::_unique(q)).numel(), 16) << node;  // 4-bit activations
  }
  // Calibrated ranges are frozen: a batch of huge values clamps to the top of the grid instead of widening it.
  const float top = t->output(1, torch::full({1}, 1e6f)).item<float>();
  EXPECT_LT(top, 100.0f);
  EXPECT_EQ(t->output(1, y * 1000).max().item<float>(), top);
}

TEST_F(QuantizeTest, TheObserverSetsActivationRanges) {
  // The top of node 1's activation grid after calibration: a percentile clips what min-max keeps.
  float top[2];
  for (ObserverKind kind : {ObserverKind::kMinMax, ObserverKind::kPercentile}) {
    CompressedNet c = CompressedNet::from(trained());
    QuantizeOptions o = ptq(8);
    o.observer = kind;
    o.percentile = 99;
    quantize_post_training(c, o, data(), 64);
    torch::NoGradGuard no_grad;
    top[kind == ObserverKind::kMinMax ? 0 : 1] = c.net->transform()->output(1, torch::full({1}, 1e6f)).item<float>();
  }
  EXPECT_GT(top[1], 0.0f);
  EXPECT_LT(top[1], 0.9f * top[0]);
}

TEST_F(QuantizeTest, DynamicModeQuantizesEachBatchOfLayerInputs) {
  CompressedNet c = CompressedNet::from(trained());
  quantize_post_training(c, ptq(8, QuantMode::kDynamic), data(), 64);
  EXPECT_FALSE(c.activations_quantized);
  EXPECT_EQ(c.weight_bits, 8);
  const auto& nodes = c.net->graph().nodes();
  const int out = c.net->graph().output();
  ASSERT_EQ(nodes[static_cast<std::size_t>(out)].kind, OpKind::kLinear);
  auto t = c.net->transform();
  torch::NoGradGuard no_grad;
  for (float spread : {1.0f, 50.0f}) {
    torch::Tensor x = torch::randn({3, 1, 8, 8}) * spread;
    // The network input feeds the stem conv: 8 bits over this batch's own [min, max].
    QuantRange u8 = quant_range(8, false);
    QParams q = choose_qparams(x.min().item<double>(), x.max().item<double>(), u8, false);
    EXPECT_TRUE(torch::equal(t->output(0, x), fake_quantize_tensor(x, q, u8))) << spread;
  }
  // The logits feed no layer and stay float.
  torch::Tensor logits = torch::randn({3, 4});
  EXPECT_TRUE(torch::equal(t->output(out, logits), logits));

  // 16-bit dynamic quantization keeps float activations.
  CompressedNet c16 = CompressedNet::from(trained());
  quantize_post_training(c16, ptq(16, QuantMode::kDynamic), data(), 64);
  torch::Tensor x = torch::randn({3, 1, 8, 8});
  EXPECT_TRUE(torch::equal(c16.net->transform()->output(0, x), x));
  EXPECT_EQ(c16.weight_bits, 16);
  EXPECT_FALSE(c16.weight_float);
  EXPECT_NEAR(accuracy(c16), accuracy(c), 0.05);
}

TEST_F(QuantizeTest, Float16RoundsWeightsToHalf) {
  CompressedNet c = CompressedNet::from(trained());
  const double fp_acc = accuracy(c);
  quantize_post_training(c, ptq(8, QuantMode::kFloat16), data(), 64);
  EXPECT_EQ(c.weight_bits, 16);
  EXPECT_TRUE(c.weight_float);
  EXPECT_FALSE(c.per_channel);
  EXPECT_FALSE(c.activations_quantized);
  bool changed = false;
  for (int node : c.weight_nodes()) {
    torch::Tensor w = c.weight(node);
    torch::Tensor h = effective_weight(c, node);
    EXPECT_TRUE(torch::equal(h, w.to(torch::kHalf).to(torch::kFloat)));
    changed = changed || !torch::equal(h, w);
  }
  EXPECT_TRUE(changed);
  torch::Tensor x = torch::randn({2, 1, 8, 8});
  EXPECT_TRUE(torch::equal(c.net->transform()->output(0, x), x));
  EXPECT_NEAR(accuracy(c), fp_acc, 0.02);
}

TEST_F(QuantizeTest, BitWidthsAreChecked) {
  CompressedNet c = CompressedNet::from(trained());
  EXPECT_THROW(quantize_post_training(c, ptq(9), data(), 64), ValueError);
  EXPECT_THROW(quantize_post_training(c, ptq(1, QuantMode::kDynamic), data(), 64), ValueError);
  EXPECT_THROW(quantize_post_training(c, ptq(17, QuantMode::kDynamic), data(), 64), ValueError);
  QuantizeOptions o = ptq(8);
  o.calibration_samples = 0;
  EXPECT_THROW(quantize_post_training(c, o, data(), 64), ValueError);
  EXPECT_FALSE(c.net->transform());  // a failed calibration leaves no half-set transform behind
  EXPECT_THROW(quantize_post_training(c, ptq(8), data(), 0), ValueError);
  EXPECT_FALSE(c.net->transform());
  QatOptions q;
  q.bits = 9;
  EXPECT_THROW(quantize_aware_training(c, q, {data(), hyper(1), 256, 1, {}}), ValueError);
}

TEST_F(QuantizeTest, QuantizationAwareTrainingRecoversLowBitAccuracy) {
  // At 2 bits post-training quantization loses about 40% accuracy on the tiny task; three epochs of QAT win
  // back 10-20% (seen for every seed and lr tried: 7..9 x 0.01..0.05).
  const int bits = 2;
  CompressedNet ptq_net = CompressedNet::from(trained());
  quantize_post_training(ptq_net, ptq(bits), data(), 64);
  const double ptq_acc = accuracy(ptq_net);

  CompressedNet c = CompressedNet::from(trained());
  QatOptions o;
  o.bits = bits;
  o.epochs = 3;
  o.lr = 0.02;
  o.calibration_samples = 128;
  TrainResult r = quantize_aware_training(c, o, {data(), hyper(3), 256, 7, {}});
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_TRUE(c.folded);
  EXPECT_EQ(c.weight_bits, bits);
  EXPECT_FALSE(c.weight_float);
  EXPECT_TRUE(c.per_channel);
  EXPECT_TRUE(c.activations_quantized);
  EXPECT_FALSE(c.net->is_training());
  const double qat_acc = accuracy(c);
  EXPECT_GT(qat_acc, ptq_acc + 0.05);
  // The network is the kept epoch's: its weights and the activation ranges it was validated with.
  EXPECT_EQ(qat_acc, r.best.val_accuracy);

  // Weights are on the 2-bit grid of their current values.
  for (int node : c.weight_nodes()) {
    torch::Tensor w = effective_weight(c, node);
    for (std::int64_t k = 0; k < w.size(0); ++k) EXPECT_LE(std::get<0>(torch::_unique(w[k])).numel(), 4);
  }
  // Activation ranges are frozen after training: a training-mode pass on wild inputs changes nothing.
  torch::Tensor before = val_logits(c.net);
  c.net->train();
  {
    torch::NoGradGuard no_grad;
    c.net->forward(torch::randn({8, 1, 8, 8}) * 100);
  }
  EXPECT_TRUE(torch::equal(val_logits(c.net), before));
}

TEST_F(QuantizeTest, QatMovesActivationRangesWhileTraining) {
  // The same calibration, then zero or one epoch: training batches move the stem conv's output range (its
  // weights change), and a moving average with c = 0.01 moves it a little. (The input's range would not move:
  // every batch of the synthetic images spans all pixel values.)
  QatOptions o;
  o.bits = 8;
  o.calibration_samples = 64;
  torch::Tensor probe = torch::linspace(-3, 3, 1001);
  torch::Tensor grid[2];
  for (std::int64_t epochs : {0, 1}) {
    CompressedNet c = CompressedNet::from(trained());
    o.epochs = epochs;
    TrainResult r = quantize_aware_training(c, o, {data(), hyper(1), 256, 7, {}});
    EXPECT_EQ(r.epochs_run, epochs);
    torch::NoGradGuard no_grad;
    grid[epochs] = c.net->transform()->output(1, probe);
  }
  EXPECT_FALSE(torch::equal(grid[0], grid[1]));
  EXPECT_TRUE(torch::allclose(grid[0], grid[1], 0, 0.1));
}

}  // namespace
}  // namespace nasforge
