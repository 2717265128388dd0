#include "evaluators/cost/target_costs.h"

#include <random>

#include "core/config.h"
#include "core/error.h"
#include "evaluators/cost/calibration.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/cost/target_budget.h"
#include "testing.h"

namespace nasforge {
namespace {

class TargetCostsTest : public testing::NasforgeTest {};

// A profile with round coefficients, so expected times can be computed by hand.
TargetProfile round_profile() {
  return TargetProfile::from_config(ConfigNode::parse_string(R"(
name: round
device: test device
runtime: test runtime
invoke_overhead_us: 100
fuse: [batch_norm, activation, squeeze_excite]
compute: {fp32_gmacs: 1, int8_gmacs: 4}
memory: {bandwidth_gbs: 2, sram_bytes: 1000, flash_bytes: 5000, runtime_flash_bytes: 100, runtime_sram_bytes: 10,
         im2col_columns: 2}
kernels:
  conv: {efficiency: 1, overhead_us: 10}
  depthwise: {efficiency: 0.5, overhead_us: 20}
  linear: {efficiency: 1, overhead_us: 5}
  pool: {efficiency: 1, overhead_us: 1}
  global_pool: {efficiency: 1, overhead_us: 2}
  add: {efficiency: 1, overhead_us: 3}
  se: {efficiency: 1, overhead_us: 4}
  elementwise: {efficiency: 1, overhead_us: 6}
)",
                                                             "round.yaml"));
}

// conv 3x3 (BN, ReLU) -> depthwise 3x3 (BN, ReLU) -> SE -> add with the conv output -> GAP -> linear.
NetGraph se_net() {
  NetGraph g(Shape{2, 4, 4}, 3);                                           // n0: 32
  int c = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "conv");          // n1: 4x4x4 = 64
  int d = g.conv(c, 4, 3, 1, 4, true, Activation::kReLU, "dw");            // n2: 64
  int p = g.global_avg_pool(d, "se.pool");                                 // n3: 4
  p = g.conv(p, 8, 1, 1, 1, false, Activation::kReLU, "se.reduce", true);  // n4: 8
  p = g.conv(p, 4, 1, 1, 1, false, Activation::kHardSigmoid, "se.expand", true);  // n5: 4
  int m = g.mul(d, p, "se.mul");                                           // n6: 64
  int s = g.add({c, m}, "add");                                            // n7: 64
  s = g.global_avg_pool(s, "pool");                                        // n8: 4
  g.linear(s, 3, true, Activation::kNone, "fc");                           // n9: 3
  return g;
}

TEST_F(TargetCostsTest, FusedRuntimeSeesOneKernelPerBlockEagerOnePerOp) {
  FusionRules fused{true, true, true};
  std::vector<Kernel> k = detect_kernels(se_net(), fused);
  ASSERT_EQ(k.size(), 6u);
  EXPECT_EQ(k[0].type, KernelType::kConv);
  EXPECT_EQ(k[1].type, KernelType::kDepthwise);
  EXPECT_EQ(k[2].type, KernelType::kSqueezeExcite);
  EXPECT_EQ(k[2].name, "se.mul");
  EXPECT_EQ(k[3].type, KernelType::kAdd);
  EXPECT_EQ(k[4].type, KernelType::kGlobalPool);
  EXPECT_EQ(k[5].type, KernelType::kLinear);
  // conv: 64 outputs * 2 inputs * 9 = 1152 MACs; reads 32, writes 64, weights 4*2*9 + 4 folded biases = 76.
  EXPECT_EQ(k[0].macs, 1152);
  EXPECT_EQ(k[0].elements, 32 + 64 + 76);
  // SE: pool and product over 64 (128) + reduce 4*8 + expand 8*4 = 192 MACs; 3 passes of 64 + weights 40 + 36.
  EXPECT_EQ(k[2].macs, 128 + 32 + 32);
  EXPECT_EQ(k[2].elements, 3 * 64 + (32 + 8) + (32 + 4));

  // Eager: BN and activation of conv, dw and the SE layers are kernels of their own, and the SE is five ops.
  std::vector<Kernel> eager = detect_kernels(se_net(), FusionRules{});
  int elementwise = 0;
  for (const Kernel& e : eager) elementwise += e.type == KernelType::kElementwise;
  // conv bn+act, dw bn+act, se.reduce act, se.expand act, se.mul = 7.
  EXPECT_EQ(elementwise, 7);
  EXPECT_EQ(eager.size(), 7u + 8u);  // + conv, dw, se.pool, se.reduce, se.expand, add, pool, fc
}

TEST_F(TargetCostsTest, LatencyIsOverheadPlusComputePlusMemoryPerKernel) {
  const TargetProfile p = round_profile();
  NetGraph g(Shape{2, 4, 4}, 3);
  g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "conv");
  const std::vector<Kernel> k = detect_kernels(g, p.fuse);
  ASSERT_EQ(k.size(), 1u);
  std::vector<KernelTime> t = kernel_times(k, DataType::kFloat32, p);
  // 1152 MACs at 1e9/s = 1.152 us; 172 elements * 4 bytes at 2e9 B/s = 0.344 us; 10 us overhead.
  EXPECT_NEAR(t[0].compute_us, 1.152, 1e-9);
  EXPECT_NEAR(t[0].memory_us, 0.344, 1e-9);
  EXPECT_DOUBLE_EQ(t[0].overhead_us, 10);
  const TargetCosts fp32 = predict_costs(Deployment::of(g), p);
  EXPECT_NEAR(fp32.latency_ms, (100 + 10 + 1.152 + 0.344) / 1e3, 1e-12);
  // int8: 4x the MAC rate and a quarter of the bytes.
  const TargetCosts int8 = predict_costs(Deployment::of(g, 8), p);
  EXPECT_NEAR(int8.latency_ms, (100 + 10 + 1.152 / 4 + 0.344 / 4) / 1e3, 1e-12);
  EXPECT_NEAR(predict_latency_ms(k, DataType::kInt8, p), int8.latency_ms, 1e-12);
}

TEST_F(TargetCostsTest, FlashCountsDeployedPrecisionParametersAndRuntime) {
  TargetProfile p = round_profile();
  NetGraph g(Shape{2, 4, 4}, 3);
  int x = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "conv");  // 72 weights + 4 bias
  x = g.global_avg_pool(x, "pool");
  g.linear(x, 3, true, Activation::kNone, "fc");  // 12 weights + 3 bias
  // fp32: (72 + 4 + 12 + 3) * 4 = 364 bytes + 100 runtime.
  EXPECT_EQ(flash_bytes(Deployment::of(g), p), 364 + 100);
  // int8 per channel: 84 weight bytes; biases int32 (7 * 4 = 28); scale + zero point 8 bytes per channel (4 + 3).
  EXPECT_EQ(flash_bytes(Deployment::of(g, 8), p), 84 + 28 + 7 * 8 + 100);
  // Clustered to 4 values: without format support stored dense, with it a 4-entry table and 2-bit indices.
  Deployment clustered = Deployment::of(g, 32, 4);
  EXPECT_EQ(flash_bytes(clustered, p), 364 + 100);
  p.clustered_weights = true;
  // conv: 4*32 + 72*2 = 272 bits, + 4*32 bias; fc: 4*32 + 12*2 = 152 bits + 3*32 -> 272+128+152+96 = 648 bits.
  EXPECT_EQ(flash_bytes(clustered, p), 81 + 100);
}

TEST_F(TargetCostsTest, CompressedWeightsMoveFewerBytesOnlyWhereTheFormatStoresThem) {
  TargetProfile p = round_profile();
  NetGraph g(Shape{2, 4, 4}, 3);
  g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "conv");  // 72 weights + 4 bias; 32 + 64 activation elements
  const Deployment dense = Deployment::of(g), clustered = Deployment::of(g, 32, 4);
  // Without format support the clustered network runs on dense weights: the same time.
  const double dense_us = predict_costs(dense, p).kernels[0].memory_us;
  EXPECT_DOUBLE_EQ(predict_costs(clustered, p).kernels[0].memory_us, dense_us);
  p.clustered_weights = true;
  // With it the 76 weight elements (bias included) move at the stored bytes over their dense 76*4 = 304 bytes
  // (4-entry table, 2-bit indices, fp32 bias), while the 96 activation elements move as before.
  const double ratio = static_cast<double>(flash_bytes(clustered, p) - p.runtime_flash_bytes) / 304.0;
  EXPECT_LT(ratio, 0.5);
  EXPECT_NEAR(predict_costs(clustered, p).kernels[0].memory_us, (96 * 4 + 76 * 4 * ratio) / 2e3, 1e-9);
  EXPECT_LT(predict_costs(clustered, p).latency_ms, predict_costs(dense, p).latency_ms);
  EXPECT_DOUBLE_EQ(predict_costs(dense, p).kernels[0].memory_us, dense_us);  // dense stays dense
}

TEST_F(TargetCostsTest, SramIsPeakLiveActivationsPlusScratchAtTheDataType) {
  TargetProfile p = round_profile();
  p.runtime_sram_bytes = 0;
  p.im2col_columns = 0;
  NetGraph g(Shape{4, 4, 4}, 3);                                   // n0: 64
  int a = g.conv(0, 8, 1, 1, 1, true, Activation::kReLU, "pw");    // n1: 128
  a = g.conv(a, 8, 3, 1, 8, true, Activation::kReLU, "dw");        // n2: 128 (input n1 dies here)
  a = g.global_avg_pool(a, "pool");                                // n3: 8
  g.linear(a, 3, true, Activation::kNone, "fc");                   // n4: 3
  // Live: n1 runs with n0: 64 + 128 = 192; n2 with n1: 256; peak 256 elements.
  EXPECT_EQ(sram_bytes(g, DataType::kFloat32, p), 256 * 4);
  EXPECT_EQ(sram_bytes(g, DataType::kInt8, p), 256);
  // In-place depthwise: n2 needs one 4x4 channel buffer next to n1: 128 + 16 = 144; n1's 192 is then the peak.
  p.in_place_depthwise = true;
  EXPECT_EQ(sram_bytes(g, DataType::kInt8, p), 192);
  // im2col scratch of the 3x3 depthwise: 2 columns of 1*9 elements while it runs: 144 + 18 < 192.
  p.im2col_columns = 2;
  EXPECT_EQ(sram_bytes(g, DataType::kInt8, p), 192);
  p.im2col_columns = 10;  // 144 + 90 = 234 > 192
  EXPECT_EQ(sram_bytes(g, DataType::kInt8, p), 234);
  p.runtime_sram_bytes = 1000;
  EXPECT_EQ(sram_bytes(g, DataType::kInt8, p), 1234);
}

TEST_F(TargetCostsTest, FitsUnderBothLimitsAndNamesTheMiss) {
  TargetProfile p = round_profile();
  NetGraph g(Shape{4, 4, 4}, 3);
  int a = g.conv(0, 8, 1, 1, 1, true, Activation::kReLU, "pw");
  a = g.global_avg_pool(a, "pool");
  g.linear(a, 3, true, Activation::kNone, "fc");
  TargetCosts int8 = predict_costs(Deployment::of(g, 8), p);
  EXPECT_TRUE(int8.fits) << int8.misses;
  p.sram_bytes = 100;  // int8 peak: 64 + 128 = 192 + 10 runtime
  TargetCosts miss = predict_costs(Deployment::of(g, 8), p);
  EXPECT_FALSE(miss.fits);
  EXPECT_EQ(miss.misses, "sram_bytes 202 > 100 (by 102)");
}

TEST_F(TargetCostsTest, DeploymentRoundTripsThroughJson) {
  Deployment d = Deployment::of(se_net(), 8, 16);
  Deployment back = Deployment::from_json(d.to_json());
  EXPECT_EQ(back.to_json(), d.to_json());
  Deployment no_graph = Deployment::from_json(d.to_json(false), &d.graph);
  EXPECT_EQ(no_graph.to_json(), d.to_json());
  EXPECT_THROW(Deployment::from_json(Json{{"dtype", "int4"}, {"layers", Json::array()}}, &d.graph), DataError);
  EXPECT_THROW(Deployment::from_json(d.to_json(false)), DataError);
}

TEST_F(TargetCostsTest, ProfileReadsBackWhatItWritesAndRejectsBadValues) {
  const TargetProfile p = round_profile();
  TargetProfile back = TargetProfile::from_config(ConfigNode::parse_string(p.to_yaml({"a header"}), "back.yaml"));
  EXPECT_EQ(back.to_yaml(), p.to_yaml());
  EXPECT_EQ(back.sram_bytes, 1000);
  EXPECT_TRUE(back.fuse.squeeze_excite);

  const std::string good = p.to_yaml();
  auto error_of = [](const std::string& text) -> std::string {
    try {
      TargetProfile::from_config(ConfigNode::parse_string(text, "bad.yaml"));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  std::string e = error_of("name: x\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 0, int8_gmacs: 1}\n"
                           "memory: {bandwidth_gbs: 1}\n");
  EXPECT_NE(e.find("bad.yaml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("fp32_gmacs"), std::string::npos) << e;
  e = error_of("name: x\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 1, int8_gmacs: 1}\n"
               "memory: {bandwidth_gbs: 1, sram: 5}\n");
  EXPECT_NE(e.find("sram"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yaml:5"), std::string::npos) << e;
  e = error_of("name: x\ndevice: d\nruntime: r\nfuse: [bn]\ncompute: {fp32_gmacs: 1, int8_gmacs: 1}\n"
               "memory: {bandwidth_gbs: 1}\n");
  EXPECT_NE(e.find("batch_norm"), std::string::npos) << e;
  e = error_of("name: ../x\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 1, int8_gmacs: 1}\nmemory: {bandwidth_gbs: 1}\n");
  EXPECT_NE(e.find("letters, digits"), std::string::npos) << e;
  e = error_of("name: x\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 1, int8_gmacs: 1}\nmemory: {bandwidth_gbs: 1}\n"
               "kernels: {conv: {efficiency: -1}}\n");
  EXPECT_NE(e.find("efficiency"), std::string::npos) << e;
  EXPECT_THROW(load_target("no-such-device"), NotFoundError);
}

TEST_F(TargetCostsTest, EveryShippedProfileLoads) {
  const std::vector<std::string> names = builtin_target_names();
  for (const char* must : {"host", "raspberry-pi-4", "raspberry-pi-5", "jetson-nano", "pixel-3", "stm32f746",
                           "stm32h743", "generic"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
  }
  for (const std::string& n : names) {
    TargetProfile p = load_target(n);
    EXPECT_EQ(p.name, n);
  }
  EXPECT_EQ(load_target("stm32f746").sram_bytes, 320 * 1024);
  EXPECT_EQ(load_target("stm32f746").flash_bytes, 1024 * 1024);
}

// Networks of random shapes whose latencies come from known coefficients: calibration must recover them.
std::vector<LatencySample> synthetic_samples(const TargetProfile& truth, int n, std::uint64_t seed, double noise) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> width(4, 64), blocks(1, 5), kernel(0, 2);
  std::normal_distribution<double> jitter(0, noise);
  std::vector<LatencySample> out;
  for (int i = 0; i < n; ++i) {
    NetGraph g(Shape{3, 16, 16}, 10);
    int x = g.conv(0, width(rng), 3, 1, 1, true, Activation::kReLU, "stem");
    for (int b = blocks(rng); b > 0; --b) {
      const int k = 1 + 2 * kernel(rng);
      const std::int64_t c = g.nodes()[static_cast<std::size_t>(x)].out.c;
      int y;
      if (rng() % 2) {  // a dense conv, so conv and depthwise counts vary apart
        y = g.conv(x, width(rng), k, 1, 1, true, Activation::kReLU, "conv" + std::to_string(b));
      } else {
        y = g.conv(x, c, k, 1, static_cast<int>(c), true, Activation::kReLU, "dw" + std::to_string(b));
        y = g.conv(y, width(rng), 1, 1, 1, true, Activation::kNone, "pw" + std::to_string(b));
      }
      x = g.nodes()[static_cast<std::size_t>(y)].out == g.nodes()[static_cast<std::size_t>(x)].out
              ? g.add({x, y}, "add" + std::to_string(b))
              : y;
      if (b % 2 == 0) x = g.avg_pool(x, 3, 1, 1, "pool" + std::to_string(b));
    }
    x = g.global_avg_pool(x, "gap");
    g.linear(x, 10, true, Activation::kNone, "fc");
    LatencySample s{detect_kernels(g, truth.fuse), DataType::kFloat32, 0};
    s.latency_ms = predict_latency_ms(s.kernels, s.dtype, truth) * (1 + jitter(rng));
    out.push_back(s);
  }
  return out;
}

TEST_F(TargetCostsTest, CalibrationRecoversKnownCoefficients) {
  TargetProfile truth = round_profile();
  truth.coefficients(KernelType::kDepthwise).efficiency = 0.2;
  truth.coefficients(KernelType::kConv).overhead_us = 40;
  truth.bandwidth_gbs = 0.5;
  // Start far away: every coefficient off by 2-5x.
  TargetProfile start = round_profile();
  for (KernelType t : kernel_types()) {
    start.coefficients(t).efficiency = 1;
    start.coefficients(t).overhead_us = 2;
  }
  start.bandwidth_gbs = 4;
  start.invoke_overhead_us = 0;
  const std::vector<LatencySample> samples = synthetic_samples(truth, 60, 7, 0.0);
  TargetProfile fitted = fit_profile(start, samples, 1e-6);
  EXPECT_NEAR(fitted.coefficients(KernelType::kDepthwise).efficiency, 0.2, 0.01);
  EXPECT_NEAR(fitted.coefficients(KernelType::kConv).overhead_us, 40, 1);
  EXPECT_NEAR(fitted.bandwidth_gbs, 0.5, 0.02);
  // Coefficients of kernel types no sample has stay where they started.
  EXPECT_DOUBLE_EQ(fitted.coefficients(KernelType::kSqueezeExcite).overhead_us, 2);

  // With 5% noise and 20 samples, leave-one-out still ranks and predicts well.
  Calibration c = calibrate(start, synthetic_samples(truth, 20, 11, 0.05));
  EXPECT_GT(c.loo_spearman, 0.9);
  EXPECT_LT(c.loo_mdape, 0.15);
  EXPECT_EQ(c.loo_predicted.size(), 20u);
  EXPECT_THROW(fit_profile(start, {}, 1), ValueError);
}

TEST_F(TargetCostsTest, SpearmanAndMedianError) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 0.9486832980505138, 1e-12);  // ties share their rank
  EXPECT_NEAR(median_ape({1.1, 2, 2.7}, {1, 2, 3}), 0.1, 1e-12);
}

TEST_F(TargetCostsTest, BudgetKeysNameTargetMetricsAndVariants) {
  const std::vector<TargetProfile> targets = {round_profile()};
  ConfigNode ok = ConfigNode::parse_string("{macs: 1000000, latency_ms_int8@round: 0.5, fits@round: true}", "b.yaml");
  CostBudget b = CostBudget::from_config(ok, targets, {"int8"});
  ASSERT_EQ(b.on_targets.size(), 2u);
  EXPECT_EQ(b.on_targets[0].variant, "int8");
  EXPECT_EQ(b.on_targets[0].metric, TargetMetric::kLatencyMs);
  TargetCosts fast;
  fast.latency_ms = 0.4;
  TargetCosts slow;
  slow.latency_ms = 0.75;
  slow.fits = false;
  slow.misses = "sram_bytes 2000 > 1000 (by 1000)";
  CostMetrics small;
  EXPECT_FALSE(b.violation(small, [&](std::size_t, const std::string&) { return fast; }));
  std::optional<std::string> why = b.violation(small, [&](std::size_t, const std::string&) { return slow; });
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "latency_ms_int8@round 0.75 > budget 0.5, fits@round is false (sram_bytes 2000 > 1000 (by 1000))");

  auto error_of = [&](const std::string& text) -> std::string {
    try {
      CostBudget::from_config(ConfigNode::parse_string(text, "b.yaml"), targets, {"int8"});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of("{latency_ms@pi: 5}").find("not in the objective's targets: round"), std::string::npos);
  EXPECT_NE(error_of("{latency@round: 5}").find("latency_ms@round"), std::string::npos);
  EXPECT_NE(error_of("{latency_ms_fp16@round: 5}").find("unknown budget metric"), std::string::npos);
  EXPECT_NE(error_of("{fits@round: false}").find("can only be true"), std::string::npos);
  EXPECT_NE(error_of("{sram_bytes@round: -1}").find("positive limit"), std::string::npos);
}

}  // namespace
}  // namespace nasforge
