// End-to-end tests of edge targets through the nasforge executable: a study with `targets:` and a target budget,
// `best --target` (on a named and an unnamed target, with limits nothing meets), `target predict`, `target
// calibrate` recovering a profile from its own predictions, and file:line errors for bad profiles and measurements.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "search/cli_testing.h"

namespace nasforge {
namespace {

// A tiny chain space on synthetic 1x8x8 data: a trial trains in well under a second on one CPU core.
std::string target_study(const std::string& name, int n_trials, const std::string& objective_extra) {
  return "study:\n  name: " + name + "\n  direction: maximize\n  n_trials: " + std::to_string(n_trials) +
         "\n  seed: 3\n"
         "storage: sqlite:///" + name + ".db\n"
         "strategy: {name: random}\n"
         "space:\n  lr: {type: float, low: 0.01, high: 0.1, log: true}\n"
         "architecture:\n  type: chain\n  stem: {channels: 4}\n"
         "  stages:\n    - {depth: [1, 2], widths: [4, 16], stride: 1}\n"
         "    - {depth: [1, 2], widths: [8, 32], stride: 2}\n"
         "  kernels: [3]\n  expand: [2]\n"
         "objective:\n  kind: train\n"
         "  dataset: {format: synthetic, size: 192, classes: 3, shape: [1, 8, 8], val_size: 64, seed: 1}\n"
         "  epochs: 1\n  batch_size: 32\n  lr: $lr\n  threads: 1\n  latency: {runs: 0}\n"
         "  compress:\n    int8: {quantize: {bits: 8}}\n" +
         objective_extra;
}

// The rows of a `--format json` listing.
Json json_rows(const CmdResult& r) {
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? Json::parse(r.out) : Json::array();
}

class CliTargetTest : public CliTest {};

TEST_F(CliTargetTest, StudyStoresTargetCostsBudgetRejectsBeforeTrainingAndBestTargetRanks) {
  // The budget's limit: the median int8 SRAM of random networks of the space, so that some proposals are over it.
  write_file("probe.yaml", target_study("probe", 1, ""));
  Json probe = json_rows(nasforge({"target", "predict", "--target", "stm32f746", "--study-file", "probe.yaml",
                                   "--random", "40", "--seed", "2", "--format", "json"}));
  std::vector<std::int64_t> sram;
  for (const Json& row : probe) sram.push_back(row["sram_bytes_int8"].get<std::int64_t>());
  ASSERT_EQ(sram.size(), 40u);
  std::sort(sram.begin(), sram.end());
  const std::int64_t limit = sram[20];
  ASSERT_LT(sram.front(), limit);
  ASSERT_GT(sram.back(), limit);

  write_file("s.yaml", target_study("edge", 5,
                                    "  targets: [stm32f746, raspberry-pi-4]\n"
                                    "  objectives: [val_accuracy_int8]\n"
                                    "  budget:\n    sram_bytes_int8@stm32f746: " +
                                        std::to_string(limit) + "\n    fits_int8@stm32f746: true\n"));
  CmdResult run = nasforge({"run", "s.yaml", "--quiet"});
  ASSERT_EQ(run.code, 0) << run.err;
  Json trials = trials_json("edge.db", "edge");
  ASSERT_EQ(trials.size(), 5u);
  std::int64_t rejections = 0;
  std::string genotypes;
  for (const Json& t : trials) {
    ASSERT_EQ(t["state"], "COMPLETE") << t.dump();
    const Json& a = t["user_attrs"];
    for (const char* key : {"latency_ms@stm32f746", "flash_bytes@stm32f746", "sram_bytes@stm32f746", "fits@stm32f746",
                            "latency_ms_int8@stm32f746", "sram_bytes_int8@stm32f746", "fits_int8@stm32f746",
                            "latency_ms@raspberry-pi-4", "latency_ms_int8@raspberry-pi-4"}) {
      EXPECT_TRUE(a.contains(key)) << key << " missing in " << a.dump();
    }
    // Nothing over the budget was trained, and int8 is cheaper than fp32 on the microcontroller.
    EXPECT_LE(a["sram_bytes_int8@stm32f746"].get<double>(), static_cast<double>(limit));
    EXPECT_LT(a["sram_bytes_int8@stm32f746"].get<double>(), a["sram_bytes@stm32f746"].get<double>());
    EXPECT_LT(a["latency_ms_int8@stm32f746"].get<double>(), a["latency_ms@stm32f746"].get<double>());
    EXPECT_TRUE(a.contains("deployment"));
    if (t["system_attrs"].contains("budget_rejections")) rejections += t["system_attrs"]["budget_rejections"].get<int>();
    genotypes += a["genotype"].get<std::string>() + "\n";
  }
  EXPECT_GT(rejections, 0) << "the median limit should have rejected some of the proposals";

  // The stored costs are what `target predict` says for the same genotypes.
  write_file("genotypes.txt", genotypes);
  Json rows = json_rows(nasforge({"target", "predict", "--target", "stm32f746", "--study-file", "s.yaml",
                                  "--genotypes", "genotypes.txt", "--format", "json"}));
  ASSERT_EQ(rows.size(), 5u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Json& a = trials[i]["user_attrs"];
    EXPECT_EQ(rows[i]["genotype"], a["genotype"]);
    // The table prints 3-4 significant digits; the stored value is exact.
    EXPECT_NEAR(rows[i]["latency_ms_int8"].get<double>(), a["latency_ms_int8@stm32f746"].get<double>(),
                2e-3 * a["latency_ms_int8@stm32f746"].get<double>());
    EXPECT_EQ(rows[i]["sram_bytes_int8"].get<double>(), a["sram_bytes_int8@stm32f746"].get<double>());
    EXPECT_EQ(rows[i]["flash_bytes"].get<double>(), a["flash_bytes@stm32f746"].get<double>());
  }

  // best --target on a target the study never named: costs come from the stored deployments.
  Json ranked = json_rows(nasforge({"best", "--storage", "sqlite:///edge.db", "--study", "edge", "--target",
                                    "jetson-nano", "--variant", "int8", "--format", "json"}));
  ASSERT_EQ(ranked.size(), 5u);
  for (std::size_t i = 1; i < ranked.size(); ++i) {
    EXPECT_GE(ranked[i - 1]["val_accuracy"].get<double>(), ranked[i]["val_accuracy"].get<double>());
  }
  for (const Json& r : ranked) EXPECT_EQ(r["variant"], "int8");
  CmdResult table = nasforge({"best", "--storage", "sqlite:///edge.db", "--study", "edge", "--target", "stm32f746"});
  ASSERT_EQ(table.code, 0) << table.err;
  for (const char* text : {"Best of study 'edge' on stm32f746", "10 of 10 trial/variant pairs feasible",
                           "Pareto front on stm32f746"}) {
    EXPECT_NE(table.out.find(text), std::string::npos) << text << "\n" << table.out;
  }
  // Limits nothing meets: the nearest miss, by how much.
  CmdResult miss = nasforge({"best", "--storage", "sqlite:///edge.db", "--study", "edge", "--target", "stm32f746",
                             "--max-latency-ms", "0.0001"});
  ASSERT_EQ(miss.code, 0) << miss.err;
  for (const char* text : {"Nothing of study 'edge'", "fits stm32f746", "Nearest miss: trial", "latency", "(by "}) {
    EXPECT_NE(miss.out.find(text), std::string::npos) << text << "\n" << miss.out;
  }
  CmdResult bad_variant = nasforge({"best", "--storage", "sqlite:///edge.db", "--study", "edge", "--target",
                                    "stm32f746", "--variant", "int4"});
  EXPECT_EQ(bad_variant.code, 2);
  EXPECT_NE(bad_variant.err.find("fp32, int8"), std::string::npos) << bad_variant.err;
}

TEST_F(CliTargetTest, BudgetKeysNameTheirTargetAndMetric) {
  struct Case {
    std::string budget;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"latency_ms@jetson-nano: 5", {"s.yaml:", "latency_ms@jetson-nano", "'jetson-nano'", "stm32f746"}},
      {"latncy_ms@stm32f746: 5", {"latncy_ms", "latency_ms", "flash_bytes", "sram_bytes", "fits"}},
      {"latency_ms_int4@stm32f746: 5", {"int4", "int8"}},
      {"fits@stm32f746: false", {"fits@stm32f746", "true"}},
      {"latency_ms@stm32f746: -1", {"latency_ms@stm32f746", "-1"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.budget);
    write_file("s.yaml", target_study("b", 1, "  targets: [stm32f746]\n  budget: {" + c.budget + "}\n"));
    CmdResult r = nasforge({"validate", "s.yaml"});
    EXPECT_EQ(r.code, 2) << r.out;
    for (const std::string& f : c.fragments) EXPECT_NE(r.err.find(f), std::string::npos) << f << "\n" << r.err;
  }
}

TEST_F(CliTargetTest, CalibrateRecoversAProfileFromItsOwnPredictions) {
  write_file("s.yaml", target_study("cal", 1, ""));
  // The Jetson's fp16 rate is twice its fp32 rate, so every network is predicted faster in fp16.
  Json jetson = json_rows(nasforge({"target", "predict", "--target", "jetson-nano", "--study-file", "s.yaml",
                                    "--random", "3", "--format", "json"}));
  ASSERT_EQ(jetson.size(), 3u);
  for (const Json& r : jetson) EXPECT_LT(r["latency_ms_fp16"].get<double>(), r["latency_ms"].get<double>()) << r;
  // "Measurements" made by the raspberry-pi-4 profile; generic has the same fusion rules, so calibration from it
  // can reproduce them.
  Json rows = json_rows(nasforge({"target", "predict", "--target", "raspberry-pi-4", "--study-file", "s.yaml",
                                  "--random", "24", "--seed", "4", "--format", "json"}));
  ASSERT_EQ(rows.size(), 24u);
  std::string csv = "genotype,latency_ms\n";
  // Chain genotypes contain commas, so the genotype column is quoted.
  for (const Json& r : rows) {
    csv += "\"" + r["genotype"].get<std::string>() + "\"," + std::to_string(r["latency_ms"].get<double>()) + "\n";
  }
  write_file("m.csv", csv);
  CmdResult cal = nasforge({"target", "calibrate", "--target", "generic", "--study-file", "s.yaml", "--measured",
                            "m.csv", "--out", "pi.yaml"});
  ASSERT_EQ(cal.code, 0) << cal.err;
  EXPECT_NE(cal.out.find("leave-one-out over 24 networks: Spearman"), std::string::npos) << cal.out;
  EXPECT_NE(cal.out.find("target name 'pi'"), std::string::npos) << cal.out;
  // The written profile loads by path and predicts networks it never saw close to the truth.
  Json t = json_rows(nasforge({"target", "predict", "--target", "raspberry-pi-4", "--study-file", "s.yaml",
                               "--random", "10", "--seed", "99", "--format", "json"}));
  Json f = json_rows(nasforge({"target", "predict", "--target", "pi.yaml", "--study-file", "s.yaml", "--random", "10",
                               "--seed", "99", "--format", "json"}));
  ASSERT_EQ(t.size(), 10u);
  ASSERT_EQ(t.size(), f.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    ASSERT_EQ(t[i]["genotype"], f[i]["genotype"]);
    const double want = t[i]["latency_ms"].get<double>(), got = f[i]["latency_ms"].get<double>();
    EXPECT_NEAR(got, want, 0.05 * want) << t[i]["genotype"];
  }
  EXPECT_NE(slurp(tmp("pi.yaml")).find("fit:"), std::string::npos);
  // An existing --out is kept unless --force.
  CmdResult again = nasforge({"target", "calibrate", "--target", "generic", "--study-file", "s.yaml", "--measured",
                              "m.csv", "--out", "pi.yaml"});
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
}

TEST_F(CliTargetTest, MalformedMeasurementsAndProfilesNameFileAndLine) {
  write_file("s.yaml", target_study("bad", 1, ""));
  struct Case {
    std::string csv;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"genotype,ms\nx,1\n", {"m.csv:1", "genotype", "latency_ms"}},
      {"genotype,latency_ms\ns1:conv_k3_w4|s2:conv_k3_w8,abc\n", {"m.csv:2", "latency_ms", "'abc'"}},
      {"genotype,latency_ms\ns1:conv_k3_w4|s2:conv_k3_w8,1.5\ns1:bogus|s2:conv_k3_w8,2\n",
       {"m.csv:3", "'s1:bogus|s2:conv_k3_w8'", "architecture space"}},
      {"genotype,latency_ms\ns1:conv_k3_w4|s2:conv_k3_w8,-2\n", {"m.csv:2", "positive"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.csv);
    write_file("m.csv", c.csv);
    CmdResult r = nasforge({"target", "calibrate", "--target", "generic", "--study-file", "s.yaml", "--measured",
                            "m.csv", "--out", "o.yaml"});
    EXPECT_NE(r.code, 0);
    for (const std::string& f : c.fragments) EXPECT_NE(r.err.find(f), std::string::npos) << f << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(tmp("o.yaml")));
  }
  const std::vector<Case> profiles = {
      {"name: p\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 1, int8_gmacs: 2}\nmemory: {bandwith_gbs: 1}\n",
       {"p.yaml:5", "bandwith_gbs", "bandwidth_gbs"}},
      {"name: p\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 0, int8_gmacs: 2}\nmemory: {bandwidth_gbs: 1}\n",
       {"p.yaml:4", "fp32_gmacs", "0"}},
      {"name: p\ndevice: d\nruntime: r\nfuse: [batchnorm]\ncompute: {fp32_gmacs: 1, int8_gmacs: 2}\n"
       "memory: {bandwidth_gbs: 1}\n",
       {"p.yaml:4", "batchnorm", "batch_norm"}},
      {"name: p\ndevice: d\nruntime: r\ncompute: {fp32_gmacs: 1, int8_gmacs: 2}\nmemory: {bandwidth_gbs: 1}\n"
       "kernels: {convolution: {efficiency: 1}}\n",
       {"p.yaml:6", "convolution", "depthwise"}},
      {"name: p\ndevice: [d\n", {"p.yaml:", "YAML syntax error"}},
  };
  for (const Case& c : profiles) {
    SCOPED_TRACE(c.csv);
    write_file("p.yaml", c.csv);
    CmdResult r = nasforge({"target", "predict", "--target", "p.yaml", "--study-file", "s.yaml", "--random", "1"});
    EXPECT_EQ(r.code, 2);
    for (const std::string& f : c.fragments) EXPECT_NE(r.err.find(f), std::string::npos) << f << "\n" << r.err;
  }
  // A target name that could not stand in a metric name (or a path) is refused before any work, nothing written.
  write_file("m.csv", "genotype,latency_ms\ns1:conv_k3_w4|s2:conv_k3_w8,1.5\n");
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--out", "o.yaml", "--name", "../evil"},
                                                 std::vector<std::string>{"--out", ".hidden.yaml"}}) {
    std::vector<std::string> args = {"target", "calibrate", "--target", "generic", "--study-file", "s.yaml",
                                     "--measured", "m.csv"};
    args.insert(args.end(), extra.begin(), extra.end());
    CmdResult r = nasforge(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("must be 1-64 letters"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp("o.yaml")));
  EXPECT_FALSE(std::filesystem::exists(tmp(".hidden.yaml")));
  EXPECT_FALSE(std::filesystem::exists(tmp("../evil.yaml")));
  CmdResult unknown = nasforge({"target", "predict", "--target", "stm32f764", "--study-file", "s.yaml"});
  EXPECT_NE(unknown.code, 0);
  for (const char* f : {"stm32f764", "stm32f746", "raspberry-pi-4", "generic"}) {
    EXPECT_NE(unknown.err.find(f), std::string::npos) << f << "\n" << unknown.err;
  }
  CmdResult list = nasforge({"targets", "--format", "csv"});
  ASSERT_EQ(list.code, 0) << list.err;
  for (const char* name : {"host", "raspberry-pi-4", "raspberry-pi-5", "jetson-nano", "pixel-3", "stm32f746",
                           "stm32h743", "generic"}) {
    EXPECT_NE(list.out.find(std::string("\n") + name + ","), std::string::npos) << name << "\n" << list.out;
  }
}

}  // namespace
}  // namespace nasforge
