#pragma once

#include <string>
#include <utility>
#include <vector>

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
    SampleContext ctx{space_, trials_, directions_, std::move(fixed), [](const std::string&) { return true; }};
    return sampler.sample(ctx);
  }

  SearchSpace space_;                                                    ///< Filled by each test.
  std::vector<FrozenTrial> trials_;                                      ///< The history the sampler sees.
  std::vector<StudyDirection> directions_{StudyDirection::kMinimize};  ///< One objective by default.
};

}  // namespace nasforge::testing
