#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/strings.h"
#include "testing.h"

namespace nasforge {
namespace {

using StringsTest = testing::NasforgeTest;

TEST_F(StringsTest, EditDistanceCountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abcd"), 4u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("median", "medain"), 2u);  // a transposition is two edits
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
  // Symmetric.
  EXPECT_EQ(edit_distance("intention", "execution"), edit_distance("execution", "intention"));
  EXPECT_EQ(edit_distance("intention", "execution"), 5u);
}

TEST_F(StringsTest, NearestPicksTheClosestPlausibleCandidate) {
  std::vector<std::string> keys = {"low", "high", "step", "log", "choices"};
  EXPECT_EQ(nearest("hihg", keys), std::optional<std::string>("high"));
  EXPECT_EQ(nearest("choises", keys), std::optional<std::string>("choices"));
  EXPECT_EQ(nearest("lo", keys), std::optional<std::string>("low"));  // ties keep the first candidate
  EXPECT_FALSE(nearest("learning_rate", keys).has_value());          // too far to be a typo
  EXPECT_FALSE(nearest("x", {}).has_value());
}

TEST_F(StringsTest, NearestAllowsMoreEditsForLongerWords) {
  // Up to max(2, len / 3) edits: 3 edits are fine for a 12-letter word but not for a 6-letter one.
  EXPECT_TRUE(nearest("n_startup_tr", {"n_startup_trials"}).has_value());
  EXPECT_FALSE(nearest("abcxyz", {"abc"}).has_value());
}

TEST_F(StringsTest, DidYouMeanFormatsTheSuggestion) {
  EXPECT_EQ(did_you_mean("tpee", {"random", "tpe"}), " (did you mean 'tpe'?)");
  EXPECT_EQ(did_you_mean("completely_different", {"tpe"}), "");
}

TEST_F(StringsTest, JoinAndTrim) {
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a"}, ", "), "a");
  EXPECT_EQ(join({"a", "b", "c"}, "|"), "a|b|c");
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
}

TEST_F(StringsTest, FormatDoubleIsShortAndRoundTrips) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1e-5), "1e-05");
  EXPECT_EQ(format_double(3.0), "3");
  EXPECT_EQ(format_double(-2.5), "-2.5");
  EXPECT_EQ(format_double(std::nan("")), "nan");
  EXPECT_EQ(format_double(INFINITY), "inf");
  EXPECT_EQ(format_double(-INFINITY), "-inf");
  std::vector<double> tricky = {1.0 / 3,  0.1 + 0.2, 1e300, -1e-300, 5e-324, std::numeric_limits<double>::max(),
                                123456789.123456789, 0.0, 2.0 / 3 * 1e-7};
  for (double v : tricky) {
    auto back = parse_double(format_double(v));
    ASSERT_TRUE(back.has_value()) << format_double(v);
    EXPECT_EQ(*back, v) << format_double(v);
  }
  std::uniform_real_distribution<double> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-300, 300);
  for (int i = 0; i < 2000; ++i) {
    double v = unit(rng_) * std::pow(10.0, exponent(rng_));
    EXPECT_EQ(parse_double(format_double(v)), std::optional<double>(v)) << format_double(v);
  }
  // Special values round-trip too.
  EXPECT_TRUE(std::isnan(*parse_double(format_double(std::nan("")))));
  EXPECT_EQ(*parse_double(format_double(-INFINITY)), -INFINITY);
  EXPECT_TRUE(std::signbit(*parse_double(format_double(-0.0))));
}

TEST_F(StringsTest, ParseDoubleAcceptsNumbersAndSpecialNames) {
  EXPECT_EQ(parse_double("1.5"), std::optional<double>(1.5));
  EXPECT_EQ(parse_double("  -2e3 "), std::optional<double>(-2000.0));
  EXPECT_EQ(parse_double("7"), std::optional<double>(7.0));
  EXPECT_EQ(parse_double(".5"), std::optional<double>(0.5));
  EXPECT_EQ(parse_double("1."), std::optional<double>(1.0));
  for (const char* s : {"inf", "+inf", ".inf", "Infinity", ".INF"}) EXPECT_EQ(parse_double(s), INFINITY) << s;
  for (const char* s : {"-inf", "-.inf", "-Infinity"}) EXPECT_EQ(parse_double(s), -INFINITY) << s;
  for (const char* s : {"nan", "NaN", ".nan", ".NaN"}) {
    auto v = parse_double(s);
    ASSERT_TRUE(v.has_value()) << s;
    EXPECT_TRUE(std::isnan(*v)) << s;
  }
}

TEST_F(StringsTest, ParseDoubleRejectsAnythingElse) {
  for (const char* s : {"", "   ", "abc", "1.5x", "1,5", "1 2", "--1", "e5", "1e", "nan1", "in f"}) {
    EXPECT_FALSE(parse_double(s).has_value()) << "'" << s << "'";
  }
}

TEST_F(StringsTest, ParseIntAcceptsWholeIntegersOnly) {
  EXPECT_EQ(parse_int("42"), std::optional<long long>(42));
  EXPECT_EQ(parse_int("-7"), std::optional<long long>(-7));
  EXPECT_EQ(parse_int("+7"), std::optional<long long>(7));
  EXPECT_EQ(parse_int(" 12 "), std::optional<long long>(12));
  EXPECT_EQ(parse_int("-0"), std::optional<long long>(0));
  EXPECT_EQ(parse_int("9223372036854775807"), std::optional<long long>(std::numeric_limits<long long>::max()));
  EXPECT_EQ(parse_int("-9223372036854775808"), std::optional<long long>(std::numeric_limits<long long>::min()));
  for (const char* s : {"", " ", "1.0", "2.5", "1e3", "12abc", "abc", "9223372036854775808",
                        "-9223372036854775809", "1 2", "inf", "nan"}) {
    EXPECT_FALSE(parse_int(s).has_value()) << "'" << s << "'";
  }
}

TEST_F(StringsTest, InvalidUtf8OffsetFindsTheFirstBadByte) {
  EXPECT_EQ(invalid_utf8_offset("plain ascii"), std::nullopt);
  EXPECT_EQ(invalid_utf8_offset("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), std::nullopt);  // é € 😀
  EXPECT_EQ(invalid_utf8_offset("ab\xff"), 2u);
  EXPECT_EQ(invalid_utf8_offset("x\xe9y"), 1u);            // Latin-1 é
  EXPECT_EQ(invalid_utf8_offset("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("\xed\xa0\x80"), 0u);      // UTF-16 surrogate
  EXPECT_EQ(invalid_utf8_offset("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ok\xe2\x82"), 2u);        // cut short
}

}  // namespace
}  // namespace nasforge
