#include "evaluators/compression/compression_config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/compression/cluster_step.h"
#include "evaluators/cost/compressed_size.h"
#include "evaluators/compression/prune_step.h"
#include "evaluators/compression/quantize_step.h"
#include "evaluators/fake_trial.h"
#include "evaluators/train_config.h"
#include "spaces/architecture.h"
#include "testing.h"

namespace nasforge {
namespace {

using testing::parse_space;

constexpr const char* kHead =
    "kind: train\n"
    "dataset: {format: synthetic, size: 64, shape: [1, 8, 8]}\n";

class CompressionConfigTest : public testing::NasforgeTest {
 protected:
  static SearchSpace space_with(const std::string& params_yaml) {
    SearchSpace space = params_yaml.empty() ? SearchSpace() : parse_space(params_yaml);
    space.set_architecture(make_architecture(ConfigNode::parse_string(
        "type: chain\nstem: {channels: 4}\nstages: [{depth: [1], widths: [8], stride: 2}]\nops: [conv]\n"
        "kernels: [3]\n",
        "arch.yaml")));
    return space;
  }
  TrainConfig read(const std::string& yaml, const SearchSpace& space, std::size_t n_objectives = 1) {
    SectionReader options(ConfigNode::parse_string(std::string(kHead) + yaml, "study.yaml"));
    options.text("kind", std::nullopt, "objective kind");
    TrainConfig c = TrainConfig::from_config(options, space, n_objectives, tmp(""));
    options.finish();
    return c;
  }
  std::string error_of(const std::string& yaml, const SearchSpace& space, std::size_t n_objectives = 1) {
    try {
      read(yaml, space, n_objectives);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(CompressionConfigTest, VariantsReadWithDefaultsAndAddTheirMetrics) {
  TrainConfig c = read(
      "compress:\n"
      "  int8: {quantize: {bits: 8}}\n"
      "  pruned: [{prune: {structure: channel, sparsity: 0.5}}, {quantize: {bits: 4, per_channel: false}}]\n"
      "  k16: {cluster: {clusters: 16}}\n",
      space_with(""));
  ASSERT_EQ(c.compression.variants.size(), 3u);
  const CompressionVariant& int8 = c.compression.variants[0];
  EXPECT_EQ(int8.name, "int8");
  QuantizeOptions q = QuantizeOptions::from(int8.steps[0].resolve({}, int8.name));
  EXPECT_EQ(q.mode, QuantMode::kStatic);
  EXPECT_EQ(q.bits, 8);
  EXPECT_TRUE(q.per_channel);
  EXPECT_TRUE(q.weight_symmetric);
  EXPECT_FALSE(q.activation_symmetric);
  EXPECT_EQ(q.observer, ObserverKind::kMinMax);
  EXPECT_EQ(q.calibration_samples, 1024);

  const CompressionVariant& pruned = c.compression.variants[1];
  ASSERT_EQ(pruned.steps.size(), 2u);
  PruneOptions p = PruneOptions::from(pruned.steps[0].resolve({}, pruned.name));
  EXPECT_EQ(p.structure, PruneStructure::kChannel);
  EXPECT_DOUBLE_EQ(p.sparsity, 0.5);
  EXPECT_EQ(p.steps, 1);
  EXPECT_FALSE(QuantizeOptions::from(pruned.steps[1].resolve({}, pruned.name)).per_channel);
  EXPECT_THROW(QuantizeOptions::from(pruned.steps[0].resolve({}, pruned.name)), Error);  // step 0 is a prune step

  const CompressionVariant& k16 = c.compression.variants[2];
  EXPECT_EQ(ClusterOptions::from(k16.steps[0].resolve({}, k16.name)).clusters, 16);
  std::vector<std::string> names = c.compression.metric_names();
  for (const char* m : {"val_accuracy_int8", "size_bytes_int8", "sparsity_pruned", "macs_pruned", "latency_ms_k16"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), m), names.end()) << m;
  }
  // Quantized variants run fake quantization in float: no latency is claimed for them.
  EXPECT_EQ(std::find(names.begin(), names.end(), "latency_ms_int8"), names.end());
}

TEST_F(CompressionConfigTest, VariantMetricsAreValidObjectives) {
  TrainConfig c = read(
      "compress: {int8: {quantize: {bits: 8}}}\n"
      "objectives: [val_accuracy_int8, size_bytes_int8]\n",
      space_with(""), 2);
  EXPECT_EQ(c.objectives, (std::vector<std::string>{"val_accuracy_int8", "size_bytes_int8"}));
  std::string err =
      error_of("compress: {int8: {quantize: {bits: 8}}}\nobjectives: [val_accuracy_int4]\n", space_with(""));
  EXPECT_NE(err.find("val_accuracy_int4"), std::string::npos) << err;
  EXPECT_NE(err.find("val_accuracy_int8"), std::string::npos) << err;  // listed among the valid names
}

TEST_F(CompressionConfigTest, SearchedSettingsResolvePerTrial) {
  SearchSpace space = space_with(
      "bits: {type: categorical, choices: [4, 8]}\n"
      "sparsity: {type: float, low: 0.0, high: 0.9}\n"
      "kd: {type: categorical, choices: [true, false]}\n");
  TrainConfig c = read(
      "compress: {q: [{prune: {sparsity: $sparsity}}, {quantize: {bits: $bits}}]}\n"
      "distill: {teacher: best, enabled: $kd, alpha: 0.3}\n",
      space);
  const CompressionVariant& v = c.compression.variants[0];
  ParamMap params{{"bits", ParamValue(std::int64_t{4})}, {"sparsity", ParamValue(0.25)}, {"kd", ParamValue(false)}};
  EXPECT_EQ(QuantizeOptions::from(v.steps[1].resolve(params, v.name)).bits, 4);
  EXPECT_DOUBLE_EQ(PruneOptions::from(v.steps[0].resolve(params, v.name)).sparsity, 0.25);
  DistillOptions d = c.compression.distill_options(params);
  EXPECT_FALSE(d.enabled);
  EXPECT_DOUBLE_EQ(d.alpha, 0.3);
  EXPECT_DOUBLE_EQ(d.temperature, 4);
  EXPECT_EQ(d.teacher, "best");
  params["kd"] = ParamValue(true);
  EXPECT_TRUE(c.compression.distill_options(params).enabled);
}

TEST_F(CompressionConfigTest, BadInputNamesKeyValueAndWhatIsAllowed) {
  SearchSpace space = space_with("b: {type: int, low: 2, high: 12}\n");
  struct Case {
    const char* yaml;
    std::vector<const char*> expect;
  };
  const Case cases[] = {
      {"compress: {int8: {quantize: {bits: 1}}}\n", {"bits", "got 1", "[2, 16]"}},
      {"compress: {int8: {quantize: {bits: 12}}}\n", {"bits", "2..8", "dynamic"}},
      {"compress: {int8: {quantize: {bitz: 8}}}\n", {"bitz", "bits"}},
      {"compress: {int8: {quantise: {bits: 8}}}\n", {"quantise", "quantize"}},
      {"compress: {int8: {qat: {bits: $b}}}\n", {"$b", "high bound", "[2, 8]"}},
      {"compress: {Int8: {quantize: {}}}\n", {"Int8", "lowercase"}},
      {"compress: {q: [{quantize: {}}, {prune: {}}]}\n", {"last step"}},
      {"compress: {q: [{cluster: {}}, {prune: {}}]}\n", {"pruning must come first"}},
      {"compress: {q: {prune: {sparsity: 1.0}}}\n", {"sparsity", "[0, 1)"}},
      {"compress: {q: {prune: {schedule: cubic}}}\n", {"cubic", "one_shot, iterative, agp"}},
      {"compress: {q: {quantize: {observer: kl}}}\n", {"kl", "entropy"}},
      {"compress: {q: []}\n", {"at least one step"}},
      {"compress: {q: {quantize: {bits: 8}, prune: {}}}\n", {"single key"}},
      {"distill: {alpha: 0.5}\n", {"teacher", "required"}},
      {"distill: {teacher: no/such/dir}\n", {"no/such/dir", "model.json", "nasforge export"}},
      {"distill: {teacher: best, alpha: 1.5}\n", {"alpha", "[0, 1]"}},
  };
  for (const auto& c : cases) {
    std::string err = error_of(c.yaml, space);
    ASSERT_FALSE(err.empty()) << c.yaml;
    EXPECT_NE(err.find("study.yaml:"), std::string::npos) << err;
    for (const char* e : c.expect) EXPECT_NE(err.find(e), std::string::npos) << c.yaml << " -> " << err;
  }
}

TEST_F(CompressionConfigTest, ResolvedValuesOutOfRangeFailTheTrial) {
  SearchSpace space = space_with("mode: {type: categorical, choices: [static, dynamic]}\n");
  TrainConfig c = read("compress: {q: {quantize: {mode: $mode, bits: 16}}}\n", space);
  ParamMap dynamic{{"mode", ParamValue(std::string("dynamic"))}};
  const CompressionVariant& q = c.compression.variants[0];
  EXPECT_EQ(QuantizeOptions::from(q.steps[0].resolve(dynamic, q.name)).bits, 16);
  ParamMap stat{{"mode", ParamValue(std::string("static"))}};
  EXPECT_THROW(QuantizeOptions::from(q.steps[0].resolve(stat, q.name)), ObjectiveError);
}

TEST_F(CompressionConfigTest, ResolvedValuesBreakingAStepRuleNameTheVariant) {
  SearchSpace space = space_with("mode: {type: categorical, choices: [static, dynamic]}\n");
  TrainConfig c = read("compress: {wide: {quantize: {mode: $mode, bits: 12}}}\n", space);
  const CompressionVariant& v = c.compression.variants[0];
  try {
    v.steps[0].resolve({{"mode", ParamValue(std::string("static"))}}, v.name);
    ADD_FAILURE() << "static 12-bit quantization resolved";
  } catch (const ObjectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("compress.wide: bits is 12, but static quantization supports 2..8 bits"),
              std::string::npos)
        << e.what();
  }
}

TEST(StepTypesTest, EveryStepIsInTheCatalogWithItsRules) {
  EXPECT_EQ(step_catalog().names(), (std::vector<std::string>{"quantize", "qat", "prune", "cluster"}));
  ASSERT_EQ(step_types().size(), step_catalog().entries().size());
  for (std::size_t i = 0; i < step_types().size(); ++i) {
    const StepType& t = step_types()[i];
    EXPECT_EQ(t.entry.name, step_catalog().entries()[i].name);
    EXPECT_FALSE(t.entry.doc.empty()) << t.entry.name;
    // Only the quantizing steps must come last.
    EXPECT_EQ(t.quantizes, !t.last_because.empty()) << t.entry.name;
    for (const auto& k : t.keys) EXPECT_FALSE(k.doc.empty()) << t.entry.name << "." << k.key;
  }
  EXPECT_TRUE(step_types()[2].forbids_after(step_types()[3]));   // prune after cluster
  EXPECT_FALSE(step_types()[3].forbids_after(step_types()[2]));  // cluster after prune
}

TEST(PruneScheduleTest, TargetsFollowTheSchedules) {
  PruneOptions o;
  o.sparsity = 0.8;
  EXPECT_DOUBLE_EQ(o.target(1), 0.8);  // one-shot
  o.schedule = PruneSchedule::kIterative;
  o.steps = 4;
  EXPECT_DOUBLE_EQ(o.target(1), 0.2);
  EXPECT_DOUBLE_EQ(o.target(2), 0.4);
  EXPECT_DOUBLE_EQ(o.target(4), 0.8);
  o.schedule = PruneSchedule::kAgp;
  o.initial_sparsity = 0.0;
  // s_k = s_f + (s_i - s_f) (1 - k/n)^3 with n = 4: k=1 -> 0.8 - 0.8 * 27/64.
  EXPECT_DOUBLE_EQ(o.target(1), 0.8 - 0.8 * 27.0 / 64.0);
  EXPECT_DOUBLE_EQ(o.target(2), 0.8 - 0.8 / 8.0);
  EXPECT_DOUBLE_EQ(o.target(4), 0.8);
  EXPECT_DOUBLE_EQ(o.target(0), 0.0);
  // Steepest at the start: prune fast while the network is redundant, gently towards the end.
  EXPECT_GT(o.target(1) - o.target(0), o.target(2) - o.target(1));
  EXPECT_GT(o.target(2) - o.target(1), o.target(4) - o.target(3));
}

TEST(CompressedSizeTest, DenseQuantizedSparseAndClusteredLayers) {
  LayerStorage l;
  l.numel = 1000;
  l.nonzeros = 1000;
  l.out_channels = 10;
  l.bias = 10;
  EXPECT_EQ(layer_storage_bits(l), 1000 * 32 + 10 * 32);  // fp32
  l.weight_bits = 8;
  l.quantized = true;
  EXPECT_EQ(layer_storage_bits(l), 1000 * 8 + 64 + 320);  // int8 per tensor
  l.per_channel = true;
  EXPECT_EQ(layer_storage_bits(l), 1000 * 8 + 10 * 64 + 320);
  // 10% nonzeros: values plus a presence bit per weight beat dense storage.
  l.nonzeros = 100;
  EXPECT_EQ(layer_storage_bits(l), 100 * 8 + 1000 + 10 * 64 + 320);
  // 90% nonzeros: dense is smaller and is what gets stored.
  l.nonzeros = 900;
  EXPECT_EQ(layer_storage_bits(l), 1000 * 8 + 10 * 64 + 320);
  // 16 fp32 centroids + 4-bit indices.
  LayerStorage k;
  k.numel = 1000;
  k.nonzeros = 1000;
  k.clusters = 16;
  EXPECT_EQ(layer_storage_bits(k), 16 * 32 + 1000 * 4);
  // Pruned weights need a reserved zero index: 16 + 1 entries take 5 bits.
  k.nonzeros = 500;
  EXPECT_EQ(layer_storage_bits(k), 16 * 32 + 1000 * 5);
  EXPECT_EQ(storage_bytes({l, k}, 3), (layer_storage_bits(l) + layer_storage_bits(k) + 3 * 32 + 7) / 8);
  k.nonzeros = 2000;
  EXPECT_THROW(layer_storage_bits(k), Error);
}

}  // namespace
}  // namespace nasforge
