// End-to-end tests of architecture search through the nasforge executable: a tiny chain space trained on
// synthetic data, then best --where/--sort, export, evaluate, delete, invalid genotypes and kill -9 + resume.
#include <filesystem>

#include "search/cli_testing.h"

namespace nasforge {
namespace {

// Small enough that a trial trains in well under a second on one CPU core.
std::string train_study(const std::string& name, int n_trials, const std::string& extra = "", int epochs = 2) {
  return "study:\n  name: " + name + "\n  direction: maximize\n  n_trials: " + std::to_string(n_trials) +
         "\n  seed: 5\n  heartbeat_interval_s: 0.2\n  grace_period_s: 1.0\n  max_retry: 1\n"
         "storage: sqlite:///" + name + ".db\n"
         "strategy: {name: random}\n"
         "space:\n  lr: {type: float, low: 0.01, high: 0.1, log: true}\n"
         "architecture:\n  type: chain\n  stem: {channels: 4}\n"
         "  stages:\n    - {depth: [1, 2], widths: [4, 8], stride: 2}\n"
         "  kernels: [3]\n  expand: [2]\n"
         "objective:\n  kind: train\n"
         "  dataset: {format: synthetic, size: 256, classes: 3, shape: [1, 8, 8], val_size: 64, seed: 1}\n"
         "  epochs: " + std::to_string(epochs) + "\n  batch_size: 32\n  lr: $lr\n  threads: 1\n  latency: {runs: 3, warmup: 1}\n" +
         extra;
}

class CliTrainTest : public CliTest {};

TEST_F(CliTrainTest, RunStoresCostsWeightsAndAnswersWhereSortExportEvaluate) {
  write_file("s.yaml", train_study("arch", 4));
  CmdResult run = nasforge({"run", "s.yaml", "--quiet"});
  ASSERT_EQ(run.code, 0) << run.err;
  Json trials = trials_json("arch.db", "arch");
  ASSERT_EQ(trials.size(), 4u);
  for (const auto& t : trials) {
    ASSERT_EQ(t["state"], "COMPLETE") << t.dump();
    const Json& a = t["user_attrs"];
    for (const char* key : {"genotype", "params", "macs", "size_bytes", "peak_mem_bytes", "latency_ms",
                            "val_accuracy", "weights"}) {
      EXPECT_TRUE(a.contains(key)) << key << " missing in " << a.dump();
    }
    EXPECT_GT(a["macs"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(t["values"][0].get<double>(), a["val_accuracy"].get<double>());
    EXPECT_TRUE(std::filesystem::exists(tmp("arch_artifacts/arch/trial_" + std::to_string(t["number"].get<int>()) +
                                            "/weights.pt")));
  }

  // --where keeps exactly the trials under the median MAC count; --sort orders them by latency.
  std::vector<double> macs;
  for (const auto& t : trials) macs.push_back(t["user_attrs"]["macs"].get<double>());
  std::sort(macs.begin(), macs.end());
  double cut = macs[1] + 0.5;
  CmdResult best = nasforge({"best", "--storage", "sqlite:///arch.db", "--study", "arch", "--where",
                             "macs<" + std::to_string(cut), "--sort", "latency_ms", "--top", "10", "--format", "json"});
  ASSERT_EQ(best.code, 0) << best.err;
  Json kept = Json::parse(best.out);
  std::size_t expected = 0;
  for (double m : macs) expected += m < cut;
  ASSERT_EQ(kept.size(), expected);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    EXPECT_LT(kept[i]["user_attrs"]["macs"].get<double>(), cut);
    if (i > 0) {
      EXPECT_LE(kept[i - 1]["user_attrs"]["latency_ms"].get<double>(), kept[i]["user_attrs"]["latency_ms"].get<double>());
    }
  }
  CmdResult typo = nasforge({"best", "--storage", "sqlite:///arch.db", "--study", "arch", "--where", "mac<5"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("no trial has 'mac'"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("macs"), std::string::npos) << typo.err;

  // The best trial exported and rebuilt gives back its stored accuracy exactly.
  CmdResult top = nasforge({"best", "--storage", "sqlite:///arch.db", "--study", "arch", "--format", "json"});
  ASSERT_EQ(top.code, 0) << top.err;
  Json b = Json::parse(top.out).at(0);
  std::string number = std::to_string(b["number"].get<int>());
  CmdResult exp = nasforge({"export", "--storage", "sqlite:///arch.db", "--study", "arch", "--trial", number, "--out",
                            "model", "--evaluate", "--device", "cpu"});
  ASSERT_EQ(exp.code, 0) << exp.err;
  CmdResult eval = nasforge({"evaluate", "model", "--format", "json", "--device", "cpu"});
  ASSERT_EQ(eval.code, 0) << eval.err;
  Json r = Json::parse(eval.out);
  EXPECT_DOUBLE_EQ(r["val_accuracy"].get<double>(), b["user_attrs"]["val_accuracy"].get<double>());
  Json model = Json::parse(slurp(tmp("model/model.json")));
  EXPECT_EQ(model["genotype"], b["user_attrs"]["genotype"]);

  // Deleting the study removes its trial files too.
  ASSERT_EQ(nasforge({"delete", "--storage", "sqlite:///arch.db", "--study", "arch", "--yes"}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(tmp("arch_artifacts/arch")));
}

TEST_F(CliTrainTest, ExportOfAPrunedOrUnknownTrialIsAClearError) {
  write_file("s.yaml", train_study("arch", 1, "  save_weights: false\n"));
  ASSERT_EQ(nasforge({"run", "s.yaml", "--quiet"}).code, 0);
  CmdResult none = nasforge({"export", "--storage", "sqlite:///arch.db", "--study", "arch", "--trial", "0", "--out", "m"});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("weights"), std::string::npos) << none.err;
  CmdResult missing = nasforge({"export", "--storage", "sqlite:///arch.db", "--study", "arch", "--trial", "7", "--out", "m"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no trial number 7"), std::string::npos) << missing.err;
}

TEST_F(CliTrainTest, DisconnectedCellFailsThatTrialOnlyWithTheReason) {
  // Trial 0 is enqueued with every edge into node 3 set to none; trial 1 is a normal cell.
  write_file("c.yaml", R"(study: {name: cells, direction: maximize, n_trials: 2, seed: 1}
storage: sqlite:///cells.db
strategy: {name: random}
architecture: {type: cell, channels: 4, cells_per_stage: 1, stages: 1}
objective:
  kind: train
  dataset: {format: synthetic, size: 128, classes: 2, shape: [1, 8, 8], val_size: 32}
  epochs: 1
  batch_size: 32
  threads: 1
  latency: {runs: 1, warmup: 0}
enqueue:
  - {edge_1_0: nor_conv_3x3, edge_2_0: skip_connect, edge_2_1: none, edge_3_0: none, edge_3_1: none, edge_3_2: none}
  - {edge_1_0: nor_conv_3x3, edge_2_0: skip_connect, edge_2_1: none, edge_3_0: skip_connect, edge_3_1: none,
     edge_3_2: nor_conv_1x1}
)");
  CmdResult run = nasforge({"run", "c.yaml", "--quiet"});
  ASSERT_EQ(run.code, 0) << run.err;
  Json trials = trials_json("cells.db", "cells");
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0]["state"], "FAIL");
  EXPECT_NE(trials[0].dump().find("disconnected"), std::string::npos) << trials[0].dump();
  EXPECT_FALSE(trials[0]["user_attrs"].contains("val_accuracy"));
  EXPECT_EQ(trials[1]["state"], "COMPLETE");
  EXPECT_EQ(trials[1]["user_attrs"]["genotype"], "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|");
}

TEST_F(CliTrainTest, KillDuringTrainingThenResumeFinishesTheStudy) {
  // Enough epochs that the kill lands inside a trial's training.
  write_file("s.yaml", train_study("crash", 3, "", 20));
  pid_t pid = spawn({"run", "s.yaml", "--quiet"}, "run");
  // Wait until a trial is RUNNING, then kill -9 mid-training.
  bool running = false;
  for (int i = 0; i < 200 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!std::filesystem::exists(tmp("crash.db"))) continue;
    CmdResult r = nasforge({"trials", "--storage", "sqlite:///crash.db", "--study", "crash", "--format", "json"});
    running = r.code == 0 && count_state(Json::parse(r.out), "RUNNING") > 0;
  }
  ASSERT_TRUE(running);
  kill(pid, SIGKILL);
  wait_for(pid, "run");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the grace period
  CmdResult resume = nasforge({"resume", "--storage", "sqlite:///crash.db", "--study", "crash", "--quiet"});
  ASSERT_EQ(resume.code, 0) << resume.err;
  Json trials = trials_json("crash.db", "crash");
  EXPECT_EQ(count_state(trials, "COMPLETE"), 3);
  EXPECT_EQ(count_state(trials, "RUNNING"), 0);
  EXPECT_EQ(count_state(trials, "FAIL"), 1);
}

TEST_F(CliTrainTest, CompressionVariantsAreColumnsObjectivesAndFilters) {
  write_file("s.yaml", train_study("comp", 3,
                                   "  objectives: [val_accuracy_int8]\n"
                                   "  compress:\n"
                                   "    int8: {quantize: {bits: 8}}\n"
                                   "    sparse: {prune: {sparsity: 0.6, finetune_epochs: 0}}\n"));
  CmdResult run = nasforge({"run", "s.yaml", "--quiet"});
  ASSERT_EQ(run.code, 0) << run.err;
  Json trials = trials_json("comp.db", "comp");
  ASSERT_EQ(trials.size(), 3u);
  std::vector<double> sizes;
  for (const auto& t : trials) {
    ASSERT_EQ(t["state"], "COMPLETE") << t.dump();
    const Json& a = t["user_attrs"];
    // The study optimizes the int8 accuracy. These networks have 4-8 channels, so the per-channel scales and
    // zero points (8 bytes a channel) take a large share of the int8 bytes.
    EXPECT_DOUBLE_EQ(t["values"][0].get<double>(), a["val_accuracy_int8"].get<double>());
    EXPECT_LT(a["size_bytes_int8"].get<double>(), 0.7 * a["size_bytes"].get<double>());
    EXPECT_NEAR(a["sparsity_sparse"].get<double>(), 0.6, 0.01);
    sizes.push_back(a["size_bytes_int8"].get<double>());
  }
  // The table shows fp32 and compressed accuracy and size side by side.
  CmdResult table = nasforge({"trials", "--storage", "sqlite:///comp.db", "--study", "comp"});
  ASSERT_EQ(table.code, 0) << table.err;
  for (const char* column : {"val_accuracy", "val_accuracy_int8", "val_accuracy_sparse", "size_bytes",
                             "size_bytes_int8", "size_bytes_sparse"}) {
    EXPECT_NE(table.out.find(column), std::string::npos) << column << "\n" << table.out;
  }
  // --where and --sort work on variant metrics like on any other.
  std::sort(sizes.begin(), sizes.end());
  const double cut = sizes[1] + 0.5;
  CmdResult best = nasforge({"best", "--storage", "sqlite:///comp.db", "--study", "comp", "--where",
                             "size_bytes_int8<" + std::to_string(cut), "--sort", "size_bytes_int8", "--top", "10",
                             "--format", "json"});
  ASSERT_EQ(best.code, 0) << best.err;
  Json kept = Json::parse(best.out);
  std::size_t expected = 0;
  for (double v : sizes) expected += v < cut;
  ASSERT_EQ(kept.size(), expected);
  for (std::size_t i = 1; i < kept.size(); ++i) {
    EXPECT_LE(kept[i - 1]["user_attrs"]["size_bytes_int8"].get<double>(),
              kept[i]["user_attrs"]["size_bytes_int8"].get<double>());
  }
}

}  // namespace
}  // namespace nasforge
