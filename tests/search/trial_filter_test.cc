// --where / --sort of `nasforge best`: parsing, matching and ordering on values, params and user attributes.
#include "search/trial_filter.h"

#include "core/error.h"
#include "testing.h"

namespace nasforge {
namespace {

class TrialFilterTest : public testing::NasforgeTest {
 protected:
  static FrozenTrial make(int number, double value, double macs, const std::string& op) {
    FrozenTrial t;
    t.number = number;
    t.state = TrialState::kComplete;
    t.values = {value};
    t.params["op"] = ParamValue(op);
    t.user_attrs["macs"] = macs;
    return t;
  }
  std::vector<FrozenTrial> trials_ = {make(0, 0.9, 4e6, "conv"), make(1, 0.8, 1e6, "mbconv"),
                                      make(2, 0.7, 2e6, "conv")};
};

std::vector<int> numbers(const std::vector<FrozenTrial>& ts) {
  std::vector<int> out;
  for (const auto& t : ts) out.push_back(t.number);
  return out;
}

TEST_F(TrialFilterTest, ComparesNumbersAndText) {
  EXPECT_EQ(numbers(filter_trials(trials_, {TrialFilter::parse("macs<3e6")})), (std::vector<int>{1, 2}));
  EXPECT_EQ(numbers(filter_trials(trials_, {TrialFilter::parse("macs <= 2e6"), TrialFilter::parse("op==conv")})),
            (std::vector<int>{2}));
  EXPECT_EQ(numbers(filter_trials(trials_, {TrialFilter::parse("op!=conv")})), (std::vector<int>{1}));
  EXPECT_EQ(numbers(filter_trials(trials_, {TrialFilter::parse("value>=0.8")})), (std::vector<int>{0, 1}));
  EXPECT_EQ(numbers(filter_trials(trials_, {TrialFilter::parse("number>0")})), (std::vector<int>{1, 2}));
}

TEST_F(TrialFilterTest, BadExpressionsAndUnknownKeysAreUsageErrors) {
  EXPECT_THROW(TrialFilter::parse("macs"), UsageError);
  EXPECT_THROW(TrialFilter::parse("<5"), UsageError);
  try {
    TrialFilter::parse("macs<small");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("needs a number"), std::string::npos) << e.what();
  }
  try {
    filter_trials(trials_, {TrialFilter::parse("mac<5")});
    FAIL();
  } catch (const UsageError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no trial has 'mac'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("macs"), std::string::npos) << msg;
  }
}

TEST_F(TrialFilterTest, SortsAscendingDescendingAndMissingLast) {
  std::vector<FrozenTrial> ts = trials_;
  ts.push_back(make(3, 0.5, 0, "conv"));
  ts.back().user_attrs.erase("macs");
  sort_trials(ts, TrialOrder::parse("macs"));
  EXPECT_EQ(numbers(ts), (std::vector<int>{1, 2, 0, 3}));
  sort_trials(ts, TrialOrder::parse("macs:desc"));
  EXPECT_EQ(numbers(ts), (std::vector<int>{0, 2, 1, 3}));
  EXPECT_THROW(TrialOrder::parse("macs:up"), UsageError);
  EXPECT_THROW(sort_trials(ts, TrialOrder::parse("latency")), UsageError);
}

}  // namespace
}  // namespace nasforge
