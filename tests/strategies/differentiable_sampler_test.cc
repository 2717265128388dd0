// The torch-free half of the darts, gdas and rl strategies: what their factories accept and reject at config
// load, before any libtorch code is loaded.
#include "strategies/differentiable_sampler.h"

#include "core/error.h"
#include "spaces/architecture.h"
#include "strategies/rl_sampler.h"
#include "strategies/sampler.h"
#include "testing.h"

namespace nasforge {
namespace {

constexpr const char* kTrainObjective =
    "kind: train\n"
    "dataset: {format: synthetic, size: 64, classes: 4, shape: [1, 8, 8], val_size: 16, seed: 3}\n";

class DifferentiableSamplerTest : public testing::NasforgeTest {
 protected:
  static SearchSpace space_with(const std::string& arch_yaml) {
    SearchSpace space;
    space.set_architecture(make_architecture(ConfigNode::parse_string(arch_yaml, "arch.yaml")));
    return space;
  }
  static SearchSpace parse_space_with_cell(const std::string& params_yaml) {
    SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string(params_yaml, "space.yaml"));
    space.set_architecture(
        make_architecture(ConfigNode::parse_string("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n")));
    return space;
  }
  static std::string error_of(const std::string& strategy, const SearchSpace& space, const std::string& objective) {
    try {
      StrategyEnv env(1, objective.empty() ? ConfigNode() : ConfigNode::parse_string(objective, "objective.yaml"), ".");
      make_sampler(ConfigNode::parse_string(strategy, "study.yaml"), space, 1, env);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
};

TEST_F(DifferentiableSamplerTest, ValidConfigurationsBuildWithoutLoadingLibtorch) {
  SearchSpace cell = space_with("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n");
  EXPECT_EQ(error_of("name: darts\nepochs: 2\norder: 2\ncost_weight: 0.1\nmax_skip: 2\n", cell, kTrainObjective), "");
  EXPECT_EQ(error_of("name: gdas\ntau_max: 5\ntau_min: 0.5\n", cell, kTrainObjective), "");
  EXPECT_EQ(error_of("name: rl\nbins: 4\nlr: 0.01\n", cell, ""), "");
}

TEST_F(DifferentiableSamplerTest, DartsNeedsACellSpaceAndATrainObjective) {
  SearchSpace chain = space_with(
      "type: chain\nstem: {channels: 8}\nstages: [{depth: [1], widths: [16], stride: 2}]\nops: [conv]\nkernels: [3]\n");
  std::string e = error_of("name: darts\n", chain, kTrainObjective);
  EXPECT_TRUE(contains(e, "`cell` architecture space") && contains(e, "'chain'")) << e;

  SearchSpace cell = space_with("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n");
  e = error_of("name: gdas\n", cell, "");
  EXPECT_TRUE(contains(e, "no objective: section")) << e;
  e = error_of("name: darts\n", cell, "kind: function\nname: branin\n");
  EXPECT_TRUE(contains(e, "kind 'function'")) << e;
}

TEST_F(DifferentiableSamplerTest, OptionErrorsNameTheKeyAndValue) {
  SearchSpace cell = space_with("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n");
  std::string e = error_of("name: darts\norder: 3\n", cell, kTrainObjective);
  EXPECT_TRUE(contains(e, "order") && contains(e, "got 3")) << e;
  // Keys of the other method are unknown keys, not silently ignored.
  e = error_of("name: darts\ntau_max: 3\n", cell, kTrainObjective);
  EXPECT_TRUE(contains(e, "tau_max")) << e;
  e = error_of("name: gdas\ntau_max: 1\ntau_min: 2\n", cell, kTrainObjective);
  EXPECT_TRUE(contains(e, "tau_min") && contains(e, "2")) << e;
  e = error_of("name: darts\narch_fraction: 1\n", cell, kTrainObjective);
  EXPECT_TRUE(contains(e, "arch_fraction")) << e;
  e = error_of("name: rl\nbins: 1\n", cell, "");
  EXPECT_TRUE(contains(e, "bins") && contains(e, "got 1")) << e;
}

TEST_F(DifferentiableSamplerTest, RlOptimisesOneObjective) {
  SearchSpace cell = space_with("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\n");
  try {
    make_sampler(ConfigNode::parse_string("name: rl\n", "study.yaml"), cell, 1, StrategyEnv(2));
    FAIL() << "rl accepted two objectives";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "single objective")) << e.what();
  }
}

TEST_F(DifferentiableSamplerTest, AGivenCellIsKeptWithoutASearch) {
  // An enqueued or interrupted-and-re-enqueued trial names its cell; proposing for it must neither run a search
  // (in this torch-free build that would throw) nor replace the cell.
  SearchSpace space = parse_space_with_cell("lr: {type: float, low: 0.01, high: 0.1, log: true}\n");
  StrategyEnv env(1, ConfigNode::parse_string(kTrainObjective, "objective.yaml"), ".");
  auto sampler = make_sampler(ConfigNode::parse_string("name: darts\n", "study.yaml"), space, 1, env);
  ParamMap fixed =
      space.architecture()->params("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|");
  std::vector<FrozenTrial> trials;
  std::vector<StudyDirection> directions = {StudyDirection::kMaximize};
  SampleContext ctx{space, trials, directions, fixed, [](const std::string&) { return true; }, {}};
  ParamMap params = sampler->sample(ctx);
  for (const auto& [key, value] : fixed) EXPECT_EQ(params.at(key), value) << key;
  double lr = params.at("lr").as_double();
  EXPECT_TRUE(lr >= 0.01 && lr <= 0.1) << lr;
  EXPECT_TRUE(sampler->take_trial_attrs().empty());
}

}  // namespace
}  // namespace nasforge
