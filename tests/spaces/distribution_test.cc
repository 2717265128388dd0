#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "spaces/distribution.h"
#include "testing.h"

namespace nasforge {
namespace {

using DistributionTest = testing::NasforgeTest;

// The ValueError message of `f()`, or "" when it does not throw one.
template <typename F>
std::string value_error(F&& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- validation ----

TEST_F(DistributionTest, FloatLowAboveHighIsRejected) {
  std::string msg = value_error([] { Distribution::make_float(2.5, 1.0); });
  EXPECT_TRUE(contains(msg, "low=2.5")) << msg;
  EXPECT_TRUE(contains(msg, "high=1")) << msg;
  EXPECT_NO_THROW(Distribution::make_float(1.0, 1.0));  // a single point is allowed
}

TEST_F(DistributionTest, FloatBoundsMustBeFinite) {
  EXPECT_TRUE(contains(value_error([] { Distribution::make_float(0, INFINITY); }), "inf"));
  EXPECT_TRUE(contains(value_error([] { Distribution::make_float(std::nan(""), 1); }), "nan"));
}

TEST_F(DistributionTest, LogNeedsAPositiveLowerBound) {
  std::string msg = value_error([] { Distribution::make_float(0.0, 1.0, true); });
  EXPECT_TRUE(contains(msg, "log")) << msg;
  EXPECT_TRUE(contains(msg, "low=0")) << msg;
  EXPECT_TRUE(contains(value_error([] { Distribution::make_float(-1.0, 1.0, true); }), "low=-1"));
  EXPECT_NO_THROW(Distribution::make_float(1e-5, 1.0, true));
  std::string int_msg = value_error([] { Distribution::make_int(0, 10, true); });
  EXPECT_TRUE(contains(int_msg, "low=0")) << int_msg;
  EXPECT_NO_THROW(Distribution::make_int(1, 10, true));
}

TEST_F(DistributionTest, StepMustDivideTheRange) {
  std::string msg = value_error([] { Distribution::make_float(0.0, 1.0, false, 0.3); });
  EXPECT_TRUE(contains(msg, "step=0.3")) << msg;
  EXPECT_TRUE(contains(msg, "[0, 1]")) << msg;
  // Decimal steps that are inexact in binary still divide.
  EXPECT_NO_THROW(Distribution::make_float(0.0, 1.0, false, 0.1));
  EXPECT_NO_THROW(Distribution::make_float(0.1, 0.7, false, 0.2));
  std::string int_msg = value_error([] { Distribution::make_int(0, 10, false, 3); });
  EXPECT_TRUE(contains(int_msg, "step=3")) << int_msg;
  EXPECT_TRUE(contains(int_msg, "[0, 10]")) << int_msg;
  EXPECT_NO_THROW(Distribution::make_int(1, 10, false, 3));
}

TEST_F(DistributionTest, StepMustBePositive) {
  EXPECT_TRUE(contains(value_error([] { Distribution::make_float(0, 1, false, 0.0); }), "step=0"));
  EXPECT_TRUE(contains(value_error([] { Distribution::make_float(0, 1, false, -0.5); }), "step=-0.5"));
  EXPECT_TRUE(contains(value_error([] { Distribution::make_int(0, 10, false, 0); }), "step=0"));
  EXPECT_TRUE(contains(value_error([] { Distribution::make_int(0, 10, false, -2); }), "step=-2"));
}

TEST_F(DistributionTest, StepAndLogCannotBeCombined) {
  std::string msg = value_error([] { Distribution::make_float(1.0, 2.0, true, 0.5); });
  EXPECT_TRUE(contains(msg, "step and log")) << msg;
  EXPECT_TRUE(contains(msg, "0.5")) << msg;
  EXPECT_TRUE(contains(value_error([] { Distribution::make_int(1, 9, true, 2); }), "step and log"));
}

TEST_F(DistributionTest, IntLowAboveHighIsRejected) {
  std::string msg = value_error([] { Distribution::make_int(5, 2); });
  EXPECT_TRUE(contains(msg, "low=5")) << msg;
  EXPECT_TRUE(contains(msg, "high=2")) << msg;
}

TEST_F(DistributionTest, ChoicesMustBeNonEmptyAndDistinct) {
  EXPECT_TRUE(contains(value_error([] { Distribution::make_categorical({}); }), "empty"));
  std::string msg = value_error([] { Distribution::make_categorical({"relu", "tanh", "relu"}); });
  EXPECT_TRUE(contains(msg, "'relu' twice")) << msg;
  EXPECT_THROW(Distribution::make_categorical({1, 2, 1}), ValueError);
  // 1 and 1.0 are different YAML values and may both be choices, like "1" and 1.
  EXPECT_NO_THROW(Distribution::make_categorical({1, 1.0, "1", true, ParamValue()}));
}

TEST_F(DistributionTest, IntDomainsStayWithinExactDoubles) {
  // Trial values are stored as doubles: 2^53 + 1 would come back as 2^53, and a range of 2^64 values overflows.
  std::string msg = value_error([] { Distribution::make_int(0, kMaxExactInt + 1); });
  EXPECT_TRUE(contains(msg, "high=9007199254740993")) << msg;
  EXPECT_TRUE(contains(msg, "2^53")) << msg;
  EXPECT_THROW(Distribution::make_int(INT64_MIN, INT64_MAX), InvalidDomain);
  EXPECT_THROW(Distribution::make_int(-kMaxExactInt, kMaxExactInt), InvalidDomain);  // spans 2^54
  EXPECT_THROW(Distribution::make_int(0, 0, false, kMaxExactInt + 1), InvalidDomain);
  Distribution d = Distribution::make_int(kMaxExactInt - 4, kMaxExactInt);
  EXPECT_EQ(d.to_external(d.to_internal(kMaxExactInt - 1)).as_int(), kMaxExactInt - 1);
  try {
    Distribution::make_int(-kMaxExactInt - 1, 0);
    ADD_FAILURE() << "no error";
  } catch (const InvalidDomain& e) {
    EXPECT_EQ(e.argument(), "low");
  }
}

TEST_F(DistributionTest, FloatRangesMustNotOverflow) {
  // high - low of [-1e308, 1e308] is inf, so every sample was the same value.
  std::string msg = value_error([] { Distribution::make_float(-1e308, 1e308); });
  EXPECT_TRUE(contains(msg, "[-1e+308, 1e+308]")) << msg;
  EXPECT_TRUE(contains(msg, "overflows")) << msg;
  EXPECT_NO_THROW(Distribution::make_float(-1e307, 1e307));
  // A step that makes more grid points than a double counts.
  msg = value_error([] { Distribution::make_float(0, 1, false, 1e-300); });
  EXPECT_TRUE(contains(msg, "2^53 grid points")) << msg;
}

TEST_F(DistributionTest, ErrorsNameTheArgumentAtFault) {
  auto argument = [](auto&& f) {
    try {
      f();
    } catch (const InvalidDomain& e) {
      return e.argument();
    }
    return std::string("none");
  };
  EXPECT_EQ(argument([] { Distribution::make_float(std::nan(""), 1); }), "low");
  EXPECT_EQ(argument([] { Distribution::make_float(0, INFINITY); }), "high");
  EXPECT_EQ(argument([] { Distribution::make_float(0, 1, true); }), "low");
  EXPECT_EQ(argument([] { Distribution::make_float(0, 1, false, 0.3); }), "step");
  EXPECT_EQ(argument([] { Distribution::make_int(1, 8, true, 2); }), "step");
  EXPECT_EQ(argument([] { Distribution::make_categorical({"a", "a"}); }), "choices");
}

TEST_F(DistributionTest, ManyChoicesAreCheckedAndLookedUpInLinearTime) {
  // 500,000 choices took quadratic time (they never finished; 200,000 here would take minutes); each check and lookup
  // is now a hash probe.
  std::vector<ParamValue> choices;
  for (int i = 0; i < 200000; ++i) choices.emplace_back("v" + std::to_string(i));
  choices.emplace_back(std::int64_t{7});
  Distribution d = Distribution::make_categorical(choices);
  EXPECT_EQ(d.to_internal("v199999"), 199999.0);
  EXPECT_EQ(d.to_internal(7.0), 200000.0);  // a number equal to a numeric choice matches it
  EXPECT_THROW(d.to_internal("v200000"), ValueError);
  EXPECT_TRUE(contains(d.describe(), "v19, ... (200001 choices)}")) << d.describe().substr(0, 300);
  choices.emplace_back("v123");
  std::string msg = value_error([&] { Distribution::make_categorical(choices); });
  EXPECT_TRUE(contains(msg, "'v123' twice (items 123 and 200001")) << msg;
  // -0.0 == 0.0 and NaN == NaN under ParamValue's equality, so each pair is a duplicate.
  EXPECT_THROW(Distribution::make_categorical({0.0, -0.0}), InvalidDomain);
  EXPECT_THROW(Distribution::make_categorical({std::nan(""), std::nan("")}), InvalidDomain);
}

TEST_F(DistributionTest, LargeIntChoicesRoundTripExactly) {
  // Categoricals store the choice index, and the choices themselves as JSON integers, so no digit is lost.
  const std::int64_t big = kMaxExactInt + 1;
  Distribution d = Distribution::make_categorical({big, big + 2});
  Distribution back = Distribution::from_json(Json::parse(d.to_json().dump()));
  EXPECT_EQ(back, d);
  EXPECT_EQ(back.to_external(back.to_internal(big + 2)).as_int(), big + 2);
}

// ---- internal / external ----

TEST_F(DistributionTest, FloatRoundTripsAndRejectsOutsideValues) {
  Distribution d = Distribution::make_float(1e-4, 1e-1, true);
  std::uniform_real_distribution<double> u(std::log(1e-4), std::log(1e-1));
  for (int i = 0; i < 200; ++i) {
    double v = std::exp(u(rng_));
    v = std::min(std::max(v, 1e-4), 1e-1);
    ParamValue ext = d.to_external(d.to_internal(v));
    EXPECT_EQ(ext, ParamValue(v));
    EXPECT_TRUE(d.contains(v));
  }
  EXPECT_THROW(d.to_internal(0.5), ValueError);
  EXPECT_THROW(d.to_internal("a"), ValueError);
  EXPECT_THROW(d.to_internal(ParamValue(0)), ValueError);
}

TEST_F(DistributionTest, SteppedFloatSnapsToTheGrid) {
  Distribution d = Distribution::make_float(0.0, 1.0, false, 0.25);
  EXPECT_EQ(d.to_external(0.3), ParamValue(0.25));
  EXPECT_EQ(d.to_external(0.9), ParamValue(1.0));
  EXPECT_EQ(d.to_external(7.0), ParamValue(1.0));  // clamped
  EXPECT_EQ(d.to_external(-3.0), ParamValue(0.0));
  EXPECT_TRUE(d.contains(0.75));
  EXPECT_FALSE(d.contains(0.6));
  EXPECT_THROW(d.to_internal(0.6), ValueError);
  EXPECT_EQ(d.to_internal(0.5), 0.5);
  EXPECT_EQ(d.to_internal(1), 1.0);  // an integer is a fine float value
}

TEST_F(DistributionTest, IntRoundTripsOnItsGrid) {
  Distribution d = Distribution::make_int(1, 10, false, 3);  // 1, 4, 7, 10
  for (std::int64_t v : {1, 4, 7, 10}) {
    EXPECT_EQ(d.to_external(d.to_internal(v)), ParamValue(v));
    EXPECT_TRUE(d.to_external(d.to_internal(v)).is_int());
  }
  EXPECT_EQ(d.to_external(5.4), ParamValue(4));
  EXPECT_EQ(d.to_external(5.6), ParamValue(7));
  EXPECT_EQ(d.to_external(100), ParamValue(10));
  EXPECT_EQ(d.to_internal(4.0), 4.0);  // an integral float is accepted
  std::string msg = value_error([&] { d.to_internal(2.5); });
  EXPECT_TRUE(contains(msg, "'2.5'")) << msg;
  EXPECT_TRUE(contains(msg, "integer")) << msg;
  EXPECT_THROW(d.to_internal(5), ValueError);   // off the grid
  EXPECT_THROW(d.to_internal(13), ValueError);  // outside
  EXPECT_THROW(d.to_internal(true), ValueError);
}

TEST_F(DistributionTest, CategoricalMapsChoicesToIndexes) {
  Distribution d = Distribution::make_categorical({"relu", 2, 0.5, true, ParamValue()});
  for (std::size_t i = 0; i < d.choices().size(); ++i) {
    EXPECT_EQ(d.to_internal(d.choices()[i]), static_cast<double>(i));
    EXPECT_EQ(d.to_external(static_cast<double>(i)), d.choices()[i]);
  }
  EXPECT_EQ(d.to_internal(2.0), 1.0);  // numerically equal to the choice 2
  EXPECT_EQ(d.to_external(1.4), ParamValue(2));
  EXPECT_EQ(d.to_external(99), ParamValue());  // clamped to the last choice
  std::string msg = value_error([&] { d.to_internal("tanh"); });
  EXPECT_TRUE(contains(msg, "'tanh'")) << msg;
  EXPECT_TRUE(contains(msg, "relu")) << msg;
  EXPECT_TRUE(d.contains(4));
  EXPECT_FALSE(d.contains(5));
  EXPECT_FALSE(d.contains(0.5));
  EXPECT_FALSE(d.contains(std::nan("")));
}

TEST_F(DistributionTest, CardinalityAndDiscreteValues) {
  Distribution cat = Distribution::make_categorical({"a", "b", "c"});
  EXPECT_EQ(cat.cardinality(), std::optional<std::size_t>(3));
  EXPECT_EQ(cat.discrete_value(2), 2.0);

  Distribution i = Distribution::make_int(1, 10, false, 3);
  ASSERT_EQ(i.cardinality(), std::optional<std::size_t>(4));
  std::vector<double> values;
  for (std::size_t k = 0; k < 4; ++k) values.push_back(i.discrete_value(k));
  EXPECT_EQ(values, (std::vector<double>{1, 4, 7, 10}));

  Distribution f = Distribution::make_float(0.0, 1.0, false, 0.1);
  ASSERT_EQ(f.cardinality(), std::optional<std::size_t>(11));
  EXPECT_DOUBLE_EQ(f.discrete_value(3), 0.3);
  EXPECT_EQ(f.discrete_value(10), 1.0);  // never past high
  for (std::size_t k = 0; k < 11; ++k) EXPECT_TRUE(f.contains(f.discrete_value(k))) << k;

  EXPECT_FALSE(Distribution::make_float(0, 1).cardinality().has_value());
  EXPECT_FALSE(Distribution::make_float(1, 10, true).cardinality().has_value());
  EXPECT_EQ(Distribution::make_int(1, 100, true).cardinality(), std::optional<std::size_t>(100));
}

TEST_F(DistributionTest, SingleMeansExactlyOneValue) {
  EXPECT_TRUE(Distribution::make_float(2, 2).single());
  EXPECT_TRUE(Distribution::make_int(3, 3).single());
  EXPECT_TRUE(Distribution::make_categorical({"only"}).single());
  EXPECT_FALSE(Distribution::make_int(3, 4).single());
  EXPECT_FALSE(Distribution::make_float(0, 1e-9).single());
  EXPECT_FALSE(Distribution::make_categorical({"a", "b"}).single());
}

// ---- JSON and description ----

TEST_F(DistributionTest, JsonRoundTripsEveryKind) {
  const Distribution all[] = {
      Distribution::make_float(-1.5, 2.5),
      Distribution::make_float(1e-5, 1.0, true),
      Distribution::make_float(0.0, 1.0, false, 0.1),
      Distribution::make_int(-3, 9, false, 3),
      Distribution::make_int(1, 1024, true),
      Distribution::make_categorical({"sgd", 3, 0.5, false, ParamValue()}),
  };
  for (const auto& d : all) {
    Json j = d.to_json();
    EXPECT_EQ(Distribution::from_json(j), d) << j.dump();
    EXPECT_EQ(Distribution::from_json(Json::parse(j.dump())), d) << j.dump();
  }
}

TEST_F(DistributionTest, JsonFollowsOptunaNames) {
  Json f = Distribution::make_float(0.0, 1.0, false, 0.5).to_json();
  EXPECT_EQ(f["name"], "FloatDistribution");
  EXPECT_EQ(f["attributes"]["low"], 0.0);
  EXPECT_EQ(f["attributes"]["high"], 1.0);
  EXPECT_EQ(f["attributes"]["log"], false);
  EXPECT_EQ(f["attributes"]["step"], 0.5);
  EXPECT_TRUE(Distribution::make_float(0, 1).to_json()["attributes"]["step"].is_null());
  Json i = Distribution::make_int(1, 9, false, 2).to_json();
  EXPECT_EQ(i["name"], "IntDistribution");
  EXPECT_TRUE(i["attributes"]["low"].is_number_integer());
  EXPECT_EQ(i["attributes"]["step"], 2);
  Json c = Distribution::make_categorical({"a", 1}).to_json();
  EXPECT_EQ(c["name"], "CategoricalDistribution");
  EXPECT_EQ(c["attributes"]["choices"], Json::array({"a", 1}));
}

TEST_F(DistributionTest, FromJsonAcceptsOptunaOutputAndRejectsGarbage) {
  // As Optuna writes them: int attributes without step, float with step null.
  Json optuna_int = Json::parse(R"({"name": "IntDistribution", "attributes": {"low": 1, "high": 5, "log": false}})");
  EXPECT_EQ(Distribution::from_json(optuna_int), Distribution::make_int(1, 5));
  EXPECT_THROW(Distribution::from_json(Json::parse(R"({"name": "UniformDistribution", "attributes": {}})")),
               ValueError);
  EXPECT_THROW(Distribution::from_json(Json::parse(R"({"name": "FloatDistribution"})")), ValueError);
  EXPECT_THROW(Distribution::from_json(Json::parse(R"({"name": "FloatDistribution", "attributes": {"low": "a",
               "high": 1}})")), ValueError);
  EXPECT_THROW(Distribution::from_json(Json::parse(R"([1, 2])")), ValueError);
  // Invalid domains are rejected on the way in as well.
  EXPECT_THROW(
      Distribution::from_json(Json::parse(R"({"name": "FloatDistribution", "attributes": {"low": 2, "high": 1}})")),
      ValueError);
}

TEST_F(DistributionTest, EqualityComparesTheWholeDomain) {
  EXPECT_EQ(Distribution::make_float(0, 1), Distribution::make_float(0, 1));
  EXPECT_NE(Distribution::make_float(0, 1), Distribution::make_float(0, 2));
  EXPECT_NE(Distribution::make_float(1, 2), Distribution::make_float(1, 2, true));
  EXPECT_NE(Distribution::make_float(0, 1), Distribution::make_float(0, 1, false, 0.5));
  EXPECT_NE(Distribution::make_float(0, 3), Distribution::make_int(0, 3));
  EXPECT_NE(Distribution::make_categorical({"a", "b"}), Distribution::make_categorical({"b", "a"}));
}

TEST_F(DistributionTest, DescribeIsReadable) {
  EXPECT_EQ(Distribution::make_float(0.001, 0.1, true).describe(), "float in [0.001, 0.1] (log)");
  EXPECT_EQ(Distribution::make_int(1, 9, false, 2).describe(), "int in [1, 9] step 2");
  EXPECT_EQ(Distribution::make_int(1, 9).describe(), "int in [1, 9]");
  EXPECT_EQ(Distribution::make_categorical({"a", 1, true}).describe(), "categorical {a, 1, true}");
}

}  // namespace
}  // namespace nasforge
