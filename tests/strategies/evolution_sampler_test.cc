#include "strategies/evolution_sampler.h"
#include "strategies/registry.h"

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "strategies/random_sampler.h"
#include "strategies/sampler_util.h"
#include "tests/strategies/sampler_testing.h"
#include "tests/testing.h"

namespace nasforge {
namespace {

using testing::param;

constexpr int kGenes = 4;

class EvolutionSamplerTest : public testing::SamplerTest {
 protected:
  // Genes g0..g3, each one of the integers 0..9 as a categorical.
  void gene_space() {
    std::vector<ParamValue> choices;
    for (int i = 0; i < 10; ++i) choices.emplace_back(std::int64_t{i});
    for (int g = 0; g < kGenes; ++g)
      space_.add(param("g" + std::to_string(g), Distribution::make_categorical(choices)));
  }

  // Every gene set to k: such points differ pairwise in all genes, so a child (one gene off its parent) names
  // its parent unambiguously.
  static ParamMap uniform_genes(int k) {
    ParamMap p;
    for (int g = 0; g < kGenes; ++g) p["g" + std::to_string(g)] = ParamValue(std::int64_t{k});
    return p;
  }

  // Genes of `p` that differ from `q`.
  static int distance(const ParamMap& p, const ParamMap& q) {
    int d = 0;
    for (int g = 0; g < kGenes; ++g) d += p.at("g" + std::to_string(g)) != q.at("g" + std::to_string(g)) ? 1 : 0;
    return d;
  }

  // The k whose uniform_genes(k) is one gene away from `child`, or -1.
  static int parent_of(const ParamMap& child) {
    for (int k = 0; k < 10; ++k) {
      if (distance(child, uniform_genes(k)) == 1) return k;
    }
    return -1;
  }

  static EvolutionSamplerOptions options(int population, int sample, std::uint64_t seed) {
    EvolutionSamplerOptions o;
    o.population_size = population;
    o.sample_size = sample;
    o.seed = seed;
    return o;
  }
};

TEST_F(EvolutionSamplerTest, OnlyTheMostRecentTrialsCanBeParents) {
  gene_space();
  // Trial 0 is the best ever, but with population_size 3 only trials 3, 4 and 5 are alive.
  const std::vector<double> values = {0.0, 1.0, 2.0, 9.0, 7.0, 8.0};
  for (int k = 0; k < 6; ++k) record(uniform_genes(k), TrialState::kComplete, {values[k]});
  std::set<int> parents;
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    EvolutionSampler sampler(options(3, 2, seed), 1);
    int parent = parent_of(ask(sampler));
    // A tournament of two distinct members is never won by the worst one (trial 3).
    EXPECT_TRUE(parent == 4 || parent == 5) << "seed " << seed << " parent " << parent;
    parents.insert(parent);
  }
  EXPECT_EQ(parents, (std::set<int>{4, 5}));
  // When the whole population competes, the best young trial always wins.
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    EvolutionSampler sampler(options(3, 3, seed), 1);
    EXPECT_EQ(parent_of(ask(sampler)), 4) << "seed " << seed;
  }
}

TEST_F(EvolutionSamplerTest, PrunedTrialsCompeteWithTheirLastReportAndFailedOnesAreIgnored) {
  gene_space();
  record(uniform_genes(0), TrialState::kComplete, {5.0});
  record(uniform_genes(1), TrialState::kComplete, {4.0});
  FrozenTrial& pruned = record(uniform_genes(2), TrialState::kPruned);
  pruned.intermediate_values = {{0, 0.5}, {3, 3.0}};
  record(uniform_genes(3), TrialState::kFail);
  record(uniform_genes(4), TrialState::kRunning);
  record(uniform_genes(5), TrialState::kPruned);  // nothing reported: no value to compete with
  EvolutionSampler sampler(options(3, 3, 1), 1);
  EXPECT_EQ(parent_of(ask(sampler)), 2);
  trials_[2].intermediate_values[4] = 6.0;
  EXPECT_EQ(parent_of(ask(sampler)), 1);
}

TEST_F(EvolutionSamplerTest, RandomUntilThePopulationIsFilled) {
  gene_space();
  const std::uint64_t seed = 5;
  EvolutionSampler sampler(options(4, 2, seed), 1);
  RandomSampler random(derive_seed(seed, 1));
  // Failed, running and unreported pruned trials do not fill the population.
  record(uniform_genes(7), TrialState::kFail);
  record(uniform_genes(8), TrialState::kRunning);
  record(uniform_genes(9), TrialState::kPruned);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(ask(sampler), ask(random)) << "with " << k << " finished trials";
    record(uniform_genes(k), TrialState::kComplete, {static_cast<double>(k)});
  }
  for (int i = 0; i < 20; ++i) {
    int parent = parent_of(ask(sampler));
    EXPECT_TRUE(parent >= 0 && parent <= 2) << "ask " << i << " parent " << parent;
  }
}

TEST_F(EvolutionSamplerTest, ChildDiffersFromAMemberInExactlyOneParameter) {
  gene_space();
  EvolutionSampler sampler(options(5, 2, 3), 1);
  std::vector<ParamMap> asked;
  for (int i = 0; i < 150; ++i) {
    ParamMap p = ask(sampler);
    if (i >= 5) {
      // The population is the previous five trials; the child is one gene away from one of them.
      int nearest = kGenes;
      for (int j = i - 5; j < i; ++j) nearest = std::min(nearest, distance(p, asked[j]));
      EXPECT_EQ(nearest, 1) << "trial " << i;
    }
    double v = 0;
    for (int g = 0; g < kGenes; ++g) v += static_cast<double>(p.at("g" + std::to_string(g)).as_int());
    record(p, TrialState::kComplete, {v});
    asked.push_back(p);
  }
}

TEST_F(EvolutionSamplerTest, DirectionDecidesTheParent) {
  gene_space();
  record(uniform_genes(0), TrialState::kComplete, {2.0});
  record(uniform_genes(1), TrialState::kComplete, {1.0});
  record(uniform_genes(2), TrialState::kComplete, {3.0});
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    directions_ = {StudyDirection::kMinimize};
    EvolutionSampler minimize(options(3, 3, seed), 1);
    EXPECT_EQ(parent_of(ask(minimize)), 1);
    directions_ = {StudyDirection::kMaximize};
    EvolutionSampler maximize(options(3, 3, seed), 1);
    EXPECT_EQ(parent_of(ask(maximize)), 2);
  }
}

TEST_F(EvolutionSamplerTest, ConditionalSpacesStayValid) {
  space_.add(param("kind", Distribution::make_categorical({"conv", "pool", "skip"})));
  space_.add(param("kernel", Distribution::make_int(1, 7, false, 2), {{"kind", {ParamValue("conv")}}}));
  space_.add(param("act", Distribution::make_categorical({"relu", "gelu"}), {{"kind", {ParamValue("conv")}}}));
  space_.add(param("pool", Distribution::make_categorical({"max", "avg"}), {{"kind", {ParamValue("pool")}}}));
  space_.add(param("lr", Distribution::make_float(1e-4, 1e-1, true)));
  space_.add(param("width", Distribution::make_int(1, 64, true)));
  space_.add(param("drop", Distribution::make_float(0.0, 0.5, false, 0.1)));
  EvolutionSampler sampler(options(10, 3, 2), 1);
  std::set<std::string> kinds;
  run_minimize(sampler, 300, [&](const ParamMap& p) {
    kinds.insert(p.at("kind").as_string());
    double v = std::abs(std::log10(p.at("lr").as_double()) + 2.5) + p.at("drop").as_double();
    if (p.at("kind").as_string() == "conv") v += std::abs(static_cast<double>(p.at("kernel").as_int()) - 3.0);
    return v;
  });
  EXPECT_EQ(kinds.size(), 3u);
  // Mutations keep every value inside its domain (run_minimize() validates each ask), and numbers do move.
  std::set<double> lrs;
  for (std::size_t i = 10; i < trials_.size(); ++i) lrs.insert(trials_[i].params.at("lr").as_double());
  EXPECT_GT(lrs.size(), 20u);
}

TEST_F(EvolutionSamplerTest, FixedValuesAreKept) {
  gene_space();
  for (int k = 0; k < 3; ++k) record(uniform_genes(k), TrialState::kComplete, {static_cast<double>(k)});
  EvolutionSampler sampler(options(3, 3, 4), 1);
  for (int i = 0; i < 30; ++i) {
    ParamMap p = ask(sampler, {{"g0", ParamValue(std::int64_t{7})}});
    EXPECT_EQ(p.at("g0").as_int(), 7);
    // Parent is trial 0 (all zeros); exactly one of the free genes moved.
    int moved = 0;
    for (int g = 1; g < kGenes; ++g) moved += p.at("g" + std::to_string(g)).as_int() != 0 ? 1 : 0;
    EXPECT_EQ(moved, 1) << "ask " << i;
  }
}

TEST_F(EvolutionSamplerTest, AvoidsDuplicatesOfPopulationMembers) {
  space_.add(param("c", Distribution::make_categorical({"a", "b", "c"})));
  record({{"c", ParamValue("a")}}, TrialState::kComplete, {1.0});
  record({{"c", ParamValue("b")}}, TrialState::kComplete, {2.0});
  // The parent's only mutations give "b" (a member) or "c"; retries find "c".
  int fresh = 0;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    EvolutionSampler sampler(options(2, 2, seed), 1);
    fresh += ask(sampler).at("c").as_string() == "c" ? 1 : 0;
  }
  EXPECT_GE(fresh, 45);
}

TEST_F(EvolutionSamplerTest, SameSeedSameSequence) {
  gene_space();
  auto f = [](const ParamMap& p) {
    double v = 0;
    for (int g = 0; g < kGenes; ++g) v += std::abs(static_cast<double>(p.at("g" + std::to_string(g)).as_int()) - 6);
    return v;
  };
  EvolutionSampler a(options(6, 3, 11), 1);
  run_minimize(a, 60, f);
  std::vector<FrozenTrial> first = trials_;
  trials_.clear();
  EvolutionSampler b(options(6, 3, 11), 1);
  run_minimize(b, 60, f);
  int differences = 0;
  for (std::size_t i = 0; i < trials_.size(); ++i) EXPECT_EQ(trials_[i].params, first[i].params) << "trial " << i;
  trials_.clear();
  EvolutionSampler c(options(6, 3, 12), 1);
  run_minimize(c, 60, f);
  for (std::size_t i = 0; i < trials_.size(); ++i) differences += trials_[i].params != first[i].params ? 1 : 0;
  EXPECT_GT(differences, 40);
}

TEST_F(EvolutionSamplerTest, RejectsBadOptions) {
  gene_space();
  auto build = [&](const std::string& yaml, std::size_t n_objectives = 1) {
    SectionReader reader(ConfigNode::parse_string(yaml));
    auto sampler = make_evolution_sampler(reader, space_, 1, StrategyEnv{n_objectives});
    reader.finish();
    return sampler;
  };
  auto message = [&](const std::string& yaml, std::size_t n_objectives = 1) -> std::string {
    try {
      build(yaml, n_objectives);
    } catch (const ValueError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message("population_size: 0").find("got 0"), std::string::npos);
  EXPECT_NE(message("population_size: 5\nsample_size: 6").find("got 6"), std::string::npos);
  EXPECT_NE(message("sample_size: 0").find("got 0"), std::string::npos);
  EXPECT_NE(message("{}", 2).find("tpe or random"), std::string::npos);
  EXPECT_THROW(build("tournament: 3"), ConfigError);
  EXPECT_THROW(EvolutionSampler(options(4, 5, 0), 1), ValueError);

  auto defaults = build("{}");
  auto* evo = dynamic_cast<EvolutionSampler*>(defaults.get());
  ASSERT_NE(evo, nullptr);
  EXPECT_EQ(evo->options().population_size, 50);
  EXPECT_EQ(evo->options().sample_size, 10);
  // A small population lowers the default tournament instead of rejecting it.
  auto small = build("population_size: 4");
  EXPECT_EQ(dynamic_cast<EvolutionSampler*>(small.get())->options().sample_size, 4);
}

TEST_F(EvolutionSamplerTest, FindsBetterPointsThanRandomSearch) {
  // Six integer genes in 0..9 with one optimum: random search rarely lands within a few steps of it in 200 trials,
  // while one-gene mutations of good parents climb there.
  for (int g = 0; g < 6; ++g) space_.add(param("x" + std::to_string(g), Distribution::make_int(0, 9)));
  auto f = [](const ParamMap& p) {
    double v = 0;
    for (int g = 0; g < 6; ++g) v += std::abs(static_cast<double>(p.at("x" + std::to_string(g)).as_int()) - 7);
    return v;
  };
  double evolution_total = 0, random_total = 0;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    trials_.clear();
    EvolutionSampler evolution(options(20, 5, seed), 1);
    evolution_total += run_minimize(evolution, 200, f);
    trials_.clear();
    RandomSampler random(seed);
    random_total += run_minimize(random, 200, f);
  }
  EXPECT_LT(evolution_total, random_total * 0.5)
      << "mean best: evolution " << evolution_total / 10 << ", random " << random_total / 10;
}

}  // namespace
}  // namespace nasforge
