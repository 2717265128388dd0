#include "strategies/random_sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
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

class RandomSamplerTest : public testing::SamplerTest {};

TEST_F(RandomSamplerTest, SameSeedSameSequence) {
  space_.add(param("x", Distribution::make_float(-1, 1)));
  space_.add(param("k", Distribution::make_int(0, 100)));
  space_.add(param("c", Distribution::make_categorical({"a", "b", "c", "d"})));
  RandomSampler a(7), b(7), c(8);
  int differences = 0;
  for (int i = 0; i < 50; ++i) {
    ParamMap pa = ask(a), pb = ask(b), pc = ask(c);
    EXPECT_EQ(pa, pb) << "draw " << i;
    differences += pa != pc ? 1 : 0;
  }
  EXPECT_GT(differences, 45);
}

TEST_F(RandomSamplerTest, EveryValueLiesInItsDomain) {
  std::vector<Distribution> dists = {Distribution::make_float(-2, 3),
                                     Distribution::make_float(1e-5, 1e2, true),
                                     Distribution::make_float(0, 1, false, 0.1),
                                     Distribution::make_int(-5, 5),
                                     Distribution::make_int(0, 20, false, 4),
                                     Distribution::make_int(1, 1000, true),
                                     Distribution::make_categorical({1, "two", 3.5, true}),
                                     Distribution::make_float(2, 2),
                                     Distribution::make_int(3, 3)};
  for (std::size_t i = 0; i < dists.size(); ++i) space_.add(param("p" + std::to_string(i), dists[i]));
  RandomSampler sampler(1);
  std::map<std::string, std::pair<double, double>> seen;  // smallest and largest internal value
  for (int draw = 0; draw < 3000; ++draw) {
    ParamMap p = ask(sampler);
    ASSERT_EQ(p.size(), dists.size());
    for (std::size_t i = 0; i < dists.size(); ++i) {
      const std::string name = "p" + std::to_string(i);
      double internal = dists[i].to_internal(p.at(name));  // throws if outside the domain or off the grid
      ASSERT_TRUE(dists[i].contains(internal)) << name;
      if (dists[i].kind() == DistributionKind::kInt) {
        EXPECT_TRUE(p.at(name).is_int()) << name;
      }
      auto [it, fresh] = seen.emplace(name, std::make_pair(internal, internal));
      it->second.first = std::min(it->second.first, internal);
      it->second.second = std::max(it->second.second, internal);
    }
  }
  // Discrete domains are covered end to end; continuous ones stay strictly below high.
  EXPECT_EQ(seen["p2"].first, 0.0);
  EXPECT_NEAR(seen["p2"].second, 1.0, 1e-12);
  EXPECT_EQ(seen["p3"].first, -5);
  EXPECT_EQ(seen["p3"].second, 5);
  EXPECT_EQ(seen["p4"].second, 20);
  EXPECT_EQ(seen["p5"].first, 1);
  EXPECT_EQ(seen["p6"].second, 3);
  EXPECT_LT(seen["p0"].second, 3.0);
  EXPECT_EQ(seen["p7"].first, 2.0);
  EXPECT_EQ(seen["p8"].second, 3);
}

TEST_F(RandomSamplerTest, GridEndsAreAsLikelyAsInnerValues) {
  // Optuna widens the range by half a step before rounding, so 0 and 10 are as likely as 5.
  space_.add(param("k", Distribution::make_int(0, 10, false, 5)));
  RandomSampler sampler(3);
  std::map<std::int64_t, int> counts;
  const int n = 6000;
  for (int i = 0; i < n; ++i) ++counts[ask(sampler).at("k").as_int()];
  ASSERT_EQ(counts.size(), 3u);
  for (const auto& [value, count] : counts) EXPECT_NEAR(count / double(n), 1.0 / 3, 0.03) << value;
}

TEST_F(RandomSamplerTest, LogScaleIsUniformInLogSpace) {
  space_.add(param("lr", Distribution::make_float(1e-6, 1, true)));
  RandomSampler sampler(11);
  std::vector<double> logs;
  for (int i = 0; i < 2001; ++i) logs.push_back(std::log10(ask(sampler).at("lr").as_double()));
  std::nth_element(logs.begin(), logs.begin() + 1000, logs.end());
  // Uniform in log space: the median of log10 is the centre, -3 (a linear draw would give about -0.3).
  EXPECT_NEAR(logs[1000], -3.0, 0.25);
  std::size_t below_micro = std::count_if(logs.begin(), logs.end(), [](double l) { return l < -5; });
  EXPECT_NEAR(below_micro / 2001.0, 1.0 / 6, 0.04);
}

TEST_F(RandomSamplerTest, ConditionalParametersOnlyWhenActive) {
  space_.add(param("opt", Distribution::make_categorical({"sgd", "adam"})));
  space_.add(param("momentum", Distribution::make_float(0, 1), {{"opt", {"sgd"}}}));
  space_.add(param("beta", Distribution::make_float(0.5, 1), {{"opt", {"adam"}}}));
  RandomSampler sampler(5);
  int sgd = 0;
  for (int i = 0; i < 200; ++i) {
    ParamMap p = ask(sampler);
    bool is_sgd = p.at("opt") == ParamValue("sgd");
    sgd += is_sgd;
    EXPECT_EQ(p.count("momentum"), is_sgd ? 1u : 0u);
    EXPECT_EQ(p.count("beta"), is_sgd ? 0u : 1u);
    EXPECT_NO_THROW(space_.validate(p, true));
  }
  EXPECT_GT(sgd, 60);
  EXPECT_LT(sgd, 140);
}

TEST_F(RandomSamplerTest, FixedValuesAreKeptAndDecideActivity) {
  space_.add(param("opt", Distribution::make_categorical({"sgd", "adam"})));
  space_.add(param("momentum", Distribution::make_float(0, 1), {{"opt", {"sgd"}}}));
  space_.add(param("width", Distribution::make_int(1, 8)));
  RandomSampler sampler(9);
  for (int i = 0; i < 20; ++i) {
    ParamMap p = ask(sampler, {{"opt", "sgd"}, {"width", 3}});
    EXPECT_EQ(p.at("opt"), ParamValue("sgd"));
    EXPECT_EQ(p.at("width"), ParamValue(3));
    EXPECT_EQ(p.count("momentum"), 1u);
  }
}

TEST_F(RandomSamplerTest, RegistryBuildsItAndRejectsUnknownKeys) {
  space_.add(param("x", Distribution::make_float(0, 1)));
  auto sampler = make_sampler(ConfigNode::parse_string("name: random\n"), space_, 3, StrategyEnv{});
  ParamMap p = ask(*sampler);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_THROW(make_sampler(ConfigNode::parse_string("name: random\nshuffle: true\n"), space_, 3, StrategyEnv{}),
               ConfigError);
}

}  // namespace
}  // namespace nasforge
