#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "core/config.h"
#include "core/error.h"
#include "core/registry.h"
#include "testing.h"

namespace nasforge {
namespace {

using RegistryTest = testing::NasforgeTest;
using ::testing::HasSubstr;

// The ConfigError message of `f()`, or "" when it does not throw one.
template <typename F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const Catalog& fruit_catalog() {
  static const Catalog kCatalog("fruit", "name", {{"apple", "red or green"}, {"pear", "pear-shaped"}});
  return kCatalog;
}

// Builds the fruit a section names; `make` gets the reader and the chosen index, as a factory table's row would.
std::string build_fruit(const std::string& yaml, const std::function<void(SectionReader&, std::size_t)>& make) {
  ConfigNode root = ConfigNode::parse_string(yaml, "fruit.yaml");
  std::string chosen;
  fruit_catalog().build(root.get("fruit"), "apple", [&](SectionReader& options, std::size_t i) {
    chosen = fruit_catalog().entries()[i].name;
    make(options, i);
  });
  return chosen;
}

TEST_F(RegistryTest, CatalogListsNamesInOrderAndAsAHint) {
  EXPECT_EQ(fruit_catalog().names(), (std::vector<std::string>{"apple", "pear"}));
  EXPECT_EQ(fruit_catalog().hint(), "apple|pear");
  std::vector<std::string> seen;
  for (const auto& e : fruit_catalog()) seen.push_back(e.name + ": " + e.doc);
  EXPECT_EQ(seen, (std::vector<std::string>{"apple: red or green", "pear: pear-shaped"}));
}

TEST_F(RegistryTest, BuildPicksTheNamedEntryOrTheDefault) {
  auto nothing = [](SectionReader&, std::size_t) {};
  EXPECT_EQ(build_fruit("fruit: {name: pear}\n", nothing), "pear");
  EXPECT_EQ(build_fruit("fruit: {}\n", nothing), "apple");
  EXPECT_EQ(build_fruit("other: 1\n", nothing), "apple");  // an absent section reads as all defaults
}

TEST_F(RegistryTest, UnknownNameIsLocatedAndListsTheValidOnes) {
  std::string msg = config_error([] { build_fruit("fruit:\n  name: paer\n", [](SectionReader&, std::size_t) {}); });
  EXPECT_THAT(msg, HasSubstr("fruit.yaml:2"));
  EXPECT_THAT(msg, HasSubstr("unknown fruit 'paer'"));
  EXPECT_THAT(msg, HasSubstr("did you mean 'pear'"));
  EXPECT_THAT(msg, HasSubstr("available: apple, pear"));
}

TEST_F(RegistryTest, KeysTheFactoryDidNotDeclareAreRejected) {
  auto declares_size = [](SectionReader& o, std::size_t) { o.integer("size", 1, "how big"); };
  EXPECT_EQ(build_fruit("fruit: {name: pear, size: 3}\n", declares_size), "pear");
  std::string msg = config_error([&] { build_fruit("fruit: {name: pear, sise: 3}\n", declares_size); });
  EXPECT_THAT(msg, HasSubstr("unknown key 'sise'"));
  EXPECT_THAT(msg, HasSubstr("did you mean 'size'"));
}

TEST_F(RegistryTest, AValueErrorOfTheFactoryBecomesAConfigErrorAtTheSection) {
  std::string msg = config_error([] {
    build_fruit("x: 1\nfruit:\n  name: pear\n", [](SectionReader&, std::size_t) { throw ValueError("too ripe"); });
  });
  EXPECT_THAT(msg, HasSubstr("fruit.yaml:2"));  // the section's key
  EXPECT_THAT(msg, HasSubstr("key 'fruit'"));
  EXPECT_THAT(msg, HasSubstr("too ripe"));
}

TEST_F(RegistryTest, RangesDescribeThemselvesAndExcludeTheirOpenEnds) {
  EXPECT_EQ(Range::closed(1).describe(), ">= 1");
  EXPECT_EQ(Range::open(0).describe(), "> 0");
  EXPECT_EQ(Range::closed(2, 1000).describe(), "in [2, 1000]");
  EXPECT_EQ((Range{0, true, 1, false}).describe(), "in (0, 1]");
  EXPECT_EQ((Range{-std::numeric_limits<double>::infinity(), false, 6, false}).describe(), "<= 6");
  EXPECT_TRUE(Range::closed(0, 1).contains(0));
  EXPECT_TRUE(Range::closed(0, 1).contains(1));
  EXPECT_FALSE(Range::open(0, 1).contains(0));
  EXPECT_FALSE(Range::open(0, 1).contains(1));
  EXPECT_TRUE(Range::open(0, 1).contains(0.5));
  EXPECT_FALSE(Range::closed(0).contains(std::nan("")));
}

TEST_F(RegistryTest, OneKeyDeclarationChecksTheYamlAndTheConstructorAlike) {
  const IntKey trials{"n_trials", Range::closed(1, 100), "trials to run"};
  const NumberKey rate{"rate", Range::open(0, 1), "a fraction"};
  ConfigNode root = ConfigNode::parse_string("s:\n  n_trials: 0\n  rate: 0.5\n", "k.yaml");
  SectionReader r(root.get("s"));
  std::string msg = config_error([&] { r.integer(trials, 10); });
  EXPECT_THAT(msg, HasSubstr("k.yaml:2"));
  EXPECT_THAT(msg, HasSubstr("key 's.n_trials': must be in [1, 100], got 0"));
  EXPECT_DOUBLE_EQ(r.number(rate, std::nullopt), 0.5);
  EXPECT_THAT(r.docs().back().doc, HasSubstr("a fraction (in (0, 1))"));

  try {
    trials.check(101);
    ADD_FAILURE() << "101 was accepted";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "n_trials must be in [1, 100], got 101");
  }
  EXPECT_NO_THROW(trials.check(100));
  EXPECT_THROW(rate.check(1.0), ValueError);
}

}  // namespace
}  // namespace nasforge
