#include <filesystem>

#include "evaluators/train_config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/fake_trial.h"
#include "spaces/architecture.h"
#include "testing.h"

namespace nasforge {
namespace {

using testing::build_objective;
using testing::parse_space;

constexpr const char* kArchitecture =
    "type: chain\n"
    "stem: {channels: 4}\n"
    "stages: [{depth: [1], widths: [8], stride: 2}]\n"
    "ops: [conv]\n"
    "kernels: [3]\n";

constexpr const char* kDataset = "dataset: {format: synthetic, size: 64, shape: [1, 8, 8]}\n";

class TrainConfigTest : public testing::NasforgeTest {
 protected:
  // A space with `params_yaml` (a `space:` mapping, may be empty) plus a small chain architecture.
  static SearchSpace space_with(const std::string& params_yaml) {
    SearchSpace space = params_yaml.empty() ? SearchSpace() : parse_space(params_yaml);
    space.set_architecture(make_architecture(ConfigNode::parse_string(kArchitecture, "arch.yaml")));
    return space;
  }

  // Reads an objective section (YAML text whose root mapping holds the keys) the way the registry does.
  static TrainConfig read(const std::string& yaml, const SearchSpace& space, std::size_t n_objectives = 1) {
    SectionReader options(ConfigNode::parse_string(yaml, "study.yaml"));
    options.text("kind", std::nullopt, "objective kind");
    TrainConfig c = TrainConfig::from_config(options, space, n_objectives, "/base");
    options.finish();
    return c;
  }

  // The message of the ConfigError that reading `yaml` throws ("" when it reads fine).
  static std::string error_of(const std::string& yaml, const SearchSpace& space, std::size_t n_objectives = 1) {
    try {
      read(yaml, space, n_objectives);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(TrainConfigTest, DefaultsMatchTheDocumentedValues) {
  TrainConfig c = read(std::string("kind: train\n") + kDataset, space_with(""));
  EXPECT_EQ(c.objectives, std::vector<std::string>{"val_accuracy"});
  EXPECT_EQ(c.eval_batch_size, 1024);
  EXPECT_EQ(c.device, "auto");
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.latency_runs, 30);
  EXPECT_EQ(c.latency_warmup, 5);
  EXPECT_TRUE(c.save_weights);
  EXPECT_EQ(c.dataset.format, "synthetic");
  EXPECT_EQ(c.dataset.synthetic_size, 64);
  EXPECT_EQ(c.base_dir, "/base");
  // The stored dataset section reads back to the same options, so a saved model can be re-evaluated.
  DatasetOptions again = DatasetOptions::from_config(ConfigNode::parse_string(c.dataset_yaml), c.base_dir);
  EXPECT_EQ(again.synthetic_size, 64);
  EXPECT_EQ(again.synthetic_shape, (Shape{1, 8, 8}));

  TrainHyperparams h = c.resolve({});
  EXPECT_EQ(h.epochs, 3);
  EXPECT_EQ(h.batch_size, 128);
  EXPECT_EQ(h.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(h.lr, 0.05);
  EXPECT_DOUBLE_EQ(h.momentum, 0.9);
  EXPECT_FALSE(h.nesterov);
  EXPECT_DOUBLE_EQ(h.weight_decay, 5e-4);
  EXPECT_EQ(h.schedule, "cosine");
  EXPECT_DOUBLE_EQ(h.warmup_epochs, 0);
  EXPECT_DOUBLE_EQ(h.step_epochs, 1);
  EXPECT_DOUBLE_EQ(h.gamma, 0.1);
  EXPECT_DOUBLE_EQ(h.label_smoothing, 0);
  EXPECT_EQ(h.patience, 0);
  EXPECT_DOUBLE_EQ(h.min_delta, 0);
}

TEST_F(TrainConfigTest, ReadsConstants) {
  TrainConfig c = read(std::string("kind: train\n") + kDataset +
                           "objectives: [val_loss, params, latency_ms]\n"
                           "epochs: 7\nbatch_size: 32\noptimizer: adamw\nlr: 3.0e-3\nmomentum: 0.5\n"
                           "nesterov: true\nweight_decay: 0.01\nschedule: step\nwarmup_epochs: 0.5\n"
                           "step_epochs: 2\ngamma: 0.5\nlabel_smoothing: 0.1\n"
                           "early_stopping: {patience: 2, min_delta: 0.001}\n"
                           "eval_batch_size: 256\ndevice: cpu\nthreads: 1\nlatency: {runs: 4, warmup: 0}\n"
                           "save_weights: false\n",
                       space_with(""), 3);
  EXPECT_EQ(c.objectives, (std::vector<std::string>{"val_loss", "params", "latency_ms"}));
  EXPECT_EQ(c.eval_batch_size, 256);
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.threads, 1);
  EXPECT_EQ(c.latency_runs, 4);
  EXPECT_EQ(c.latency_warmup, 0);
  EXPECT_FALSE(c.save_weights);
  TrainHyperparams h = c.resolve({});
  EXPECT_EQ(h.epochs, 7);
  EXPECT_EQ(h.batch_size, 32);
  EXPECT_EQ(h.optimizer, "adamw");
  EXPECT_DOUBLE_EQ(h.lr, 3e-3);
  EXPECT_DOUBLE_EQ(h.momentum, 0.5);
  EXPECT_TRUE(h.nesterov);
  EXPECT_DOUBLE_EQ(h.weight_decay, 0.01);
  EXPECT_EQ(h.schedule, "step");
  EXPECT_DOUBLE_EQ(h.warmup_epochs, 0.5);
  EXPECT_DOUBLE_EQ(h.step_epochs, 2);
  EXPECT_DOUBLE_EQ(h.gamma, 0.5);
  EXPECT_DOUBLE_EQ(h.label_smoothing, 0.1);
  EXPECT_EQ(h.patience, 2);
  EXPECT_DOUBLE_EQ(h.min_delta, 0.001);
  Json j = h.to_json();
  EXPECT_EQ(j["optimizer"], "adamw");
  EXPECT_EQ(j["early_stopping"]["patience"], 2);
}

TEST_F(TrainConfigTest, ResolvesParameterReferencesPerTrial) {
  SearchSpace space = space_with(
      "lr: {type: float, low: 1.0e-3, high: 0.1, log: true}\n"
      "bs: {type: int, low: 16, high: 64, step: 16}\n"
      "opt: {type: categorical, choices: [sgd, adam]}\n"
      "mom: {type: float, low: 0.5, high: 0.95, when: {opt: sgd}}\n"
      "smooth: {type: categorical, choices: [0, 0.1]}\n");
  TrainConfig c = read(std::string("kind: train\n") + kDataset +
                           "lr: $lr\nbatch_size: $bs\noptimizer: $opt\nmomentum: $mom\nlabel_smoothing: $smooth\n"
                           "early_stopping: {patience: $bs}\n",
                       space);
  TrainHyperparams h =
      c.resolve({{"lr", 0.02}, {"bs", std::int64_t{48}}, {"opt", "sgd"}, {"mom", 0.7}, {"smooth", 0.1}});
  EXPECT_DOUBLE_EQ(h.lr, 0.02);
  EXPECT_EQ(h.batch_size, 48);
  EXPECT_EQ(h.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(h.momentum, 0.7);
  EXPECT_DOUBLE_EQ(h.label_smoothing, 0.1);
  EXPECT_EQ(h.patience, 48);
  // mom is inactive for adam: momentum falls back to its default; the integer choice 0 is a valid float.
  h = c.resolve({{"lr", 0.5}, {"bs", std::int64_t{16}}, {"opt", "adam"}, {"smooth", std::int64_t{0}}});
  EXPECT_EQ(h.optimizer, "adam");
  EXPECT_DOUBLE_EQ(h.momentum, 0.9);
  EXPECT_DOUBLE_EQ(h.lr, 0.5);
  EXPECT_DOUBLE_EQ(h.label_smoothing, 0.0);
  // A value outside the key's range (an enqueued trial, say) fails the trial, naming parameter and key.
  try {
    c.resolve({{"lr", -1.0}, {"bs", std::int64_t{16}}, {"opt", "adam"}, {"smooth", 0.1}});
    FAIL() << "expected ObjectiveError";
  } catch (const ObjectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 'lr' gives lr: got -1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("must be a number > 0"), std::string::npos) << e.what();
  }
}

TEST_F(TrainConfigTest, RejectsReferenceToUnknownParameter) {
  std::string err = error_of(std::string("kind: train\n") + kDataset + "lr: $lrate\n",
                             space_with("lr_rate: {type: float, low: 0.01, high: 0.1}\n"));
  EXPECT_NE(err.find("study.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("key 'lr'"), std::string::npos) << err;
  EXPECT_NE(err.find("'$lrate' names no search-space parameter (did you mean 'lr_rate'?)"), std::string::npos) << err;
}

TEST_F(TrainConfigTest, RejectsReferencesWhoseDomainDoesNotFit) {
  const std::string base = std::string("kind: train\n") + kDataset;
  // lr must be > 0 over the whole range.
  std::string err = error_of(base + "lr: $lr\n", space_with("lr: {type: float, low: 0.0, high: 0.1}\n"));
  EXPECT_NE(err.find("'$lr' refers to parameter 'lr'"), std::string::npos) << err;
  EXPECT_NE(err.find("its low bound got 0 (float); lr must be a number > 0"), std::string::npos) << err;
  // batch_size needs integers.
  err = error_of(base + "batch_size: $bs\n", space_with("bs: {type: float, low: 16, high: 64}\n"));
  EXPECT_NE(err.find("key 'batch_size'"), std::string::npos) << err;
  EXPECT_NE(err.find("needs integers"), std::string::npos) << err;
  // Categorical choices must all be admissible.
  err = error_of(base + "optimizer: $opt\n", space_with("opt: {type: categorical, choices: [sgd, rmsprop]}\n"));
  EXPECT_NE(err.find("choice got 'rmsprop' (string); optimizer must be one of sgd, adam, adamw"), std::string::npos)
      << err;
  // A numeric parameter cannot name a schedule.
  err = error_of(base + "schedule: $n\n", space_with("n: {type: int, low: 1, high: 3}\n"));
  EXPECT_NE(err.find("it is numeric; schedule must be one of cosine, step, constant"), std::string::npos) << err;
  // label_smoothing's high bound must stay below 1.
  err = error_of(base + "label_smoothing: $s\n", space_with("s: {type: float, low: 0.0, high: 1.0}\n"));
  EXPECT_NE(err.find("its high bound got 1 (float); label_smoothing must be a number in [0, 1)"), std::string::npos)
      << err;
}

TEST_F(TrainConfigTest, RejectsBadConstants) {
  const std::string base = std::string("kind: train\n") + kDataset;
  SearchSpace space = space_with("");
  std::string err = error_of(base + "lr: -1\n", space);
  EXPECT_NE(err.find("study.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("key 'lr': got -1 (float); lr must be a number > 0"), std::string::npos) << err;
  err = error_of(base + "optimizer: sgdd\n", space);
  EXPECT_NE(err.find("got 'sgdd' (string); optimizer must be one of sgd, adam, adamw (did you mean 'sgd'?)"),
            std::string::npos)
      << err;
  err = error_of(base + "epochs: 2.5\n", space);
  EXPECT_NE(err.find("key 'epochs'"), std::string::npos) << err;
  EXPECT_NE(err.find("2.5"), std::string::npos) << err;
  err = error_of(base + "epochs: 100000000000\n", space);
  EXPECT_NE(err.find("epochs must be an integer in [1, 1e+06]"), std::string::npos) << err;
  err = error_of(base + "threads: 4294967297\n", space);
  EXPECT_NE(err.find("must be in [0, 1024]"), std::string::npos) << err;
  err = error_of(base + "batch_size: 0\n", space);
  EXPECT_NE(err.find("got 0 (int); batch_size must be an integer >= 1"), std::string::npos) << err;
  err = error_of(base + "early_stopping: {patience: -1}\n", space);
  EXPECT_NE(err.find("key 'early_stopping.patience'"), std::string::npos) << err;
  err = error_of(base + "early_stopping: {patience: 1, min_dleta: 0.1}\n", space);
  EXPECT_NE(err.find("unknown key 'min_dleta' (did you mean 'min_delta'?)"), std::string::npos) << err;
  err = error_of(base + "epoch: 3\n", space);
  EXPECT_NE(err.find("unknown key 'epoch' (did you mean 'epochs'?)"), std::string::npos) << err;
  err = error_of(base + "momentum: 0\nnesterov: true\n", space);
  EXPECT_NE(err.find("key 'nesterov': needs momentum > 0"), std::string::npos) << err;
  // nesterov is an SGD option: with adam the combination is harmless.
  EXPECT_EQ(error_of(base + "optimizer: adam\nmomentum: 0\nnesterov: true\n", space), "");
  err = error_of(base + "device: gpu\n", space);
  EXPECT_NE(err.find("'gpu' is not allowed; use one of: auto, cpu, cuda"), std::string::npos) << err;
  err = error_of(base + "latency: {runs: -2}\n", space);
  EXPECT_NE(err.find("key 'latency.runs': must be >= 0"), std::string::npos) << err;
}

TEST_F(TrainConfigTest, ChecksTheObjectiveList) {
  const std::string base = std::string("kind: train\n") + kDataset;
  SearchSpace space = space_with("");
  std::string err = error_of(base + "objectives: [val_acuracy]\n", space);
  EXPECT_NE(err.find("unknown metric 'val_acuracy' (did you mean 'val_accuracy'?)"), std::string::npos) << err;
  err = error_of(base + "objectives: [val_accuracy]\n", space, 2);
  EXPECT_NE(err.find("lists 1 metric(s) (val_accuracy) but the study has 2 direction(s)"), std::string::npos) << err;
  err = error_of(base + "objectives: [params, params]\n", space, 2);
  EXPECT_NE(err.find("metric 'params' is listed twice"), std::string::npos) << err;
  err = error_of(base + "objectives: [latency_ms]\nlatency: {runs: 0}\n", space);
  EXPECT_NE(err.find("asks for latency_ms, but latency: {runs: 0} skips the measurement"), std::string::npos) << err;
  EXPECT_EQ(read(base + "objectives: val_loss\n", space).objectives, std::vector<std::string>{"val_loss"});
}

TEST_F(TrainConfigTest, NeedsAnArchitectureAndADataset) {
  std::string err = error_of(std::string("kind: train\n") + kDataset, SearchSpace());
  EXPECT_NE(err.find("kind train needs an architecture: section (type chain or cell)"), std::string::npos) << err;
  err = error_of("kind: train\nepochs: 1\n", space_with(""));
  EXPECT_NE(err.find("key 'dataset': is required"), std::string::npos) << err;
}

TEST_F(TrainConfigTest, RegistryKnowsTheTrainKind) {
  bool listed = false;
  for (const auto& info : objective_catalog()) listed = listed || info.name == "train";
  EXPECT_TRUE(listed);
  // This executable neither links the libtorch code nor has libnasforge_nn.so beside it (the nn test
  // executables cover training), so the kind names what is missing instead of crashing or training.
  try {
    build_objective(std::string("kind: train\n") + kDataset, space_with(""));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("study.yaml:1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("objective kind 'train' needs libtorch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("libnasforge_nn.so"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace nasforge

namespace nasforge {
namespace {

TEST_F(TrainConfigTest, MissingDataFilesFailWhenTheStudyIsRead) {
  // Caught before the first trial (nasforge validate / run), not once per trial.
  std::string msg = error_of("kind: train\ndataset: {format: idx, path: " + tmp("nowhere") + "}\n", space_with(""));
  EXPECT_NE(msg.find("study.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such folder"), std::string::npos) << msg;
  std::filesystem::create_directories(tmp("empty"));
  msg = error_of("kind: train\ndataset: {format: idx, path: " + tmp("empty") + "}\n", space_with(""));
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
  std::string csv = error_of("kind: train\ndataset: {format: csv, path: " + tmp("none.csv") + "}\n", space_with(""));
  EXPECT_NE(csv.find("no such file"), std::string::npos) << csv;
}

TEST(SettingSpecTest, FactoriesReadDottedKeysUnderTheirLastPartAndDescribeTheirRange) {
  SettingSpec patience = SettingSpec::integer("early_stopping.patience", Range::closed(0), 3, "epochs");
  EXPECT_EQ(patience.name, "patience");
  EXPECT_EQ(patience.default_value.as_int(), 3);
  EXPECT_EQ(describe(patience), "an integer >= 0");
  EXPECT_EQ(SettingSpec::number("lr", Range::open(0), 0.1, "lr").name, "lr");
  EXPECT_EQ(describe(SettingSpec::number("p", {0, false, 1, true}, 0, "p")), "a number in [0, 1)");
  EXPECT_EQ(describe(SettingSpec::number("x", Range{}, 0, "x")), "a number");
  EXPECT_EQ(describe(SettingSpec::choice("o", {"a", "b"}, "a", "o")), "one of a, b");
  EXPECT_EQ(describe(SettingSpec::flag("f", true, "f")), "true or false");
  EXPECT_EQ(check_value(patience, ParamValue(std::int64_t{0})), "");
  EXPECT_EQ(check_value(patience, ParamValue(-1)), "got -1 (int); early_stopping.patience must be an integer >= 0");
}

}  // namespace
}  // namespace nasforge
