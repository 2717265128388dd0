// Each compression stage end to end through the `train` objective on synthetic data.

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "evaluators/fake_trial.h"
#include "evaluators/nn/train_testing.h"

namespace nasforge {
namespace {

using testing::FakeTrial;

constexpr const char* kConv = "s1:conv_k3_w16";

class CompressionObjectiveTest : public testing::TrainTest {
 protected:
  // Four epochs: enough for the tiny task to be learned well before it is compressed.
  static std::unique_ptr<Objective> objective(const std::string& extra, const SearchSpace& space,
                                              std::size_t n_objectives = 1) {
    return TrainTest::objective("epochs: 4\nbatch_size: 32\nlr: 0.1\n" + extra, space, n_objectives);
  }
  static double attr(const FakeTrial& t, const std::string& key) {
    auto it = t.attrs.find(key);
    if (it == t.attrs.end()) {
      ADD_FAILURE() << "no attribute " << key;
      return std::nan("");
    }
    return it->second.get<double>();
  }
};

TEST_F(CompressionObjectiveTest, EveryStageStoresItsMetrics) {
  SearchSpace space = make_space("");
  auto obj = objective(
      "objectives: [val_accuracy_int8]\n"
      "compress:\n"
      "  int8: {quantize: {bits: 8}}\n"
      "  dyn8: {quantize: {mode: dynamic, bits: 8}}\n"
      "  half: {quantize: {mode: float16}}\n"
      "  qat4: {qat: {bits: 4, epochs: 1}}\n"
      "  chan: {prune: {structure: channel, sparsity: 0.5, finetune_epochs: 1}}\n"
      "  sparse: {prune: {sparsity: 0.7, scope: layer, schedule: agp, steps: 2, finetune_epochs: 1}}\n"
      "  k8: {cluster: {clusters: 8}}\n"
      "  both: [{prune: {sparsity: 0.5, finetune_epochs: 0}}, {quantize: {bits: 8}}]\n",
      space);
  FakeTrial trial(params_of(space, kConv), 3);
  std::vector<double> values = obj->evaluate(trial);
  const double fp32 = attr(trial, "val_accuracy");
  const double size = attr(trial, "size_bytes");
  ASSERT_GT(fp32, 0.6);
  EXPECT_EQ(values[0], attr(trial, "val_accuracy_int8"));

  // 8-bit: about a quarter of the fp32 bytes, accuracy within a few samples of fp32 (64 validation samples).
  EXPECT_NEAR(attr(trial, "val_accuracy_int8"), fp32, 3.0 / 64);
  EXPECT_LT(attr(trial, "size_bytes_int8"), 0.35 * size);
  EXPECT_GT(attr(trial, "size_bytes_int8"), 0.25 * size);
  EXPECT_NEAR(attr(trial, "val_accuracy_dyn8"), fp32, 3.0 / 64);
  EXPECT_NEAR(attr(trial, "size_bytes_half"), 0.5 * size, 0.05 * size);
  EXPECT_NEAR(attr(trial, "val_accuracy_half"), fp32, 1.0 / 64);
  EXPECT_LT(attr(trial, "size_bytes_qat4"), attr(trial, "size_bytes_int8"));
  // Quantized variants claim no latency; float variants measure theirs.
  EXPECT_EQ(trial.attrs.count("latency_ms_int8"), 0u);
  EXPECT_GT(attr(trial, "latency_ms_chan"), 0);

  // Channel pruning shrinks the network itself: fewer MACs and parameters, no zeros left behind.
  EXPECT_LT(attr(trial, "macs_chan"), 0.75 * attr(trial, "macs"));
  EXPECT_LT(attr(trial, "params_chan"), attr(trial, "params"));
  EXPECT_EQ(attr(trial, "sparsity_chan"), 0.0);
  EXPECT_LT(attr(trial, "size_bytes_chan"), size);

  // Unstructured pruning to 70% per layer: each layer rounds round(0.7 n), so the total is within a weight per layer.
  EXPECT_NEAR(attr(trial, "sparsity_sparse"), 0.7, 0.01);
  EXPECT_EQ(attr(trial, "macs_sparse"), attr(trial, "macs"));
  EXPECT_NEAR(attr(trial, "sparsity_both"), 0.5, 0.01);
  EXPECT_LT(attr(trial, "size_bytes_both"), attr(trial, "size_bytes_int8"));

  // 8 shared values per layer: 3-bit indices plus a small table, about a tenth of fp32.
  EXPECT_LT(attr(trial, "size_bytes_k8"), 0.2 * size);
  for (const char* v : {"int8", "dyn8", "half", "qat4", "chan", "sparse", "k8", "both"}) {
    EXPECT_GE(attr(trial, std::string("val_accuracy_") + v), 0.0) << v;
    EXPECT_GT(attr(trial, std::string("compress_time_s_") + v), 0.0) << v;
  }
}

TEST_F(CompressionObjectiveTest, LowBitPtqLosesMoreThanEightBit) {
  SearchSpace space = make_space("");
  auto obj = objective("compress:\n  int8: {quantize: {bits: 8}}\n  int2: {quantize: {bits: 2}}\n", space);
  FakeTrial trial(params_of(space, kConv), 3);
  obj->evaluate(trial);
  const double fp32 = attr(trial, "val_accuracy");
  EXPECT_LT(attr(trial, "val_accuracy_int2"), attr(trial, "val_accuracy_int8"));
  EXPECT_LT(attr(trial, "val_accuracy_int2"), fp32 - 0.1);
  EXPECT_LT(attr(trial, "size_bytes_int2"), attr(trial, "size_bytes_int8"));
  // Progress: a line when each variant starts and one with its result.
  ASSERT_EQ(trial.messages.size(), 4u);
  EXPECT_EQ(trial.messages[0], "compressing int8");
  EXPECT_EQ(trial.messages[1].rfind("int8: val_accuracy ", 0), 0u) << trial.messages[1];
  EXPECT_NE(trial.messages[1].find(" bytes ("), std::string::npos) << trial.messages[1];
  EXPECT_EQ(trial.messages[2], "compressing int2");
}

TEST_F(CompressionObjectiveTest, DistillsFromTheStudysBestSavedTrial) {
  SearchSpace space = make_space("");
  const std::string study_dir = tmp("artifacts/study");
  auto teacher_obj = objective("", space);
  FakeTrial teacher(params_of(space, "s1:conv_k3_w16"), 3, 0);
  teacher.artifacts = study_dir + "/trial_0";
  teacher_obj->evaluate(teacher);
  ASSERT_TRUE(std::filesystem::exists(study_dir + "/trial_0/model.json"));

  auto student_obj = objective("distill: {teacher: best, alpha: 0.5, temperature: 4}\n", space);
  FakeTrial student(params_of(space, "s1:dw_k3_w16"), 4, 1);
  student.artifacts = study_dir + "/trial_1";
  student_obj->evaluate(student);
  EXPECT_EQ(student.attrs.at("distilled_from"), "trial_0");
  EXPECT_GT(attr(student, "val_accuracy"), 0.4);

  // With no saved trial yet, "best" trains without a teacher and says so.
  FakeTrial first(params_of(space, "s1:dw_k3_w16"), 4, 0);
  first.artifacts = tmp("other/study/trial_0");
  student_obj->evaluate(first);
  EXPECT_EQ(first.attrs.at("distilled_from"), "none (no saved trial yet)");

  // A trial number that has no saved model is an error of that trial.
  auto by_number = objective("distill: {teacher: 7}\n", space);
  FakeTrial missing(params_of(space, kConv), 4, 2);
  missing.artifacts = study_dir + "/trial_2";
  EXPECT_THROW(by_number->evaluate(missing), ObjectiveError);
}

TEST_F(CompressionObjectiveTest, DistillationWithAlphaOneIsPlainTraining) {
  SearchSpace space = make_space("");
  const std::string study_dir = tmp("artifacts/study");
  FakeTrial teacher(params_of(space, kConv), 3, 0);
  teacher.artifacts = study_dir + "/trial_0";
  objective("", space)->evaluate(teacher);

  auto run = [&](const std::string& extra, int number) {
    FakeTrial t(params_of(space, "s1:dw_k3_w16"), 9, number);
    t.artifacts = study_dir + "/trial_" + std::to_string(number);
    double acc = objective(extra + "save_weights: false\n", space)->evaluate(t)[0];
    return std::make_pair(acc, t.attrs.at("val_loss").get<double>());
  };
  auto plain = run("", 1);
  auto alpha1 = run("distill: {teacher: 0, alpha: 1.0}\n", 2);
  auto alpha0 = run("distill: {teacher: 0, alpha: 0.0, temperature: 2}\n", 3);
  // The soft term has weight 0, so the loss and every gradient are bit-identical to plain training.
  EXPECT_EQ(plain.first, alpha1.first);
  EXPECT_EQ(plain.second, alpha1.second);
  // Learning only from the teacher changes what the student learns.
  EXPECT_NE(plain.second, alpha0.second);
}

}  // namespace
}  // namespace nasforge
