#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "spaces/search_space.h"
#include "strategies/sampler.h"
#include "tests/testing.h"

namespace nasforge::testing {

/// A parameter spec for building spaces in code.
inline ParamSpec param(const std::string& name, Distribution d, std::vector<ConditionClause> when = {}) {
  ParamSpec p;
  p.name = name;
  p.distribution = std::move(d);
  p.when = std::move(when);
  return p;
}

/// Fixture for sampler tests: a space, a hand-built history and one ask() without competing workers.
class SamplerTest : public NasforgeTest {
 protected:
  /// One sample with every claim granted.
  ParamMap ask(Sampler& sampler, ParamMap fixed = {}) {
    SampleContext ctx{space_, trials_, directions_, std::move(fixed), [](const std::string&) { return true; }, {}};
    return sampler.sample(ctx);
  }

  /// Appends a trial with the given state and values; distributions are recorded as storage would.
  FrozenTrial& record(const ParamMap& params, TrialState state, std::vector<double> values = {}) {
    FrozenTrial t;
    t.number = static_cast<int>(trials_.size());
    t.trial_id = 100 + t.number;
    t.state = state;
    t.values = std::move(values);
    t.params = params;
    for (const auto& [name, value] : params) t.distributions[name] = space_.at(name).distribution;
    trials_.push_back(t);
    return trials_.back();
  }

  /// Checks that one key declaration rules code and study file alike: `construct()` must throw a ValueError
  /// "<key> must be ...", and the strategy section `yaml` (with `key` on its line 2) a ConfigError located there in
  /// the same words.
  void expect_same_range_error(const std::string& key, const std::function<void()>& construct,
                               const std::string& yaml) {
    std::string from_code, from_file;
    try {
      construct();
    } catch (const ValueError& e) {
      from_code = e.what();
    }
    try {
      make_sampler(ConfigNode::parse_string(yaml), space_, 1, StrategyEnv{});
    } catch (const ConfigError& e) {
      from_file = e.what();
    }
    ASSERT_EQ(from_code.rfind(key + " must be ", 0), 0u) << key << ": " << from_code;
    EXPECT_NE(from_file.find(":2:"), std::string::npos) << from_file;
    EXPECT_NE(from_file.find(from_code.substr(key.size() + 1)), std::string::npos) << from_file;
  }

  /// The study loop in miniature for one objective: ask, check, evaluate `f`, record COMPLETE, `n` times;
  /// returns the smallest value seen.
  double run_minimize(Sampler& sampler, int n, const std::function<double(const ParamMap&)>& f) {
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < n; ++i) {
      ParamMap p = ask(sampler);
      EXPECT_NO_THROW(space_.validate(p, true)) << "trial " << i;
      const double v = f(p);
      record(p, TrialState::kComplete, {v});
      best = std::min(best, v);
    }
    return best;
  }

  SearchSpace space_;                                                  ///< Filled by each test.
  std::vector<FrozenTrial> trials_;                                    ///< The history the sampler sees.
  std::vector<StudyDirection> directions_{StudyDirection::kMinimize};  ///< One objective by default.
};

}  // namespace nasforge::testing
