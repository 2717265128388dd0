#include <zlib.h>

#include <cmath>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/data/csv_table.h"
#include "evaluators/registry.h"
#include "evaluators/fake_trial.h"
#include "testing.h"

namespace nasforge::testing {
namespace {

using ::testing::HasSubstr;

// Numbers are spelled differently from the space on purpose (5e-4 vs 0.0005, 16.0 vs 16).
constexpr char kTable[] =
    "opt,lr,units,seed0,seed1,seed2\n"
    "adam,5e-4,16,0.10,0.20,0.30\n"
    "adam,0.001,16.0,0.40,,0.60\n"
    "sgd,0.0005,32,0.7,0.8,0.9\n"
    "sgd,1e-3,32,1.0,1.1,1.2\n"
    "adam,0.0005,32,1.3,1.4,1.5\n"
    "adam,0.001,32,1.6,1.7,1.8\n"
    "sgd,0.0005,16,1.9,2.0,2.1\n";

constexpr char kSpace[] =
    "opt: [adam, sgd]\n"
    "lr: [0.0005, 0.001]\n"
    "units: {type: int, low: 16, high: 32, step: 16}\n";

const char* const kOps = "[none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]";

std::string nasbench_space(const std::vector<std::string>& names) {
  std::string yaml;
  for (const auto& n : names) yaml += n + ": " + kOps + "\n";
  return yaml;
}

const std::vector<std::string> kEdges = {"edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"};

ParamMap edges(const std::vector<std::string>& ops, const std::vector<std::string>& names = kEdges) {
  ParamMap p;
  for (std::size_t i = 0; i < ops.size(); ++i) p[names[i]] = ops[i];
  return p;
}

class TabularObjectiveTest : public NasforgeTest {
 protected:
  std::string write_gz(const std::string& name, const std::string& text) const {
    return write_gz_file(tmp(name), text);
  }

  std::unique_ptr<Objective> build(const std::string& yaml, const std::string& space_yaml = kSpace) const {
    return build_objective(yaml, parse_space(space_yaml), 1, tmp_.string());
  }

  std::string config_error(const std::string& yaml, const std::string& space_yaml = kSpace,
                           std::size_t n_objectives = 1) const {
    try {
      build_objective(yaml, parse_space(space_yaml), n_objectives, tmp_.string());
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for " << yaml;
    return "";
  }

  // Calls the factory directly, which lets DataError through unwrapped.
  std::string data_error(const std::string& yaml, const std::string& space_yaml = kSpace) const {
    SectionReader options(ConfigNode::parse_string(yaml, "study.yaml"));
    options.text("kind", std::nullopt, "objective kind");
    try {
      make_tabular_objective(options, parse_space(space_yaml), 1, tmp_.string());
    } catch (const DataError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no DataError for " << yaml;
    return "";
  }

  static ParamMap config(const std::string& opt, double lr, std::int64_t units) {
    return ParamMap{{"opt", opt}, {"lr", lr}, {"units", units}};
  }
};

TEST_F(TabularObjectiveTest, ReturnsOneSeedPerQueryAndMeanAsAttr) {
  write_file("t.csv", kTable);
  auto objective = build("{kind: tabular, table: t.csv}");
  std::set<double> seen;
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    FakeTrial trial(config("adam", 0.0005, 16), seed * 104729 + 1);
    double v = objective->evaluate(trial).at(0);
    seen.insert(v);
    EXPECT_NEAR(trial.attrs.at("mean_metric").get<double>(), 0.2, 1e-12);
    std::string column = trial.attrs.at("metric_column").get<std::string>();
    EXPECT_DOUBLE_EQ(v, column == "seed0" ? 0.10 : column == "seed1" ? 0.20 : 0.30) << column;
  }
  EXPECT_EQ(seen, (std::set<double>{0.10, 0.20, 0.30}));
}

TEST_F(TabularObjectiveTest, SameSeedSamePick) {
  write_file("t.csv", kTable);
  auto objective = build("{kind: tabular, table: t.csv}");
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    FakeTrial a(config("sgd", 0.001, 32), seed), b(config("sgd", 0.001, 32), seed);
    EXPECT_EQ(objective->evaluate(a), objective->evaluate(b));
  }
}

TEST_F(TabularObjectiveTest, RandomChoiceSkipsEmptyCells) {
  write_file("t.csv", kTable);
  auto objective = build("{kind: tabular, table: t.csv}");
  std::set<double> seen;
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    FakeTrial trial(config("adam", 0.001, 16), seed * 7 + 5);
    seen.insert(objective->evaluate(trial).at(0));
    EXPECT_NEAR(trial.attrs.at("mean_metric").get<double>(), 0.5, 1e-12);
  }
  EXPECT_EQ(seen, (std::set<double>{0.40, 0.60}));
}

TEST_F(TabularObjectiveTest, MeanAggregateAndMetricColumns) {
  write_file("t.csv", kTable);
  FakeTrial trial(config("adam", 0.001, 16));
  EXPECT_NEAR(build("{kind: tabular, table: t.csv, aggregate: mean}")->evaluate(trial).at(0), 0.5, 1e-12);
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    FakeTrial t(config("sgd", 0.0005, 16), seed);
    EXPECT_DOUBLE_EQ(build("{kind: tabular, table: t.csv, metric_columns: [seed2]}")->evaluate(t).at(0), 2.1);
  }
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv, metric_columns: [seed9]}"), HasSubstr("'seed9'"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv, metric_columns: [sed1]}"), HasSubstr("did you mean 'seed1'"));
}

TEST_F(TabularObjectiveTest, GzippedTableGivesSameAnswers) {
  write_file("t.csv", kTable);
  write_gz("t.csv.gz", kTable);
  auto plain = build("{kind: tabular, table: t.csv, aggregate: mean}");
  auto gz = build("{kind: tabular, table: t.csv.gz, aggregate: mean}");
  for (const auto& opt : {"adam", "sgd"}) {
    for (double lr : {0.0005, 0.001}) {
      for (std::int64_t units : {16, 32}) {
        if (std::string(opt) == "sgd" && lr == 0.001 && units == 16) continue;  // not in the table
        FakeTrial a(config(opt, lr, units)), b(config(opt, lr, units));
        EXPECT_EQ(plain->evaluate(a), gz->evaluate(b)) << opt << " " << lr << " " << units;
      }
    }
  }
}

TEST_F(TabularObjectiveTest, MissingConfigurationFailsTheTrial) {
  write_file("t.csv", kTable);
  auto objective = build("{kind: tabular, table: t.csv}");
  FakeTrial trial(config("sgd", 0.001, 16));
  try {
    objective->evaluate(trial);
    FAIL() << "expected ObjectiveError";
  } catch (const ObjectiveError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not in"));
    EXPECT_THAT(e.what(), HasSubstr("opt=sgd"));
    EXPECT_THAT(e.what(), HasSubstr("lr=0.001"));
    EXPECT_THAT(e.what(), HasSubstr("units=16"));
  }
  FakeTrial off_grid(config("adam", 0.002, 16));
  EXPECT_THROW(objective->evaluate(off_grid), ObjectiveError);
}

TEST_F(TabularObjectiveTest, ConfigErrors) {
  write_file("t.csv", kTable);
  EXPECT_THAT(config_error("{kind: tabular, table: nope.csv}"), HasSubstr("cannot read table 'nope.csv'"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv}", "opt: [adam, sgd, rmsprop]\nlr: [0.0005]\nunits: [16]\n"),
              HasSubstr("choice 'rmsprop' of parameter 'opt' never appears"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv}", "opt: [adam]\nlr: [0.0005]\nunit: [16]\n"),
              HasSubstr("'unit' is not a column"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv}", "opt: [adam]\nlr: [0.0005]\nunit: [16]\n"),
              HasSubstr("did you mean 'units'"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv}", "opt: [adam]\nlr: [0.0005]\n"),
              HasSubstr("not parameters: units"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv, key: arch}"), HasSubstr("'arch' is not allowed"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv, aggregate: median}"), HasSubstr("'median'"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv}", kSpace, 2), HasSubstr("2 directions"));
  EXPECT_THAT(config_error("{kind: tabular, table: t.csv, edges: [a, b, c, d, e, f]}"), HasSubstr("nasbench201"));
  write_file("noseed.csv", "opt,lr,units,acc\nadam,5e-4,16,1\n");
  EXPECT_THAT(config_error("{kind: tabular, table: noseed.csv}", "opt: [adam]\nlr: [0.0005]\nunits: [16]\n"),
              HasSubstr("metric_columns"));
}

TEST_F(TabularObjectiveTest, TableThatIsNoRegularFileSaysWhatItIs) {
  // /dev/null was reported as "no such file".
  std::string msg = config_error("{kind: tabular, table: /dev/null}");
  EXPECT_THAT(msg, HasSubstr("study.yaml:1:"));
  EXPECT_THAT(msg, HasSubstr("key 'table'"));
  EXPECT_THAT(msg, HasSubstr("/dev/null: not a regular file but a character device"));
  std::filesystem::create_directories(tmp("folder.csv"));
  EXPECT_THAT(config_error("{kind: tabular, table: folder.csv}"), HasSubstr("not a regular file but a folder"));
}

TEST_F(TabularObjectiveTest, ByteOrderMarkBeforeTheHeaderIsIgnored) {
  write_file("bom.csv", "\xEF\xBB\xBF" + std::string(kTable));
  auto objective = build("{kind: tabular, table: bom.csv, aggregate: mean}");
  FakeTrial trial(config("adam", 0.0005, 16), 1);
  EXPECT_NEAR(objective->evaluate(trial).at(0), 0.2, 1e-12);
}

TEST_F(TabularObjectiveTest, BadMetricCellAndDuplicateRowAreDataErrors) {
  std::string path = write_file("bad.csv", "opt,lr,units,seed0,seed1\nadam,5e-4,16,0.1,0.2\nsgd,5e-4,16,0.3,abc\n");
  std::string msg = data_error("{kind: tabular, table: bad.csv}", "opt: [adam, sgd]\nlr: [0.0005]\nunits: [16]\n");
  EXPECT_THAT(msg, HasSubstr(":3:"));
  EXPECT_THAT(msg, HasSubstr("'abc'"));
  EXPECT_THAT(msg, HasSubstr("seed1"));

  write_file("dup.csv", "opt,seed0\nadam,0.1\nsgd,0.2\nadam,0.3\n");
  msg = data_error("{kind: tabular, table: dup.csv}", "opt: [adam, sgd]\n");
  EXPECT_THAT(msg, HasSubstr("dup.csv:4"));
  EXPECT_THAT(msg, HasSubstr("lines 2 and 4"));

  write_file("ragged.csv", "opt,seed0\nadam,0.1\nsgd\n");
  EXPECT_THAT(data_error("{kind: tabular, table: ragged.csv}", "opt: [adam, sgd]\n"), HasSubstr("ragged.csv:3"));
}

TEST_F(TabularObjectiveTest, DataErrorsReachTheStudyFileWithTheirLine) {
  write_file("bad.csv", "opt,seed0\nadam,0.1\nsgd,x\n");
  std::string msg = config_error("{kind: tabular, table: bad.csv}", "opt: [adam, sgd]\n");
  EXPECT_THAT(msg, HasSubstr("bad.csv:3"));
}

TEST_F(TabularObjectiveTest, RowWithoutAnyMetricFailsTheTrial) {
  write_file("t.csv", "opt,seed0,seed1\nadam,,\nsgd,1,2\n");
  auto objective = build("{kind: tabular, table: t.csv}", "opt: [adam, sgd]\n");
  FakeTrial trial(ParamMap{{"opt", "adam"}});
  EXPECT_THROW(objective->evaluate(trial), ObjectiveError);
}

constexpr char kArchA[] = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|";
constexpr char kArchB[] = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

TEST_F(TabularObjectiveTest, NasBench201AssemblesArch) {
  write_file("nb.csv", std::string("arch,seed0,seed1,seed2\n") + kArchA + ",80.0,82.0,\n" + kArchB + ",10,,\n");
  auto objective = build("{kind: tabular, table: nb.csv, key: nasbench201}", nasbench_space(kEdges));
  std::set<double> seen;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    FakeTrial trial(edges({"nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"}), seed);
    seen.insert(objective->evaluate(trial).at(0));
    EXPECT_EQ(trial.attrs.at("arch").get<std::string>(), kArchA);
    EXPECT_DOUBLE_EQ(trial.attrs.at("mean_metric").get<double>(), 81.0);
  }
  EXPECT_EQ(seen, (std::set<double>{80.0, 82.0}));

  FakeTrial b(edges({"none", "none", "none", "none", "none", "none"}));
  EXPECT_DOUBLE_EQ(objective->evaluate(b).at(0), 10.0);

  FakeTrial absent(edges({"none", "none", "none", "none", "none", "skip_connect"}));
  try {
    objective->evaluate(absent);
    FAIL() << "expected ObjectiveError";
  } catch (const ObjectiveError& e) {
    EXPECT_THAT(e.what(), HasSubstr("|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"));
  }
}

TEST_F(TabularObjectiveTest, NasBench201CustomEdgeNamesAndErrors) {
  write_file("nb.csv", std::string("arch,seed0\n") + kArchA + ",80\n");
  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f"};
  auto objective =
      build("{kind: tabular, table: nb.csv, key: nasbench201, edges: [a, b, c, d, e, f]}", nasbench_space(names));
  FakeTrial trial(edges({"nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"}, names));
  EXPECT_DOUBLE_EQ(objective->evaluate(trial).at(0), 80.0);

  EXPECT_THAT(config_error("{kind: tabular, table: nb.csv, key: nasbench201}", nasbench_space(names)),
              HasSubstr("missing: edge_1_0, edge_2_0"));
  EXPECT_THAT(config_error("{kind: tabular, table: nb.csv, key: nasbench201, edges: [a, b]}", nasbench_space(names)),
              HasSubstr("6 parameter names"));
  std::string typo =
      nasbench_space({"edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1"}) + "edge_3_2: [none, nor_conv3x3]\n";
  EXPECT_THAT(config_error("{kind: tabular, table: nb.csv, key: nasbench201}", typo),
              HasSubstr("did you mean 'nor_conv_3x3'"));
  write_file("noarch.csv", "cell,seed0\nx,1\n");
  EXPECT_THAT(config_error("{kind: tabular, table: noarch.csv, key: nasbench201}", nasbench_space(kEdges)),
              HasSubstr("'arch' column"));
}

TEST_F(TabularObjectiveTest, ShippedNasBench201TableHasKnownOptimum) {
  const std::string path = std::string(NASFORGE_SOURCE_DIR) + "/data/benchmarks/nasbench201/cifar10_valid.csv.gz";
  EXPECT_EQ(CsvTable::load_cached(path)->rows(), 15625u);
  auto objective = build_objective("{kind: tabular, table: '" + path + "', key: nasbench201, aggregate: mean}",
                                   parse_space(nasbench_space(kEdges)));
  // The best mean over seeds in this table (found with a script over the whole file).
  FakeTrial best(
      edges({"nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_1x1"}));
  double value = objective->evaluate(best).at(0);
  EXPECT_EQ(best.attrs.at("arch").get<std::string>(),
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|");
  EXPECT_GT(value, 91.0);
  EXPECT_LT(value, 92.0);
  // A cell with every edge cut cannot learn: chance level on 10 classes.
  FakeTrial none(edges({"none", "none", "none", "none", "none", "none"}));
  EXPECT_LT(objective->evaluate(none).at(0), 11.0);
}

}  // namespace
}  // namespace nasforge::testing
