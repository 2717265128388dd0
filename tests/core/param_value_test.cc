#include <cmath>
#include <string>

#include "core/error.h"
#include "core/param_value.h"
#include "testing.h"

namespace nasforge {
namespace {

using ParamValueTest = testing::NasforgeTest;

TEST_F(ParamValueTest, HoldsEachScalarType) {
  EXPECT_TRUE(ParamValue().is_null());
  EXPECT_TRUE(ParamValue(true).is_bool());
  EXPECT_TRUE(ParamValue(3).is_int());
  EXPECT_TRUE(ParamValue(std::int64_t{1} << 40).is_int());
  EXPECT_TRUE(ParamValue(2.5).is_double());
  EXPECT_TRUE(ParamValue("x").is_string());
  EXPECT_TRUE(ParamValue(std::string("y")).is_string());
  EXPECT_TRUE(ParamValue(3).is_number());
  EXPECT_TRUE(ParamValue(2.5).is_number());
  EXPECT_FALSE(ParamValue("3").is_number());
  EXPECT_FALSE(ParamValue(true).is_number());
  EXPECT_STREQ(ParamValue().type_name(), "null");
  EXPECT_STREQ(ParamValue(false).type_name(), "bool");
  EXPECT_STREQ(ParamValue(1).type_name(), "int");
  EXPECT_STREQ(ParamValue(1.0).type_name(), "float");
  EXPECT_STREQ(ParamValue("s").type_name(), "string");
}

TEST_F(ParamValueTest, AccessorsConvertNumbersAndRejectTheRest) {
  EXPECT_EQ(ParamValue(7).as_double(), 7.0);
  EXPECT_EQ(ParamValue(4.0).as_int(), 4);  // integral floats are accepted as integers
  EXPECT_EQ(ParamValue(-3).as_int(), -3);
  EXPECT_TRUE(ParamValue(true).as_bool());
  EXPECT_EQ(ParamValue("abc").as_string(), "abc");
  EXPECT_THROW(ParamValue(2.5).as_int(), ValueError);
  EXPECT_THROW(ParamValue(INFINITY).as_int(), ValueError);
  EXPECT_THROW(ParamValue(std::nan("")).as_int(), ValueError);
  // Beyond int64 the conversion would be undefined behaviour; the largest double below 2^63 still converts.
  EXPECT_THROW(ParamValue(1e300).as_int(), ValueError);
  EXPECT_THROW(ParamValue(0x1p63).as_int(), ValueError);
  EXPECT_EQ(ParamValue(-0x1p63).as_int(), INT64_MIN);
  EXPECT_THROW(ParamValue("1").as_int(), ValueError);
  EXPECT_THROW(ParamValue(1).as_bool(), ValueError);
  EXPECT_THROW(ParamValue(true).as_double(), ValueError);
  EXPECT_THROW(ParamValue(1).as_string(), ValueError);
  EXPECT_THROW(ParamValue().as_double(), ValueError);
}

TEST_F(ParamValueTest, ErrorsNameTheTypeAndValue) {
  try {
    ParamValue(2.5).as_int();
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("float"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'2.5'"), std::string::npos) << msg;
  }
  try {
    ParamValue("relu").as_double();
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("string"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'relu'"), std::string::npos) << msg;
  }
}

TEST_F(ParamValueTest, ToStringIsReadable) {
  EXPECT_EQ(ParamValue().to_string(), "null");
  EXPECT_EQ(ParamValue(true).to_string(), "true");
  EXPECT_EQ(ParamValue(false).to_string(), "false");
  EXPECT_EQ(ParamValue(-12).to_string(), "-12");
  EXPECT_EQ(ParamValue(0.1).to_string(), "0.1");
  EXPECT_EQ(ParamValue(2.0).to_string(), "2");
  EXPECT_EQ(ParamValue(INFINITY).to_string(), "inf");
  EXPECT_EQ(ParamValue("a b").to_string(), "a b");
}

TEST_F(ParamValueTest, EqualityIsTypeStrictAndNaNSafe) {
  EXPECT_EQ(ParamValue(1), ParamValue(std::int64_t{1}));
  EXPECT_NE(ParamValue(1), ParamValue(1.0));
  EXPECT_NE(ParamValue(1), ParamValue("1"));
  EXPECT_NE(ParamValue(true), ParamValue(1));
  EXPECT_NE(ParamValue(), ParamValue(0));
  EXPECT_EQ(ParamValue(), ParamValue());
  EXPECT_EQ(ParamValue(std::nan("")), ParamValue(std::nan("")));
  EXPECT_NE(ParamValue(std::nan("")), ParamValue(1.0));
  EXPECT_EQ(ParamValue(0.0), ParamValue(-0.0));
  EXPECT_EQ(ParamValue("a"), ParamValue(std::string("a")));
  EXPECT_NE(ParamValue("a"), ParamValue("b"));
}

TEST_F(ParamValueTest, JsonRoundTripKeepsTypes) {
  const ParamValue values[] = {ParamValue(), ParamValue(true), ParamValue(-5), ParamValue(std::int64_t{1} << 53),
                               ParamValue(0.25), ParamValue(1e-300), ParamValue(3.0), ParamValue("text")};
  for (const auto& v : values) {
    Json j = v.to_json();
    ParamValue back = ParamValue::from_json(j);
    EXPECT_EQ(back, v) << v.to_string() << " -> " << j.dump();
    // Through text as well, as storage does.
    EXPECT_EQ(ParamValue::from_json(Json::parse(j.dump())), v) << j.dump();
  }
  EXPECT_TRUE(ParamValue(3.0).to_json().is_number_float());
  EXPECT_TRUE(ParamValue(3).to_json().is_number_integer());
}

TEST_F(ParamValueTest, NonFiniteFloatsBecomeJsonStrings) {
  // JSON has no NaN or infinity; writing them as numbers would produce invalid JSON.
  EXPECT_EQ(ParamValue(INFINITY).to_json(), Json("inf"));
  EXPECT_EQ(ParamValue(std::nan("")).to_json(), Json("nan"));
  EXPECT_NO_THROW(Json::parse(ParamValue(-INFINITY).to_json().dump()));
}

TEST_F(ParamValueTest, FromJsonRejectsContainers) {
  EXPECT_THROW(ParamValue::from_json(Json::array({1, 2})), ValueError);
  EXPECT_THROW(ParamValue::from_json(Json::object({{"a", 1}})), ValueError);
  EXPECT_EQ(ParamValue::from_json(Json(std::uint64_t{7})), ParamValue(7));
}

}  // namespace
}  // namespace nasforge
