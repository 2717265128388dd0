// The C++ API example from README.md, kept compiling and working.
#include "search/study.h"
#include "strategies/sampler.h"
#include "testing.h"

namespace nasforge {
namespace {

class ReadmeExampleTest : public testing::NasforgeTest {};

TEST_F(ReadmeExampleTest, AskTellLoopFindsTheMinimum) {
  Study study = Study::create(open_storage("sqlite:///" + tmp("api.db")), "api", {StudyDirection::kMinimize});
  SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string(
      "x: {type: float, low: -10, high: 10}\nkind: [a, b]"));
  study.set_space(space);
  study.set_sampler(
      make_sampler(ConfigNode::parse_string("name: tpe"), space, /*seed=*/1, StrategyEnv{/*n_objectives=*/1}));
  for (int i = 0; i < 50; ++i) {
    Trial trial = *study.ask();
    double x = trial.param("x").as_double();
    study.tell(trial, {(x - 2) * (x - 2) + (trial.param("kind").as_string() == "a" ? 0 : 1)});
  }
  FrozenTrial best = study.best_trials().at(0);
  EXPECT_EQ(best.params.at("kind").as_string(), "a");
  EXPECT_LT(*best.value(), 0.5);
}

}  // namespace
}  // namespace nasforge
