#include "evaluators/compression/quantization.h"

#include <cfloat>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "testing.h"

namespace nasforge {
namespace {

class QuantizationTest : public testing::NasforgeTest {};

std::pair<double, double> observe_all(ObserverKind kind, const ObserverOptions& o,
                                      const std::vector<std::vector<float>>& batches) {
  auto obs = make_observer(kind, o);
  for (const auto& b : batches) obs->observe(b.data(), b.size());
  return obs->range();
}

// n deterministic samples of an exponential distribution (its quantiles at (k + 0.5) / n), alternating in sign
// when `mirrored`.
std::vector<float> exponential_bulk(int n, bool mirrored) {
  std::vector<float> v;
  for (int k = 0; k < n; ++k) {
    float x = -std::log((static_cast<float>(k) + 0.5f) / static_cast<float>(n));
    v.push_back(mirrored && k % 2 ? -x : x);
  }
  return v;
}

TEST_F(QuantizationTest, RangesOfSignedAndUnsignedIntegers) {
  EXPECT_EQ(quant_range(8, true).qmin, -128);
  EXPECT_EQ(quant_range(8, true).qmax, 127);
  EXPECT_EQ(quant_range(8, false).qmin, 0);
  EXPECT_EQ(quant_range(8, false).qmax, 255);
  EXPECT_EQ(quant_range(2, true).qmin, -2);
  EXPECT_EQ(quant_range(2, true).qmax, 1);
  EXPECT_EQ(quant_range(16, false).qmax, 65535);
  EXPECT_EQ(quant_range(16, true).qmin, -32768);
  EXPECT_THROW(quant_range(1, false), ValueError);
  EXPECT_THROW(quant_range(17, true), ValueError);
}

TEST_F(QuantizationTest, AffineQParamsFollowPyTorch) {
  // [-1, 3] on 0..255: scale 4/255 (float), zero point 0 - round(-1 / scale) = round(63.75) = 64.
  QParams q = choose_qparams(-1, 3, quant_range(8, false), false);
  EXPECT_EQ(q.scale, static_cast<double>(4.0f / 255.0f));
  EXPECT_EQ(q.zero_point, 64);
  // The same range on -128..127 shifts the zero point by qmin.
  q = choose_qparams(-1, 3, quant_range(8, true), false);
  EXPECT_EQ(q.scale, static_cast<double>(4.0f / 255.0f));
  EXPECT_EQ(q.zero_point, -64);
  // The range is widened to contain 0: [2, 5] behaves as [0, 5], [-4, -2] as [-4, 0].
  q = choose_qparams(2, 5, quant_range(8, false), false);
  EXPECT_EQ(q.scale, static_cast<double>(5.0f / 255.0f));
  EXPECT_EQ(q.zero_point, 0);
  q = choose_qparams(-4, -2, quant_range(8, false), false);
  EXPECT_EQ(q.zero_point, 255);
  // Ties round to even like torch.round: [-1.25, 0.25] on 0..3 has scale 0.5 and -1.25 / 0.5 = -2.5 -> -2.
  q = choose_qparams(-1.25, 0.25, quant_range(2, false), false);
  EXPECT_EQ(q.scale, 0.5);
  EXPECT_EQ(q.zero_point, 2);
  // A constant 0 tensor gets the smallest scale PyTorch allows.
  q = choose_qparams(0, 0, quant_range(8, false), false);
  EXPECT_EQ(q.scale, static_cast<double>(FLT_EPSILON));
  EXPECT_EQ(q.zero_point, 0);
}

TEST_F(QuantizationTest, SymmetricQParamsCentreTheRange) {
  // max(|-1|, 3) = 3 over half of 255 steps; signed ranges put 0 at 0, unsigned ones at the middle integer.
  QParams q = choose_qparams(-1, 3, quant_range(8, true), true);
  EXPECT_EQ(q.scale, static_cast<double>(3.0f / 127.5f));
  EXPECT_EQ(q.zero_point, 0);
  q = choose_qparams(-1, 3, quant_range(8, false), true);
  EXPECT_EQ(q.scale, static_cast<double>(3.0f / 127.5f));
  EXPECT_EQ(q.zero_point, 128);  // PyTorch's quint8 symmetric zero point
  q = choose_qparams(-6, 2, quant_range(4, false), true);
  EXPECT_EQ(q.scale, static_cast<double>(6.0f / 7.5f));
  EXPECT_EQ(q.zero_point, 8);
  q = choose_qparams(0, 0, quant_range(4, true), true);
  EXPECT_EQ(q.scale, static_cast<double>(FLT_EPSILON));
}

TEST_F(QuantizationTest, BadRangesAreRejected) {
  EXPECT_THROW(choose_qparams(2, 1, quant_range(8, false), false), ValueError);
  EXPECT_THROW(choose_qparams(std::nan(""), 1, quant_range(8, false), false), ValueError);
  EXPECT_THROW(choose_qparams(0, INFINITY, quant_range(8, false), true), ValueError);
  EXPECT_THROW(choose_qparams(0, 1, QuantRange{1, 5}, false), ValueError);
}

TEST_F(QuantizationTest, FakeQuantizeRoundsBeforeAddingTheZeroPointAndClamps) {
  QParams q{0.5, 1};
  QuantRange r = quant_range(2, false);  // 0..3, so values -0.5 .. 1.0
  // 0.25 / 0.5 = 0.5 rounds to 0 (even) before the zero point is added; rounding 1.5 would give 2 instead.
  EXPECT_EQ(fake_quantize(0.25f, q, r), 0.0f);
  EXPECT_EQ(fake_quantize(0.75f, q, r), 1.0f);  // 1.5 -> 2
  EXPECT_EQ(fake_quantize(0.5f, q, r), 0.5f);
  EXPECT_EQ(fake_quantize(-0.3f, q, r), -0.5f);
  EXPECT_EQ(fake_quantize(10.0f, q, r), 1.0f);    // clamped to qmax = 3
  EXPECT_EQ(fake_quantize(-10.0f, q, r), -0.5f);  // clamped to qmin = 0
  // Values on the grid come back unchanged.
  QParams q8 = choose_qparams(-1, 3, quant_range(8, false), false);
  for (int k = 0; k < 256; ++k) {
    auto x = static_cast<float>((k - q8.zero_point) * static_cast<float>(q8.scale));
    EXPECT_EQ(fake_quantize(x, q8, quant_range(8, false)), x) << k;
  }
}

TEST_F(QuantizationTest, MinMaxObserverKeepsTheExtremes) {
  auto obs = make_observer(ObserverKind::kMinMax);
  EXPECT_THROW(obs->range(), StateError);
  std::vector<float> a{1, -2, 3}, b{0.5f, 7}, c{-0.5f};
  obs->observe(a.data(), a.size());
  EXPECT_EQ(obs->range(), std::make_pair(-2.0, 3.0));
  obs->observe(b.data(), b.size());
  obs->observe(c.data(), c.size());
  EXPECT_EQ(obs->range(), std::make_pair(-2.0, 7.0));
  std::vector<float> bad{1, NAN};
  EXPECT_THROW(obs->observe(bad.data(), bad.size()), ValueError);
  EXPECT_THROW(obs->observe(a.data(), 0), ValueError);
}

TEST_F(QuantizationTest, MovingAverageStartsAtTheFirstBatch) {
  ObserverOptions o;
  o.averaging_constant = 0.1;
  auto obs = make_observer(ObserverKind::kMovingAverage, o);
  std::vector<float> a{-1, 0, 2}, b{-3, 4};
  obs->observe(a.data(), a.size());
  EXPECT_EQ(obs->range(), std::make_pair(-1.0, 2.0));
  obs->observe(b.data(), b.size());
  // min = -1 + 0.1 * (-3 - -1) = -1.2; max = 2 + 0.1 * (4 - 2) = 2.2.
  EXPECT_DOUBLE_EQ(obs->range().first, -1.2);
  EXPECT_DOUBLE_EQ(obs->range().second, 2.2);
  o.averaging_constant = 0;
  EXPECT_THROW(make_observer(ObserverKind::kMovingAverage, o), ValueError);
}

TEST_F(QuantizationTest, PercentileInterpolatesWithinBins) {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<float>(i));
  ObserverOptions o;
  o.percentile = 99;
  o.bins = 1000;
  // 1000 bins of width 0.999 over [0, 999], one value each: 1% of the mass ends at the 10th bin's upper edge
  // (9.99), 99% at the 990th (989.01).
  auto [lo, hi] = observe_all(ObserverKind::kPercentile, o, {v});
  EXPECT_NEAR(lo, 9.99, 1e-9);
  EXPECT_NEAR(hi, 989.01, 1e-9);

  // Growing the range (upwards, then downwards) merges bins; the result stays within a few bin widths.
  std::vector<float> low(v.begin(), v.begin() + 500), high(v.begin() + 500, v.end());
  auto up = observe_all(ObserverKind::kPercentile, o, {low, high});
  EXPECT_NEAR(up.first, 10, 2.5);
  EXPECT_NEAR(up.second, 990, 2.5);
  auto down = observe_all(ObserverKind::kPercentile, o, {high, low});
  EXPECT_NEAR(down.first, 10, 2.5);
  EXPECT_NEAR(down.second, 990, 2.5);
}

TEST_F(QuantizationTest, PercentileClipsOutliersButNotTheBulk) {
  std::vector<float> v;
  for (int i = 0; i < 100000; ++i) v.push_back(-1.0f + 2.0f * static_cast<float>(i) / 99999.0f);
  v.push_back(1000.0f);
  ObserverOptions o;
  o.percentile = 99.9;
  auto [lo, hi] = observe_all(ObserverKind::kPercentile, o, {v});
  EXPECT_NEAR(lo, -0.998, 0.01);
  EXPECT_NEAR(hi, 0.998, 0.5);  // bins are 1001 / 2048 wide
  EXPECT_LT(hi, 2.0);
  // With p = 100 the range is everything seen.
  o.percentile = 100;
  auto all = observe_all(ObserverKind::kPercentile, o, {v});
  EXPECT_DOUBLE_EQ(all.first, -1.0);
  EXPECT_DOUBLE_EQ(all.second, 1000.0);
}

TEST_F(QuantizationTest, HistogramObserversHandleConstantBatches) {
  std::vector<float> zeros(10, 0.0f), ramp{0, 1, 2, 3, 4};
  for (ObserverKind kind : {ObserverKind::kPercentile, ObserverKind::kEntropy}) {
    EXPECT_EQ(observe_all(kind, {}, {zeros}), std::make_pair(0.0, 0.0)) << to_string(kind);
    auto r = observe_all(kind, {}, {zeros, ramp});
    EXPECT_GE(r.first, 0.0) << to_string(kind);
    EXPECT_LE(r.second, 4.0) << to_string(kind);
    EXPECT_GT(r.second, 3.0) << to_string(kind);
  }
  std::vector<float> sevens(4, 7.0f);
  EXPECT_EQ(observe_all(ObserverKind::kPercentile, {}, {sevens}), std::make_pair(7.0, 7.0));
}

TEST_F(QuantizationTest, EntropyKeepsAUniformRange) {
  // One value in the middle of each of 2048 bins over [0, 1]: every candidate that clips loses information
  // the full range keeps exactly, so the threshold is the upper edge of the last bin, the maximum.
  std::vector<float> v;
  for (int i = 0; i < 2048; ++i) v.push_back((static_cast<float>(i) + 0.5f) / 2048.0f);
  auto [lo, hi] = observe_all(ObserverKind::kEntropy, {}, {v});
  EXPECT_EQ(lo, 0.0);
  EXPECT_DOUBLE_EQ(hi, v.back());
}

TEST_F(QuantizationTest, EntropyClipsOutliers) {
  // An exponential bulk (its maximum is ln(2 * 100000) = 12.2, 99.9% lies below ln(1000) = 6.9) and five
  // values at 100. The histogram's bins are 100 / 2048 wide, so 8 bits (256 levels) cannot clip below 12.5.
  std::vector<float> v = exponential_bulk(100000, false);
  for (int i = 0; i < 5; ++i) v.push_back(100.0f);
  ObserverOptions o;
  auto r8 = observe_all(ObserverKind::kEntropy, o, {v});
  EXPECT_EQ(r8.first, 0.0);
  EXPECT_GE(r8.second, 12.5);
  EXPECT_LT(r8.second, 20.0);
  // Fewer levels clip harder, but stay above the bulk's 99% quantile ln(100) = 4.6.
  o.bits = 4;
  auto r4 = observe_all(ObserverKind::kEntropy, o, {v});
  EXPECT_LT(r4.second, r8.second);
  EXPECT_GT(r4.second, 4.6);

  // Negative values make the range symmetric with half the levels (2^(bits-1)): 128 bins of 100 / 2048.
  std::vector<float> s = exponential_bulk(100000, true);
  for (int i = 0; i < 5; ++i) s.push_back(i % 2 ? -100.0f : 100.0f);
  auto rs = observe_all(ObserverKind::kEntropy, {}, {s});
  EXPECT_EQ(rs.first, -rs.second);
  EXPECT_GE(rs.second, 6.25);
  EXPECT_LT(rs.second, 20.0);
  EXPECT_GT(rs.second, 4.6);
}

TEST_F(QuantizationTest, ObserverOptionsAreChecked) {
  ObserverOptions o;
  o.percentile = 40;
  EXPECT_THROW(make_observer(ObserverKind::kPercentile, o), ValueError);
  o = {};
  o.bins = 1;
  EXPECT_THROW(make_observer(ObserverKind::kEntropy, o), ValueError);
  o = {};
  o.bits = 1;
  EXPECT_THROW(make_observer(ObserverKind::kEntropy, o), ValueError);
  EXPECT_STREQ(to_string(ObserverKind::kMovingAverage), "moving_average");
}

}  // namespace
}  // namespace nasforge
