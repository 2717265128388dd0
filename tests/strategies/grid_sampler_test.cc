#include "strategies/grid_sampler.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "strategies/registry.h"
#include "tests/strategies/sampler_testing.h"
#include "tests/testing.h"

namespace nasforge {
namespace {

using testing::param;

std::string key_of(const ParamMap& p) {
  std::string s;
  for (const auto& [k, v] : p) s += k + "=" + v.to_string() + ";";
  return s;
}

class GridSamplerTest : public testing::SamplerTest {
 protected:
  using SamplerTest::ask;
  // One call of the study loop: the claims live in `claims`, shared by every sampler given the same set.
  ParamMap ask(Sampler& sampler, std::set<std::string>& claims, ParamMap fixed = {}) {
    SampleContext ctx{space_,
                      trials_,
                      directions_,
                      std::move(fixed),
                      [&claims](const std::string& key) { return claims.insert(key).second; },
                      {}};
    return sampler.sample(ctx);
  }

  void build_conditional_space() {
    // layers (2) x [sgd: lr (3) x momentum (2) = 6, adam: beta (2), rmsprop: lr (3)] = 2 x 11 = 22 points.
    space_.add(param("opt", Distribution::make_categorical({"sgd", "adam", "rmsprop"})));
    space_.add(param("lr", Distribution::make_float(0.1, 0.3, false, 0.1), {{"opt", {"sgd", "rmsprop"}}}));
    space_.add(param("beta", Distribution::make_categorical({0.9, 0.99}), {{"opt", {"adam"}}}));
    space_.add(param("momentum", Distribution::make_int(0, 1), {{"opt", {"sgd"}}}));
    space_.add(param("layers", Distribution::make_int(1, 2)));
  }

};

TEST_F(GridSamplerTest, VisitsEveryPointOnceThenIsExhausted) {
  space_.add(param("a", Distribution::make_categorical({"x", "y", "z"})));
  space_.add(param("b", Distribution::make_int(0, 3)));
  GridSampler grid(space_, {true, 42});
  ASSERT_EQ(grid.size(), 12u);
  std::set<std::string> claims, seen;
  for (int i = 0; i < 12; ++i) {
    ParamMap p = ask(grid, claims);
    EXPECT_NO_THROW(space_.validate(p, true));
    EXPECT_TRUE(seen.insert(key_of(p)).second) << "repeated " << key_of(p);
  }
  try {
    ask(grid, claims);
    FAIL() << "expected SpaceExhausted";
  } catch (const SpaceExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("12"), std::string::npos) << e.what();
  }
}

TEST_F(GridSamplerTest, ConditionalGridHasNoDuplicates) {
  build_conditional_space();
  GridSampler grid(space_, {false, 0});
  EXPECT_EQ(grid.size(), 22u);
  std::set<std::string> claims, seen;
  for (std::uint64_t i = 0; i < 22; ++i) {
    ParamMap p = ask(grid, claims);
    EXPECT_NO_THROW(space_.validate(p, true)) << key_of(p);
    EXPECT_TRUE(seen.insert(key_of(p)).second) << key_of(p);
    EXPECT_EQ(grid.rank_of(p), std::optional<std::uint64_t>(i));  // unshuffled: lexicographic order
  }
  EXPECT_THROW(ask(grid, claims), SpaceExhausted);
  // Lexicographic in space order: opt=sgd, lr=0.1, momentum=0, layers=1 first.
  ParamMap first = grid.point(0);
  EXPECT_EQ(first.at("opt"), ParamValue("sgd"));
  EXPECT_EQ(first.at("lr"), ParamValue(0.1));
  EXPECT_EQ(first.at("momentum"), ParamValue(0));
  EXPECT_EQ(first.at("layers"), ParamValue(1));
  EXPECT_EQ(first.count("beta"), 0u);
}

TEST_F(GridSamplerTest, RankAndPointAreInverse) {
  build_conditional_space();
  GridSampler grid(space_, {true, 1});
  for (std::uint64_t r = 0; r < grid.size(); ++r)
    EXPECT_EQ(grid.rank_of(grid.point(r)), std::optional<std::uint64_t>(r));
  // Not grid points: an inactive parameter present, an active one missing, a value off the grid.
  ParamMap p = grid.point(0);
  ParamMap extra = p;
  extra["beta"] = 0.9;
  EXPECT_FALSE(grid.rank_of(extra));
  ParamMap missing = p;
  missing.erase("layers");
  EXPECT_FALSE(grid.rank_of(missing));
  ParamMap off = p;
  off["layers"] = 7;
  EXPECT_FALSE(grid.rank_of(off));
}

TEST_F(GridSamplerTest, WorkersSharingClaimsNeverRepeat) {
  build_conditional_space();
  // Different shuffle seeds: the claim key is the lexicographic number, so they still cannot collide.
  GridSampler first(space_, {true, 1}), second(space_, {true, 2});
  std::set<std::string> claims, seen;
  std::size_t taken = 0;
  for (int round = 0; round < 30; ++round) {
    for (GridSampler* worker : {&first, &second}) {
      try {
        ParamMap p = ask(*worker, claims);
        EXPECT_TRUE(seen.insert(key_of(p)).second) << "both workers ran " << key_of(p);
        ++taken;
      } catch (const SpaceExhausted&) {
      }
    }
  }
  EXPECT_EQ(taken, 22u);
  EXPECT_EQ(claims.size(), 22u);
}

TEST_F(GridSamplerTest, SkipsPointsThatTrialsAlreadyHold) {
  space_.add(param("a", Distribution::make_int(0, 4)));
  GridSampler grid(space_, {true, 3});
  for (int v : {1, 3}) {
    FrozenTrial t;
    t.number = static_cast<int>(trials_.size());
    t.trial_id = t.number;
    t.state = TrialState::kComplete;
    t.values = {0.0};
    t.params = {{"a", v}};
    trials_.push_back(t);
  }
  std::set<std::string> claims, values;
  for (int i = 0; i < 3; ++i) values.insert(ask(grid, claims).at("a").to_string());
  EXPECT_EQ(values, (std::set<std::string>{"0", "2", "4"}));
  EXPECT_THROW(ask(grid, claims), SpaceExhausted);
}

TEST_F(GridSamplerTest, ShuffleIsSeededPermutation) {
  space_.add(param("a", Distribution::make_int(0, 19)));
  auto order = [&](bool shuffle, std::uint64_t seed) {
    GridSampler grid(space_, {shuffle, seed});
    std::set<std::string> claims;
    std::vector<std::int64_t> out;
    for (int i = 0; i < 20; ++i) out.push_back(ask(grid, claims).at("a").as_int());
    return out;
  };
  std::vector<std::int64_t> lexicographic = order(false, 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(lexicographic[static_cast<std::size_t>(i)], i);
  std::vector<std::int64_t> shuffled = order(true, 5);
  EXPECT_EQ(shuffled, order(true, 5));
  EXPECT_NE(shuffled, lexicographic);
  EXPECT_NE(shuffled, order(true, 6));
  std::vector<std::int64_t> sorted = shuffled;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, lexicographic);
}

TEST_F(GridSamplerTest, FixedValuesPickAnAgreeingPoint) {
  build_conditional_space();
  GridSampler grid(space_, {true, 8});
  std::set<std::string> claims;
  ParamMap p = ask(grid, claims, {{"opt", "adam"}, {"layers", 2}});
  EXPECT_EQ(p.at("opt"), ParamValue("adam"));
  EXPECT_EQ(p.at("layers"), ParamValue(2));
  EXPECT_EQ(p.count("beta"), 1u);
  EXPECT_NO_THROW(space_.validate(p, true));
  // That point is claimed now; the other adam/2-layer point comes next, and then the values are still honoured.
  ParamMap q = ask(grid, claims, {{"opt", "adam"}, {"layers", 2}});
  EXPECT_NE(q.at("beta"), p.at("beta"));
  ParamMap r = ask(grid, claims, {{"opt", "adam"}, {"layers", 2}});
  EXPECT_EQ(r.at("opt"), ParamValue("adam"));
  EXPECT_NO_THROW(space_.validate(r, true));
}

TEST_F(GridSamplerTest, FloatWithoutStepIsAConfigError) {
  space_.add(param("depth", Distribution::make_int(1, 3)));
  space_.add(param("dropout", Distribution::make_float(0, 0.5)));
  try {
    GridSampler grid(space_, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("dropout"), std::string::npos) << what;
    EXPECT_NE(what.find("step"), std::string::npos) << what;
  }
}

TEST_F(GridSamplerTest, HugeGridIsRejected) {
  for (int i = 0; i < 3; ++i) space_.add(param("p" + std::to_string(i), Distribution::make_int(0, 99)));
  EXPECT_EQ(GridSampler(space_, {}).size(), 1000000u);  // 100^3 is fine
  space_.add(param("p3", Distribution::make_int(0, 99)));
  try {
    GridSampler grid(space_, {});  // 100^4 = 1e8 is not
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("100000000"), std::string::npos) << e.what();
  }
}

TEST_F(GridSamplerTest, RegistryReadsShuffleOption) {
  space_.add(param("a", Distribution::make_int(0, 9)));
  auto sampler = make_sampler(ConfigNode::parse_string("name: grid\nshuffle: false\n"), space_, 1, StrategyEnv{});
  std::set<std::string> claims;
  EXPECT_EQ(ask(*sampler, claims).at("a"), ParamValue(0));
  EXPECT_EQ(ask(*sampler, claims).at("a"), ParamValue(1));
  EXPECT_THROW(make_sampler(ConfigNode::parse_string("name: grid\nshuffle: maybe\n"), space_, 1, StrategyEnv{}),
               ConfigError);
}

}  // namespace
}  // namespace nasforge
