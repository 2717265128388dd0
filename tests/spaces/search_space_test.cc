#include <algorithm>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "spaces/search_space.h"
#include "testing.h"

namespace nasforge {
namespace {

class SearchSpaceTest : public testing::NasforgeTest {
 protected:
  static SearchSpace parse(const std::string& yaml) {
    return SearchSpace::from_config(ConfigNode::parse_string(yaml, "space.yaml").get("space"));
  }

  // The ConfigError message for `yaml`, or "" when it parses.
  static std::string error_of(const std::string& yaml) {
    try {
      parse(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  // 1-based line of the first line of `text` containing `marker`, so expectations follow the YAML as written.
  static int line_of(const std::string& text, const std::string& marker) {
    std::size_t at = text.find(marker);
    EXPECT_NE(at, std::string::npos) << marker;
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  }

  // Checks that parsing `yaml` fails naming the file, the line holding `marker`, the key path and `fragments`.
  static void expect_error(const std::string& yaml, const std::string& marker, const std::string& path,
                           const std::vector<std::string>& fragments) {
    std::string msg = error_of(yaml);
    ASSERT_FALSE(msg.empty()) << "no error for:\n" << yaml;
    EXPECT_NE(msg.find("space.yaml:" + std::to_string(line_of(yaml, marker)) + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find("key '" + path + "'"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in " << msg;
  }

  static const char* full_space() {
    return "study: demo\n"
           "space:\n"
           "  lr: {type: float, low: 1.0e-5, high: 0.1, log: true}\n"
           "  dropout: {type: float, low: 0.0, high: 0.5, step: 0.1}\n"
           "  layers: {type: int, low: 1, high: 4}\n"
           "  width: {type: int, low: 16, high: 256, step: 16}\n"
           "  units: {type: int, low: 8, high: 512, log: true}\n"
           "  mixed: [relu, 1, 2.5, true, null, '3']\n"
           "  optimizer:\n"
           "    type: categorical\n"
           "    choices: [sgd, adam, rmsprop]\n"
           "    doc: which optimizer\n"
           "  momentum:\n"
           "    type: float\n"
           "    low: 0.0\n"
           "    high: 0.99\n"
           "    when: {optimizer: [sgd, rmsprop]}\n"
           "  nesterov:\n"
           "    choices: [true, false]\n"
           "    when: {optimizer: sgd, layers: [3, 4]}\n";
  }
};

// ---- parsing ----

TEST_F(SearchSpaceTest, ParsesEveryKindOfParameter) {
  SearchSpace space = parse(full_space());
  EXPECT_EQ(space.names(), (std::vector<std::string>{"lr", "dropout", "layers", "width", "units", "mixed",
                                                     "optimizer", "momentum", "nesterov"}));
  EXPECT_EQ(space.at("lr").distribution, Distribution::make_float(1e-5, 0.1, true));
  EXPECT_EQ(space.at("dropout").distribution, Distribution::make_float(0.0, 0.5, false, 0.1));
  EXPECT_EQ(space.at("layers").distribution, Distribution::make_int(1, 4));
  EXPECT_EQ(space.at("width").distribution, Distribution::make_int(16, 256, false, 16));
  EXPECT_EQ(space.at("units").distribution, Distribution::make_int(8, 512, true));
  EXPECT_EQ(space.at("mixed").distribution,
            Distribution::make_categorical({"relu", 1, 2.5, true, ParamValue(), "3"}));
  EXPECT_EQ(space.at("optimizer").distribution, Distribution::make_categorical({"sgd", "adam", "rmsprop"}));
  EXPECT_EQ(space.at("optimizer").doc, "which optimizer");
  EXPECT_EQ(space.at("nesterov").distribution, Distribution::make_categorical({true, false}));
  EXPECT_EQ(space.at("optimizer").location.line, 9);
  EXPECT_EQ(space.at("optimizer").location.file, "space.yaml");
}

TEST_F(SearchSpaceTest, ParsesConditions) {
  SearchSpace space = parse(full_space());
  EXPECT_TRUE(space.at("lr").when.empty());
  const auto& momentum = space.at("momentum").when;
  ASSERT_EQ(momentum.size(), 1u);
  EXPECT_EQ(momentum[0].parent, "optimizer");
  EXPECT_EQ(momentum[0].values, (std::vector<ParamValue>{"sgd", "rmsprop"}));
  const auto& nesterov = space.at("nesterov").when;
  ASSERT_EQ(nesterov.size(), 2u);
  EXPECT_EQ(nesterov[1].parent, "layers");
  EXPECT_EQ(nesterov[1].values, (std::vector<ParamValue>{3, 4}));
}

TEST_F(SearchSpaceTest, ListOfValuesIsAnyOfAndClausesAreAnded) {
  SearchSpace space = parse(full_space());
  const ParamSpec& momentum = space.at("momentum");
  const ParamSpec& nesterov = space.at("nesterov");
  EXPECT_TRUE(space.is_active(momentum, {{"optimizer", "sgd"}}));
  EXPECT_TRUE(space.is_active(momentum, {{"optimizer", "rmsprop"}}));
  EXPECT_FALSE(space.is_active(momentum, {{"optimizer", "adam"}}));
  EXPECT_FALSE(space.is_active(momentum, {}));  // parent not assigned
  EXPECT_TRUE(space.is_active(nesterov, {{"optimizer", "sgd"}, {"layers", 3}}));
  EXPECT_FALSE(space.is_active(nesterov, {{"optimizer", "sgd"}, {"layers", 2}}));
  EXPECT_FALSE(space.is_active(nesterov, {{"optimizer", "adam"}, {"layers", 4}}));
  EXPECT_FALSE(space.is_active(nesterov, {{"optimizer", "sgd"}}));
  EXPECT_TRUE(space.is_active(space.at("lr"), {}));
}

TEST_F(SearchSpaceTest, ConditionValuesAreNormalisedToTheParentsType) {
  SearchSpace space = parse(
      "space:\n"
      "  layers: {type: int, low: 1, high: 4}\n"
      "  extra: {type: float, low: 0, high: 1, when: {layers: 3.0}}\n");
  EXPECT_TRUE(space.is_active(space.at("extra"), {{"layers", 3}}));
}

TEST_F(SearchSpaceTest, ParentsComeBeforeChildrenWhateverTheFileOrder) {
  SearchSpace space = parse(
      "space:\n"
      "  c: {type: float, low: 0, high: 1, when: {b: yes}}\n"
      "  x: {type: int, low: 0, high: 3}\n"
      "  b: {choices: [yes, no], when: {a: on}}\n"
      "  a: [on, off]\n");
  EXPECT_EQ(space.names(), (std::vector<std::string>{"a", "b", "c", "x"}));
  EXPECT_EQ(space.params().front().name, "a");
}

TEST_F(SearchSpaceTest, TypeIsImpliedByChoices) {
  SearchSpace space = parse("space:\n  act: {choices: [relu, gelu]}\n");
  EXPECT_EQ(space.at("act").distribution.kind(), DistributionKind::kCategorical);
}

// ---- malformed spaces: every error names file, line, key and value ----

TEST_F(SearchSpaceTest, LowAboveHigh) {
  std::string yaml = "space:\n  lr:\n    type: float\n    low: 5\n    high: 1\n";
  expect_error(yaml, "low: 5", "space.lr.low", {"'5'", "low must be <= high"});
  std::string ints = "space:\n  n: {type: int, low: 9, high: 2}\n";
  expect_error(ints, "n:", "space.n.low", {"'9'"});
}

TEST_F(SearchSpaceTest, LogWithNonPositiveLow) {
  std::string yaml = "space:\n  lr:\n    type: float\n    log: true\n    low: 0\n    high: 1\n";
  expect_error(yaml, "low: 0", "space.lr.low", {"'0'", "log"});
  std::string ints = "space:\n  n:\n    type: int\n    low: -2\n    high: 8\n    log: true\n";
  expect_error(ints, "low: -2", "space.n.low", {"'-2'", "log"});
}

TEST_F(SearchSpaceTest, EmptyChoices) {
  std::string yaml = "space:\n  ok: [a]\n  act:\n    type: categorical\n    choices: []\n";
  expect_error(yaml, "choices: []", "space.act.choices", {"empty"});
  std::string shorthand = "space:\n  ok: [a]\n  act: []\n";
  expect_error(shorthand, "act: []", "space.act", {"empty"});
  std::string missing = "space:\n  act:\n    type: categorical\n";
  expect_error(missing, "act:", "space.act.choices", {"required"});
}

TEST_F(SearchSpaceTest, DuplicateChoices) {
  std::string yaml = "space:\n  act:\n    choices: [relu, tanh, relu]\n";
  expect_error(yaml, "choices:", "space.act.choices", {"'relu' twice"});
  expect_error("space:\n  act: [a, a]\n", "act:", "space.act", {"'a' twice"});
}

TEST_F(SearchSpaceTest, NonFiniteBoundIsReportedAtItsOwnKey) {
  // low: .nan was reported against high.
  expect_error("space:\n  x:\n    type: float\n    low: .nan\n    high: 1\n", "low: .nan", "space.x.low",
               {"'.nan'", "finite"});
  expect_error("space:\n  x:\n    type: float\n    low: 0\n    high: -.inf\n", "high: -.inf", "space.x.high",
               {"'-.inf'", "finite"});
}

TEST_F(SearchSpaceTest, UnrepresentableNumbersAreRefused) {
  expect_error("space:\n  n:\n    type: int\n    low: 0\n    high: 9007199254740993\n", "high: 9007", "space.n.high",
               {"'9007199254740993'", "2^53 = ±9007199254740992"});
  expect_error("space:\n  n:\n    type: int\n    low: -9223372036854775808\n    high: 9223372036854775807\n",
               "low: -9223", "space.n.low", {"'-9223372036854775808'", "cannot be stored exactly"});
  expect_error("space:\n  x:\n    type: float\n    low: -1.0e+308\n    high: 1.0e+308\n", "high: 1.0e", "space.x.high",
               {"'1.0e+308'", "overflows to inf"});
  expect_error("space:\n  x:\n    type: float\n    low: 0\n    high: 1\n    step: 1.0e-300\n", "step:", "space.x.step",
               {"'1.0e-300'", "2^53 grid points"});
}

TEST_F(SearchSpaceTest, StepThatDoesNotDivideTheRange) {
  std::string yaml = "space:\n  x:\n    type: float\n    low: 0\n    high: 1\n    step: 0.3\n";
  expect_error(yaml, "step: 0.3", "space.x.step", {"'0.3'", "does not divide"});
  std::string ints = "space:\n  n:\n    type: int\n    low: 0\n    high: 10\n    step: 3\n";
  expect_error(ints, "step: 3", "space.n.step", {"'3'", "does not divide"});
  std::string with_log = "space:\n  x:\n    type: float\n    low: 1\n    high: 2\n    log: true\n    step: 0.5\n";
  expect_error(with_log, "step: 0.5", "space.x.step", {"'0.5'", "step and log"});
}

TEST_F(SearchSpaceTest, WhenNamingAnUnknownParameter) {
  std::string yaml =
      "space:\n"
      "  optimizer: [sgd, adam]\n"
      "  momentum:\n"
      "    type: float\n"
      "    low: 0\n"
      "    high: 1\n"
      "    when:\n"
      "      optimzer: sgd\n";
  expect_error(yaml, "optimzer:", "space.momentum.when.optimzer",
               {"'optimzer'", "did you mean 'optimizer'", "optimizer, momentum"});
}

TEST_F(SearchSpaceTest, WhenWithAValueTheParentNeverTakes) {
  std::string yaml =
      "space:\n"
      "  optimizer: [sgd, adam]\n"
      "  momentum:\n"
      "    type: float\n"
      "    low: 0\n"
      "    high: 1\n"
      "    when: {optimizer: adamw}\n";
  expect_error(yaml, "when:", "space.momentum.when", {"'adamw'", "optimizer"});
}

TEST_F(SearchSpaceTest, WhenMustBeANonEmptyMapping) {
  expect_error("space:\n  a: [x, y]\n  b: {choices: [1, 2], when: sgd}\n", "b:", "space.b.when", {"'sgd'"});
  // It said "expected a mapping, got a mapping".
  std::string msg = error_of("space:\n  a: [x, y]\n  b: {choices: [1, 2], when: {}}\n");
  EXPECT_NE(msg.find("the condition is empty"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("got a mapping"), std::string::npos) << msg;
  expect_error("space:\n  a: [x, y]\n  b: {choices: [1, 2], when: {a: []}}\n", "b:", "space.b.when.a", {"empty"});
}

TEST_F(SearchSpaceTest, ConditionCycles) {
  std::string yaml =
      "space:\n"
      "  a:\n"
      "    choices: [x, y]\n"
      "    when: {b: x}\n"
      "  b:\n"
      "    choices: [x, y]\n"
      "    when: {a: y}\n";
  expect_error(yaml, "when: {b: x}", "space.a.when", {"cycle", "'a'"});
  std::string self = "space:\n  a:\n    choices: [x, y]\n    when: {a: x}\n";
  expect_error(self, "when: {a: x}", "space.a.when.a", {"itself"});
}

TEST_F(SearchSpaceTest, UnknownType) {
  std::string yaml = "space:\n  x:\n    type: flaot\n    low: 0\n    high: 1\n";
  expect_error(yaml, "type: flaot", "space.x.type", {"'flaot'", "did you mean 'float'", "float, int, categorical"});
}

TEST_F(SearchSpaceTest, MissingType) {
  std::string yaml = "space:\n  ok: [a]\n  x:\n    low: 0\n    high: 1\n";
  expect_error(yaml, "x:", "space.x.type", {"required", "type: float"});
}

TEST_F(SearchSpaceTest, UnknownKey) {
  std::string yaml = "space:\n  x:\n    type: float\n    low: 0\n    hihg: 1\n    high: 2\n";
  expect_error(yaml, "hihg", "space.x.hihg", {"unknown key 'hihg'", "did you mean 'high'"});
}

TEST_F(SearchSpaceTest, MissingBound) {
  expect_error("space:\n  x:\n    type: int\n    low: 0\n", "x:", "space.x.high", {"required"});
}

TEST_F(SearchSpaceTest, BadScalarTypes) {
  expect_error("space:\n  x: {type: int, low: 0, high: 2.5}\n", "x:", "space.x.high", {"'2.5'", "integer"});
  expect_error("space:\n  x: {type: float, low: zero, high: 1}\n", "x:", "space.x.low", {"'zero'", "number"});
  expect_error("space:\n  x: {type: float, low: 0, high: 1, log: maybe}\n", "x:", "space.x.log", {"'maybe'"});
  expect_error("space:\n  x: {type: float, low: 0, high: 1, choices: [1]}\n", "x:", "space.x.choices",
               {"categorical"});
}

TEST_F(SearchSpaceTest, ParameterMustBeAMappingOrAList) {
  expect_error("space:\n  ok: [a]\n  x: 5\n", "x: 5", "space.x", {"'5'", "expected a parameter"});
}

TEST_F(SearchSpaceTest, DuplicateParameter) {
  expect_error("space:\n  x: [a]\n  y: [b]\n  x: [c]\n", "x: [c]", "space.x", {"duplicate key 'x'"});
}

TEST_F(SearchSpaceTest, EmptyOrMissingSpace) {
  expect_error("study: s\nspace: {}\n", "space:", "space", {"at least one parameter"});
  EXPECT_NE(error_of("study: s\n").find("key 'space'"), std::string::npos);
  EXPECT_NE(error_of("space: [a, b]\n").find("a mapping"), std::string::npos);
}

// ---- programmatic use and validation ----

TEST_F(SearchSpaceTest, LookupsAndAdd) {
  SearchSpace space = parse(full_space());
  EXPECT_EQ(space.find("nope"), nullptr);
  ASSERT_NE(space.find("layers"), nullptr);
  try {
    space.at("layer");
    FAIL() << "expected NotFoundError";
  } catch (const NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'layers'"), std::string::npos) << e.what();
  }
  SearchSpace built;
  EXPECT_TRUE(built.empty());
  built.add(ParamSpec{"opt", Distribution::make_categorical({"a", "b"}), {}, "", {}});
  EXPECT_THROW(built.add(ParamSpec{"opt", Distribution::make_int(0, 1), {}, "", {}}), ValueError);
  EXPECT_THROW(built.add(ParamSpec{"child", Distribution::make_int(0, 1), {{"ghost", {"a"}}}, "", {}}), ValueError);
  EXPECT_THROW(built.add(ParamSpec{"child", Distribution::make_int(0, 1), {{"opt", {"c"}}}, "", {}}), ValueError);
  built.add(ParamSpec{"child", Distribution::make_int(0, 1), {{"opt", {"b"}}}, "", {}});
  EXPECT_EQ(built.names(), (std::vector<std::string>{"opt", "child"}));
}

TEST_F(SearchSpaceTest, ValidateAcceptsCompleteAndPartialAssignments) {
  SearchSpace space = parse(full_space());
  ParamMap adam = {{"lr", 0.01},       {"dropout", 0.2},  {"layers", 3},  {"width", 64},
                   {"units", 100},     {"mixed", 2.5},    {"optimizer", "adam"}};
  EXPECT_EQ(space.validate(adam, true), adam);
  ParamMap sgd = adam;
  sgd["optimizer"] = "sgd";
  sgd["momentum"] = 0.9;
  sgd["nesterov"] = true;
  EXPECT_EQ(space.validate(sgd, true), sgd);
  // Partial assignments are fine unless completeness is required.
  ParamMap partial = {{"lr", 0.01}, {"optimizer", "sgd"}};
  EXPECT_EQ(space.validate(partial, false), partial);
  EXPECT_THROW(space.validate(partial, true), ValueError);
}

TEST_F(SearchSpaceTest, ValidateNormalisesNumbers) {
  SearchSpace space = parse(full_space());
  ParamMap out = space.validate({{"layers", 2.0}, {"dropout", 0}, {"mixed", 1.0}}, false);
  EXPECT_EQ(out.at("layers"), ParamValue(2));  // an integral float becomes the int parameter's int
  EXPECT_TRUE(out.at("layers").is_int());
  EXPECT_EQ(out.at("dropout"), ParamValue(0.0));  // an int becomes the float parameter's float
  EXPECT_TRUE(out.at("dropout").is_double());
  EXPECT_EQ(out.at("mixed"), ParamValue(1));  // the categorical's own choice
}

TEST_F(SearchSpaceTest, ValidateNamesEachProblem) {
  SearchSpace space = parse(full_space());
  auto message = [&](const ParamMap& params, bool complete) -> std::string {
    try {
      space.validate(params, complete);
    } catch (const ValueError& e) {
      return e.what();
    }
    return "";
  };
  std::string unknown = message({{"lrr", 0.01}}, false);
  EXPECT_NE(unknown.find("'lrr'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'lr'"), std::string::npos) << unknown;
  std::string outside = message({{"layers", 9}}, false);
  EXPECT_NE(outside.find("'layers'"), std::string::npos) << outside;
  EXPECT_NE(outside.find("'9'"), std::string::npos) << outside;
  std::string inactive = message({{"optimizer", "adam"}, {"momentum", 0.5}}, false);
  EXPECT_NE(inactive.find("'momentum'"), std::string::npos) << inactive;
  EXPECT_NE(inactive.find("inactive"), std::string::npos) << inactive;
  std::string orphan = message({{"momentum", 0.5}}, false);  // its parent is not given at all
  EXPECT_NE(orphan.find("inactive"), std::string::npos) << orphan;
  std::string missing = message({{"lr", 0.01}}, true);
  EXPECT_NE(missing.find("is missing"), std::string::npos) << missing;
  std::string wrong_choice = message({{"optimizer", "adamw"}}, false);
  EXPECT_NE(wrong_choice.find("'adamw'"), std::string::npos) << wrong_choice;
}

}  // namespace
}  // namespace nasforge
