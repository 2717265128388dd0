#include "spaces/architecture.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/strings.h"
#include "spaces/nasbench201.h"
#include "spaces/search_space.h"
#include "testing.h"

namespace nasforge {
namespace {

class ArchitectureTest : public testing::NasforgeTest {
 protected:
  static std::shared_ptr<const ArchitectureSpace> make(const std::string& yaml) {
    return make_architecture(ConfigNode::parse_string(yaml, "study.yaml").get("architecture"));
  }

  // The ConfigError message for `yaml`, or "" when it is accepted.
  static std::string config_error(const std::string& yaml) {
    try {
      make(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  // The message of the ValueError that `fn` throws, or "" when it throws none.
  template <typename Fn>
  static std::string value_error(Fn fn) {
    try {
      fn();
    } catch (const ValueError& e) {
      return e.what();
    }
    return "";
  }

  // The parameters as a SearchSpace; add() rejects conditions on unknown parents or impossible values.
  static SearchSpace space_of(const ArchitectureSpace& arch) {
    SearchSpace space;
    for (const auto& p : arch.parameters()) space.add(p);
    return space;
  }

  // A uniformly random assignment of the active parameters, parents first (a random sampler's behaviour).
  ParamMap sample(const SearchSpace& space) {
    ParamMap out;
    for (const auto& spec : space.params()) {
      if (!space.is_active(spec, out)) continue;
      const auto& choices = spec.distribution.choices();
      out[spec.name] = choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng_)];
    }
    return out;
  }

  static const NetNode* node_named(const NetGraph& g, const std::string& name) {
    for (const auto& n : g.nodes()) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

  static ParamMap cell_params(const std::vector<std::string>& ops) {
    ParamMap p;
    for (std::size_t e = 0; e < 6; ++e) p[nasbench201_edges()[e]] = ops[e];
    return p;
  }
};

void expect_contains(const std::string& text, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(text.empty()) << "expected an error";
  for (const auto& f : fragments) EXPECT_NE(text.find(f), std::string::npos) << "missing '" << f << "' in: " << text;
}

// ---------------------------------------------------------------- registry

TEST_F(ArchitectureTest, CatalogListsBothTypes) {
  std::vector<std::string> names;
  for (const auto& info : architecture_catalog()) {
    names.push_back(info.name);
    EXPECT_FALSE(info.doc.empty()) << info.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"chain", "cell"}));
  EXPECT_EQ(make("architecture: {type: cell}\n")->type(), "cell");
  EXPECT_EQ(make("architecture:\n  type: chain\n  stages: [{depth: [1], widths: [8]}]\n")->type(), "chain");
}

TEST_F(ArchitectureTest, UnknownTypeNamesFileLineAndValidTypes) {
  expect_contains(config_error("study: x\narchitecture:\n  type: chian\n"),
                  {"study.yaml:3:", "key 'architecture.type'", "unknown architecture type 'chian'",
                   "did you mean 'chain'", "available: chain, cell"});
  expect_contains(config_error("study: x\narchitecture:\n  channels: 4\n"),
                  {"study.yaml:", "key 'architecture.type'", "is required"});
  expect_contains(config_error("study: x\n"), {"key 'architecture'", "is required"});
}

TEST_F(ArchitectureTest, UnknownKeysAreRejectedWithSuggestion) {
  expect_contains(config_error("architecture:\n  type: cell\n  chanels: 8\n"),
                  {"study.yaml:3:", "unknown key 'chanels'", "did you mean 'channels'"});
  expect_contains(config_error("architecture:\n  type: chain\n  stages:\n    - {depth: [1], widths: [8], strid: 2}\n"),
                  {"study.yaml:4:", "unknown key 'strid'", "did you mean 'stride'"});
  expect_contains(config_error("architecture:\n  type: chain\n  stages: [{depth: [1], widths: [8]}]\n"
                               "  head: {channels: 8, dropuot: 0.1}\n"),
                  {"study.yaml:4:", "unknown key 'dropuot'", "did you mean 'dropout'"});
}

TEST_F(ArchitectureTest, ChainConfigValuesAreChecked) {
  const std::string head = "architecture:\n  type: chain\n  stages: [{depth: [1, 2], widths: [8]}]\n";
  expect_contains(config_error(head + "  kernels: [3, 4]\n"), {"study.yaml:4:", "must be odd", "got 4"});
  expect_contains(config_error(head + "  ops: [skip]\n"), {"study.yaml:4:", "other than skip"});
  expect_contains(config_error(head + "  ops: [mbconv, mbconv]\n"), {"listed twice"});
  expect_contains(config_error(head + "  ops: [mbconf]\n"), {"unknown chain op 'mbconf'", "did you mean 'mbconv'"});
  expect_contains(config_error(head + "  se: maybe\n"), {"study.yaml:4:", "expected true, false or search", "maybe"});
  expect_contains(config_error(head + "  activation: gelu\n"), {"study.yaml:4:", "gelu", "relu6"});
  expect_contains(config_error("architecture:\n  type: chain\n  stages: [{depth: [0], widths: [8]}]\n"),
                  {"study.yaml:3:", "must be >= 1, got 0"});
  expect_contains(config_error("architecture:\n  type: chain\n  stages: [{depth: [1], widths: [8], stride: 3}]\n"),
                  {"study.yaml:3:", "must be 1 or 2, got 3"});
  expect_contains(config_error("architecture:\n  type: chain\n"), {"key 'architecture.stages'", "is required"});
  expect_contains(config_error("architecture:\n  type: chain\n  stages: [{widths: [8]}]\n"), {"depth", "is required"});
}

// ---------------------------------------------------------------- chain: parameters

TEST_F(ArchitectureTest, ChainParametersCarryDepthAndOpConditions) {
  auto arch = make(
      "architecture:\n  type: chain\n  se: search\n"
      "  stages: [{depth: [1, 3], widths: [8, 16], stride: 2}]\n");
  std::vector<std::string> names;
  for (const auto& p : arch->parameters()) names.push_back(p.name);
  std::vector<std::string> expected = {"s1.depth"};
  for (int b = 0; b < 3; ++b) {
    std::string blk = "s1.b" + std::to_string(b);
    for (const char* f : {".op", ".kernel", ".expand", ".width", ".se"}) expected.push_back(blk + f);
  }
  EXPECT_EQ(names, expected);

  SearchSpace space = space_of(*arch);
  EXPECT_EQ(space.at("s1.depth").distribution.choices(), (std::vector<ParamValue>{1, 3}));
  // Block 0 sets the stride and width: never skip, and unconditional.
  EXPECT_EQ(space.at("s1.b0.op").distribution.choices(), (std::vector<ParamValue>{"conv", "dwsep", "mbconv"}));
  EXPECT_TRUE(space.at("s1.b0.op").when.empty());
  EXPECT_TRUE(space.at("s1.b0.kernel").when.empty());  // every block-0 op has a kernel
  ASSERT_EQ(space.at("s1.b0.expand").when.size(), 1u);
  EXPECT_EQ(space.at("s1.b0.expand").when[0].parent, "s1.b0.op");
  EXPECT_EQ(space.at("s1.b0.expand").when[0].values, (std::vector<ParamValue>{"mbconv"}));
  EXPECT_EQ(space.at("s1.b1.op").distribution.choices(), (std::vector<ParamValue>{"conv", "dwsep", "mbconv", "skip"}));
  ASSERT_EQ(space.at("s1.b1.op").when.size(), 1u);
  EXPECT_EQ(space.at("s1.b1.op").when[0].parent, "s1.depth");
  EXPECT_EQ(space.at("s1.b1.op").when[0].values, (std::vector<ParamValue>{3}));
  ASSERT_EQ(space.at("s1.b2.se").when.size(), 2u);
  EXPECT_EQ(space.at("s1.b2.se").when[1].values, (std::vector<ParamValue>{"dwsep", "mbconv"}));
  EXPECT_EQ(space.at("s1.b2.se").distribution.choices(), (std::vector<ParamValue>{false, true}));
  EXPECT_EQ(space.at("s1.b2.width").distribution.choices(), (std::vector<ParamValue>{8, 16}));

  // Activity follows the conditions.
  ParamMap p = {{"s1.depth", 1}};
  EXPECT_FALSE(space.is_active(space.at("s1.b1.op"), p));
  p["s1.depth"] = 3;
  EXPECT_TRUE(space.is_active(space.at("s1.b1.op"), p));
  p["s1.b1.op"] = "skip";
  EXPECT_FALSE(space.is_active(space.at("s1.b1.kernel"), p));
  p["s1.b1.op"] = "conv";
  EXPECT_TRUE(space.is_active(space.at("s1.b1.kernel"), p));
  EXPECT_FALSE(space.is_active(space.at("s1.b1.se"), p));
  EXPECT_FALSE(space.is_active(space.at("s1.b1.expand"), p));
}

TEST_F(ArchitectureTest, ChainOmitsParametersItDoesNotNeed) {
  auto arch = make(
      "architecture:\n  type: chain\n  ops: [conv, dwsep]\n  se: true\n"
      "  stages: [{depth: [2], widths: [8]}]\n");
  std::vector<std::string> names;
  for (const auto& p : arch->parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"s1.depth", "s1.b0.op", "s1.b0.kernel", "s1.b0.width", "s1.b1.op",
                                             "s1.b1.kernel", "s1.b1.width"}));
}

// ---------------------------------------------------------------- chain: genotypes

const char* kTwoStages =
    "architecture:\n  type: chain\n  se: search\n"
    "  stages:\n    - {depth: [2], widths: [24], stride: 2}\n    - {depth: [2], widths: [40], stride: 2}\n";

TEST_F(ArchitectureTest, ChainGenotypeIsReadable) {
  auto arch = make(kTwoStages);
  ParamMap p = {{"s1.depth", 2},     {"s1.b0.op", "mbconv"}, {"s1.b0.kernel", 3},   {"s1.b0.expand", 6},
                {"s1.b0.width", 24}, {"s1.b0.se", true},     {"s1.b1.op", "dwsep"}, {"s1.b1.kernel", 5},
                {"s1.b1.width", 24}, {"s1.b1.se", false},    {"s2.depth", 2},       {"s2.b0.op", "conv"},
                {"s2.b0.kernel", 3}, {"s2.b0.width", 40},    {"s2.b1.op", "skip"},  {"lr", 0.1}};
  const std::string g = "s1:mb6_k3_w24_se,dw_k5_w24|s2:conv_k3_w40,skip";
  EXPECT_EQ(arch->genotype(p), g);
  p.erase("lr");  // parameters of other parts of the study are ignored, and not returned
  EXPECT_EQ(arch->params(g), p);
  // An equal value of another numeric type is accepted.
  p["s1.b0.kernel"] = 3.0;
  EXPECT_EQ(arch->genotype(p), g);
}

TEST_F(ArchitectureTest, ChainGenotypeRoundTripsRandomSamples) {
  auto arch = make(
      "architecture:\n  type: chain\n  se: search\n  expand: [1, 3, 6]\n  kernels: [3, 5]\n"
      "  stages:\n"
      "    - {depth: [1, 2], widths: [8, 16], stride: 1}\n"
      "    - {depth: [1, 2, 4], widths: [16, 24], stride: 2}\n"
      "    - {depth: [2, 3], widths: [32], stride: 2}\n");
  SearchSpace space = space_of(*arch);
  std::set<std::string> seen;
  std::set<std::string> tokens;
  for (int i = 0; i < 300; ++i) {
    ParamMap p = sample(space);
    ASSERT_NO_THROW(space.validate(p, true));
    std::string g = arch->genotype(p);
    ASSERT_EQ(arch->params(g), p) << g;
    ASSERT_EQ(arch->genotype(arch->params(g)), g);
    NetGraph net = arch->build(g, Shape{3, 16, 16}, 10);
    EXPECT_EQ(net.nodes()[static_cast<std::size_t>(net.output())].out, (Shape{10, 1, 1})) << g;
    seen.insert(g);
    for (const char* t : {"skip", "_se", "mb1_", "mb6_", "dw_", "conv_"}) {
      if (g.find(t) != std::string::npos) tokens.insert(t);
    }
  }
  EXPECT_GT(seen.size(), 250u);  // the space is large: nearly every sample differs
  EXPECT_EQ(tokens.size(), 6u);  // every kind of block was exercised
}

TEST_F(ArchitectureTest, ChainRejectsMalformedGenotypes) {
  auto arch = make(kTwoStages);
  const std::string s2 = "|s2:conv_k3_w40,skip";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"s1:mb6_k3_w24,dw_k5_w24", {"expected 2 stage(s) separated by '|', got 1"}},
      {"s2:mb6_k3_w24,dw_k5_w24|s1:conv_k3_w40,skip", {"stage 's2:mb6_k3_w24,dw_k5_w24'", "start with 's1:'"}},
      {"s1:mb6_k3_w24" + s2, {"stage 's1:mb6_k3_w24' has 1 block(s)", "depth must be one of 2"}},
      {"s1:mb5_k3_w24,dw_k5_w24" + s2, {"block 'mb5_k3_w24' (s1.b0)", "expansion ratio 5 is not one of 3, 6"}},
      {"s1:skip,dw_k5_w24" + s2, {"block 'skip' (s1.b0)", "block 0 of a stage cannot be skip"}},
      {"s1:mb6_k4_w24,dw_k5_w24" + s2, {"block 'mb6_k4_w24'", "'_k<kernel>' with kernel one of 3, 5, 7", "'_k4'"}},
      {"s1:mb6_k3,dw_k5_w24" + s2, {"block 'mb6_k3'", "expected '_w<width>' with width one of 24"}},
      {"s1:mb6_k3_w32,dw_k5_w24" + s2, {"block 'mb6_k3_w32'", "width one of 24, got '_w32'"}},
      {"s1:res_k3_w24,dw_k5_w24" + s2,
       {"block 'res_k3_w24'", "expected an op 'conv', 'dw', 'mb<expansion>' or 'skip'"}},
      {"s1:mb6_k3_w24_sx,dw_k5_w24" + s2, {"block 'mb6_k3_w24_sx'", "unexpected '_sx'"}},
      {"s1:mb6_k3_w24_se_se,dw_k5_w24" + s2, {"unexpected '_se'"}},
      {"s1:mb6_k3_w24,skip_k3" + s2, {"block 'skip_k3' (s1.b1)", "a skip block has no fields"}},
      {"s1:mb6_k3_w24,dw_k5_w24|s2:conv_k3_w40_se,skip", {"block 'conv_k3_w40_se' (s2.b0)", "only to dw and mb"}},
      {"s1:mb6_k03_w24,dw_k5_w24" + s2, {"not in canonical form", "expected 's1:mb6_k3_w24,dw_k5_w24|"}},
      {"", {"expected 2 stage(s)"}},
  };
  for (const auto& [g, fragments] : cases) {
    SCOPED_TRACE(g);
    std::string msg = value_error([&] { arch->params(g); });
    expect_contains(msg, fragments);
    EXPECT_NE(msg.find("'" + g + "'"), std::string::npos) << msg;  // the whole genotype is quoted too
    EXPECT_EQ(value_error([&] { arch->build(g, Shape{3, 32, 32}, 10); }), msg);
  }
}

TEST_F(ArchitectureTest, ChainGenotypeRejectsMissingOrOutOfDomainParameters) {
  auto arch = make(kTwoStages);
  ParamMap p = arch->params("s1:mb6_k3_w24_se,dw_k5_w24|s2:conv_k3_w40,skip");
  ParamMap missing = p;
  missing.erase("s1.b1.width");
  expect_contains(value_error([&] { arch->genotype(missing); }), {"chain parameter 's1.b1.width' is missing"});
  ParamMap bad = p;
  bad["s1.b0.kernel"] = 4;
  expect_contains(value_error([&] { arch->genotype(bad); }), {"chain parameter 's1.b0.kernel'", "'4'"});
  bad = p;
  bad["s1.b0.op"] = "skip";
  expect_contains(value_error([&] { arch->genotype(bad); }), {"chain parameter 's1.b0.op'", "'skip'"});
}

TEST_F(ArchitectureTest, ChainSeModesShowInGenotypeAndGraph) {
  const std::string stages = "  stages: [{depth: [2], widths: [16], stride: 1}]\n";
  auto always = make("architecture:\n  type: chain\n  se: true\n  activation: hswish\n" + stages);
  EXPECT_EQ(always->genotype({{"s1.depth", 2},
                              {"s1.b0.op", "mbconv"},
                              {"s1.b0.kernel", 3},
                              {"s1.b0.expand", 3},
                              {"s1.b0.width", 16},
                              {"s1.b1.op", "conv"},
                              {"s1.b1.kernel", 5},
                              {"s1.b1.width", 16}}),
            "s1:mb3_k3_w16_se,conv_k5_w16");
  expect_contains(value_error([&] { always->params("s1:mb3_k3_w16,conv_k5_w16"); }),
                  {"block 'mb3_k3_w16'", "expected '_se' at the end: this space has se: true"});
  NetGraph g = always->build("s1:mb3_k3_w16_se,conv_k5_w16", Shape{3, 8, 8}, 4);
  // Stem 16 ch -> expand to 48 -> depthwise -> SE squeezes to max(8, 48/4) = 12 -> project 16 -> residual.
  ASSERT_NE(node_named(g, "s1.b0.se.reduce"), nullptr);
  EXPECT_EQ(node_named(g, "s1.b0.se.reduce")->out, (Shape{12, 1, 1}));
  EXPECT_TRUE(node_named(g, "s1.b0.se.reduce")->bias);
  EXPECT_EQ(node_named(g, "s1.b0.se.expand")->act, Activation::kHardSigmoid);
  EXPECT_EQ(node_named(g, "s1.b0.dw")->act, Activation::kHardSwish);
  EXPECT_EQ(node_named(g, "s1.b0.se.mul")->out, (Shape{48, 8, 8}));
  ASSERT_NE(node_named(g, "s1.b0.add"), nullptr);
  EXPECT_EQ(node_named(g, "s1.b1.add"), nullptr);  // a conv block never adds its input

  auto never = make("architecture:\n  type: chain\n" + stages);
  expect_contains(value_error([&] { never->params("s1:mb3_k3_w16_se,conv_k5_w16"); }),
                  {"'_se' is not allowed: this space has se: false"});
}

TEST_F(ArchitectureTest, ChainBuildShapesAndLayers) {
  auto arch = make(
      "architecture:\n  type: chain\n  stem: {channels: 8}\n  head: {channels: 32, dropout: 0.2}\n  expand: [1, 6]\n"
      "  stages:\n    - {depth: [1], widths: [16], stride: 2}\n    - {depth: [3], widths: [16, 24], stride: 2}\n");
  NetGraph g = arch->build("s1:mb6_k5_w16|s2:dw_k3_w24,mb1_k7_w24,skip", Shape{1, 28, 28}, 10);
  EXPECT_EQ(node_named(g, "stem")->out, (Shape{8, 28, 28}));
  EXPECT_EQ(node_named(g, "s1.b0.expand")->out, (Shape{48, 28, 28}));
  EXPECT_EQ(node_named(g, "s1.b0.dw")->groups, 48);
  EXPECT_EQ(node_named(g, "s1.b0.dw")->kernel, 5);
  EXPECT_EQ(node_named(g, "s1.b0.dw")->out, (Shape{48, 14, 14}));
  EXPECT_EQ(node_named(g, "s1.b0.project")->act, Activation::kNone);
  EXPECT_EQ(node_named(g, "s1.b0.add"), nullptr);  // stride 2: no residual
  EXPECT_EQ(node_named(g, "s2.b0.dw")->out, (Shape{16, 7, 7}));
  EXPECT_EQ(node_named(g, "s2.b0.pw")->out, (Shape{24, 7, 7}));
  EXPECT_EQ(node_named(g, "s2.b1.expand"), nullptr);  // expansion ratio 1 has no expand conv
  ASSERT_NE(node_named(g, "s2.b1.add"), nullptr);     // stride 1, 24 -> 24
  const NetNode* pool = node_named(g, "head.pool");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(g.nodes()[static_cast<std::size_t>(pool->inputs[0])].name, "head.conv");
  EXPECT_EQ(node_named(g, "head.conv")->out, (Shape{32, 7, 7}));
  EXPECT_DOUBLE_EQ(node_named(g, "head.dropout")->dropout, 0.2);
  const NetNode& out = g.nodes()[static_cast<std::size_t>(g.output())];
  EXPECT_EQ(out.name, "head.linear");
  EXPECT_EQ(out.out, (Shape{10, 1, 1}));
  EXPECT_TRUE(out.bias);
  for (const auto& n : g.nodes()) EXPECT_EQ(n.name.find("s2.b2"), std::string::npos);  // skip builds nothing

  // Without a head conv, the last block is pooled directly: 2 stride-2 stages take 28x28 to 7x7.
  auto plain = make(
      "architecture:\n  type: chain\n  stages:\n    - {depth: [1], widths: [16], stride: 2}\n"
      "    - {depth: [1], widths: [24], stride: 2}\n");
  NetGraph h = plain->build("s1:conv_k3_w16|s2:conv_k3_w24", Shape{1, 28, 28}, 10);
  const NetNode* p = node_named(h, "head.pool");
  EXPECT_EQ(h.nodes()[static_cast<std::size_t>(p->inputs[0])].out, (Shape{24, 7, 7}));
  EXPECT_EQ(node_named(h, "head.dropout"), nullptr);
}

TEST_F(ArchitectureTest, ChainInputTooSmallIsInvalidArchitecture) {
  auto arch = make(
      "architecture:\n  type: chain\n  stem: {stride: 2}\n  stages:\n"
      "    - {depth: [1], widths: [8], stride: 2}\n    - {depth: [1], widths: [8], stride: 2}\n");
  const std::string g = "s1:conv_k3_w8|s2:conv_k3_w8";
  EXPECT_NO_THROW(arch->build(g, Shape{3, 8, 8}, 2));  // 8 -> 4 -> 2 -> 1
  try {
    arch->build(g, Shape{3, 4, 4}, 2);  // 4 -> 2 -> 1, then s2.b0 would halve 1x1
    FAIL() << "expected InvalidArchitecture";
  } catch (const InvalidArchitecture& e) {
    expect_contains(e.what(), {"input 3x4x4 is too small", "'s2.b0' (stride 2)", "1x1 feature map"});
  }
  EXPECT_THROW(arch->build(g, Shape{3, 1, 1}, 2), InvalidArchitecture);  // even the stem cannot downsample
}

TEST_F(ArchitectureTest, ChainConfigYamlRebuildsTheSameSpace) {
  auto arch = make(
      "architecture:\n  type: chain\n  stem: {channels: 24, stride: 2}\n  ops: [mbconv, skip]\n  se: search\n"
      "  activation: relu6\n  expand: [4]\n  head: {channels: 64, dropout: 0.25}\n"
      "  stages: [{depth: [2, 1], widths: [24, 32]}]\n");
  std::string yaml = arch->config_yaml();
  auto again = make_architecture(ConfigNode::parse_string(yaml, "model.yaml"));
  EXPECT_EQ(again->config_yaml(), yaml);
  EXPECT_NE(yaml.find("activation: relu6"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("dropout: 0.25"), std::string::npos) << yaml;
  auto a = arch->parameters(), b = again->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].distribution, b[i].distribution) << a[i].name;
  }
  std::string g = "s1:mb4_k3_w24_se,skip";
  EXPECT_EQ(again->build(g, Shape{3, 16, 16}, 5).to_json(), arch->build(g, Shape{3, 16, 16}, 5).to_json());
}

// ---------------------------------------------------------------- cell (NAS-Bench-201)

TEST_F(ArchitectureTest, CellParametersAreTheSixEdges) {
  auto arch = make("architecture: {type: cell}\n");
  std::vector<std::string> names;
  for (const auto& p : arch->parameters()) {
    names.push_back(p.name);
    EXPECT_TRUE(p.when.empty());
    EXPECT_EQ(p.distribution.choices(),
              (std::vector<ParamValue>{"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"}));
  auto subset = make("architecture: {type: cell, ops: [nor_conv_3x3, skip_connect]}\n");
  EXPECT_EQ(subset->parameters()[3].distribution.choices(), (std::vector<ParamValue>{"nor_conv_3x3", "skip_connect"}));
  expect_contains(config_error("architecture: {type: cell, ops: [nor_cnv_3x3]}\n"),
                  {"study.yaml:1:", "unknown NAS-Bench-201 op 'nor_cnv_3x3'", "did you mean 'nor_conv_3x3'"});
  expect_contains(config_error("architecture: {type: cell, ops: [none]}\n"), {"disconnected"});
  expect_contains(config_error("architecture: {type: cell, stages: 0}\n"), {"key 'architecture.stages'", ">= 1"});
}

TEST_F(ArchitectureTest, CellGenotypeIsTheNasBench201String) {
  auto arch = make("architecture: {type: cell}\n");
  ParamMap p =
      cell_params({"nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect"});
  const std::string g =
      "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
  EXPECT_EQ(arch->genotype(p), g);
  EXPECT_EQ(arch->params(g), p);
  EXPECT_EQ(nasbench201_arch(parse_nasbench201_arch(g)), g);
}

TEST_F(ArchitectureTest, CellRoundTripsEveryConnectedCell) {
  auto arch = make("architecture: {type: cell, channels: 4, cells_per_stage: 1, stages: 1}\n");
  const auto& ops = nasbench201_ops();
  // Independent count of connected cells: a 0 -> 3 path is 0-3, 0-1-3, 0-2-3 or 0-1-2-3, each needing all of its
  // edges non-none; every non-none edge has 4 choices.
  std::size_t expected_connected = 0;
  for (int mask = 0; mask < 64; ++mask) {
    auto on = [&](int e) { return (mask >> e) & 1; };  // edge order 1_0, 2_0, 2_1, 3_0, 3_1, 3_2
    bool connected = on(3) || (on(0) && on(4)) || (on(1) && on(5)) || (on(0) && on(2) && on(5));
    std::size_t ways = 1;
    for (int e = 0; e < 6; ++e) ways *= on(e) ? 4 : 1;
    if (connected) expected_connected += ways;
  }
  std::size_t connected = 0, disconnected = 0;
  for (int code = 0; code < 15625; ++code) {
    std::vector<std::string> edge_ops;
    for (int e = 0, c = code; e < 6; ++e, c /= 5) edge_ops.push_back(ops[static_cast<std::size_t>(c % 5)]);
    ParamMap p = cell_params(edge_ops);
    std::string g;
    try {
      g = arch->genotype(p);
    } catch (const InvalidArchitecture& e) {
      ++disconnected;
      EXPECT_THROW(arch->build(nasbench201_arch(edge_ops), Shape{3, 8, 8}, 10), InvalidArchitecture);
      continue;
    }
    ++connected;
    ASSERT_EQ(g, nasbench201_arch(edge_ops));
    ASSERT_EQ(arch->params(g), p);
    NetGraph net = arch->build(g, Shape{3, 8, 8}, 10);
    ASSERT_EQ(net.nodes()[static_cast<std::size_t>(net.output())].out, (Shape{10, 1, 1})) << g;
  }
  EXPECT_EQ(connected, expected_connected);
  EXPECT_EQ(connected + disconnected, 15625u);
  EXPECT_GT(disconnected, 0u);
}

TEST_F(ArchitectureTest, DisconnectedCellsAreInvalidArchitectures) {
  auto arch = make("architecture: {type: cell}\n");
  // Every edge into node 3 is none.
  std::vector<std::string> no_output = {"nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "none", "none"};
  // Only node 1 feeds node 3, but nothing feeds node 1.
  std::vector<std::string> dead_node1 = {"none", "none", "none", "none", "nor_conv_3x3", "none"};
  for (const auto& ops : {no_output, dead_node1}) {
    std::string g = nasbench201_arch(ops);
    SCOPED_TRACE(g);
    try {
      arch->genotype(cell_params(ops));
      FAIL() << "expected InvalidArchitecture";
    } catch (const InvalidArchitecture& e) {
      EXPECT_EQ(std::string(e.what()), "cell output is disconnected from its input: " + g);
    }
    EXPECT_EQ(arch->params(g), cell_params(ops));  // well-formed text; only building it fails
    EXPECT_THROW(arch->build(g, Shape{3, 32, 32}, 10), InvalidArchitecture);
  }
}

TEST_F(ArchitectureTest, CellRejectsMalformedGenotypes) {
  auto arch = make("architecture: {type: cell, ops: [none, skip_connect, nor_conv_3x3]}\n");
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|", {"found 2 node group(s) separated by '+'"}},
      {"nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
       {"node 1 group 'nor_conv_3x3~0|'", "must start and end with '|'"}},
      {"|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", {"node 2 group '|none~0|' has 1 edge(s), expected 2"}},
      {"|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|",
       {"edge token 'nor_conv_3x3~1' of node 1 should read 'op~0'"}},
      {"|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", {"edge token 'nor_conv_3x3'", "'op~0'"}},
      {"|nor_conv_3x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",
       {"edge token 'nor_conv_3x5~0' names unknown op 'nor_conv_3x5'", "did you mean 'nor_conv_3x3'"}},
      {"|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|",
       {"op 'avg_pool_3x3' on edge_3_0 is not searched by this space", "none, skip_connect, nor_conv_3x3"}},
  };
  for (const auto& [g, fragments] : cases) {
    SCOPED_TRACE(g);
    std::string msg = value_error([&] { arch->params(g); });
    expect_contains(msg, fragments);
    EXPECT_NE(msg.find("'" + g + "'"), std::string::npos) << msg;
    EXPECT_EQ(value_error([&] { arch->build(g, Shape{3, 32, 32}, 10); }), msg);
  }
  ParamMap p = cell_params({"nor_conv_3x3", "none", "none", "skip_connect", "none", "none"});
  p.erase("edge_2_1");
  expect_contains(value_error([&] { arch->genotype(p); }), {"cell parameter 'edge_2_1' is missing"});
  p["edge_2_1"] = "avg_pool_3x3";
  expect_contains(value_error([&] { arch->genotype(p); }),
                  {"cell parameter 'edge_2_1' is 'avg_pool_3x3'", "none, skip_connect, nor_conv_3x3"});
}

TEST_F(ArchitectureTest, CellBuildsTheNasBench201Skeleton) {
  auto arch = make("architecture: {type: cell, channels: 16, cells_per_stage: 2, stages: 3}\n");
  std::string g = arch->genotype(
      cell_params({"nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect"}));
  NetGraph net = arch->build(g, Shape{3, 32, 32}, 10);
  EXPECT_EQ(node_named(net, "stem")->out, (Shape{16, 32, 32}));
  EXPECT_EQ(node_named(net, "stem")->act, Activation::kNone);
  EXPECT_EQ(node_named(net, "s1.c1.n3")->out, (Shape{16, 32, 32}));
  EXPECT_EQ(node_named(net, "s2.reduce.conv_a")->out, (Shape{32, 16, 16}));
  EXPECT_EQ(node_named(net, "s2.reduce.conv_a")->stride, 2);
  EXPECT_EQ(node_named(net, "s2.reduce.pool")->kernel, 2);
  EXPECT_FALSE(node_named(net, "s2.reduce.shortcut")->batch_norm);
  EXPECT_FALSE(node_named(net, "s2.reduce.shortcut")->bias);
  EXPECT_EQ(node_named(net, "s3.reduce.add")->out, (Shape{64, 8, 8}));
  EXPECT_EQ(node_named(net, "s1.c0.e1_0")->kernel, 3);
  EXPECT_EQ(node_named(net, "s1.c0.e2_0")->kernel, 1);
  EXPECT_EQ(node_named(net, "s1.c0.e2_1")->kind, OpKind::kAvgPool);
  // Node 0 feeds two convs through one shared ReLU.
  const NetNode* relu0 = node_named(net, "s1.c0.relu0");
  ASSERT_NE(relu0, nullptr);
  EXPECT_EQ(net.nodes()[static_cast<std::size_t>(node_named(net, "s1.c0.e2_0")->inputs[0])].name, "s1.c0.relu0");
  // Node 3 sums node 0 (skip), conv(node 1) and node 2 (skip).
  EXPECT_EQ(node_named(net, "s1.c0.n3")->inputs.size(), 3u);
  const NetNode* pool = node_named(net, "head.pool");
  EXPECT_EQ(net.nodes()[static_cast<std::size_t>(pool->inputs[0])].name, "head.relu");
  EXPECT_EQ(net.nodes()[static_cast<std::size_t>(pool->inputs[0])].out, (Shape{64, 8, 8}));
  EXPECT_EQ(net.nodes()[static_cast<std::size_t>(net.output())].out, (Shape{10, 1, 1}));

  // An edge into a node that never reaches the output (edge_2_1 here, since edge_3_2 is none) is not built.
  std::string dead = nasbench201_arch({"nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"});
  NetGraph pruned = arch->build(dead, Shape{3, 32, 32}, 10);
  EXPECT_EQ(node_named(pruned, "s1.c0.e2_1"), nullptr);
  EXPECT_NE(node_named(pruned, "s1.c0.e3_1"), nullptr);
}

TEST_F(ArchitectureTest, CellAllEdgesBuildsWhatTheReferenceCodeComputes) {
  auto live = make("architecture: {type: cell, channels: 16, cells_per_stage: 2, stages: 3}\n");
  auto all = make("architecture: {type: cell, channels: 16, cells_per_stage: 2, stages: 3, edges: all}\n");
  // edge_2_1 (conv1x1) feeds node 2, which reaches nothing since edge_3_2 is none: a dead end.
  std::string dead = nasbench201_arch({"nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"});
  NetGraph a = all->build(dead, Shape{3, 32, 32}, 10);
  NetGraph l = live->build(dead, Shape{3, 32, 32}, 10);
  ASSERT_NE(node_named(a, "s1.c0.e2_1"), nullptr);
  EXPECT_EQ(node_named(a, "s1.c0.e2_1")->kernel, 1);
  // `none` is computed as x * 0, and every nor_conv edge has its own ReLU.
  ASSERT_NE(node_named(a, "s1.c0.e3_2"), nullptr);
  EXPECT_EQ(node_named(a, "s1.c0.e3_2")->kind, OpKind::kActivation);
  EXPECT_EQ(node_named(a, "s1.c0.e3_2")->act, Activation::kZero);
  EXPECT_EQ(node_named(a, "s1.c0.e1_0.relu")->act, Activation::kReLU);
  EXPECT_EQ(node_named(a, "s1.c0.e2_1.relu")->act, Activation::kReLU);
  auto count = [](const NetGraph& g, OpKind kind) {
    return std::count_if(g.nodes().begin(), g.nodes().end(), [kind](const NetNode& n) { return n.kind == kind; });
  };
  // One dead-end conv per cell (6 cells) more than the live graph; pools, skips and the output are the same.
  EXPECT_EQ(count(a, OpKind::kConv), count(l, OpKind::kConv) + 6);
  EXPECT_EQ(count(a, OpKind::kAvgPool), count(l, OpKind::kAvgPool));
  EXPECT_EQ(a.nodes()[static_cast<std::size_t>(a.output())].out, (Shape{10, 1, 1}));
  // A disconnected cell runs in the reference code, so it builds; the search still never proposes it.
  std::string cut = nasbench201_arch({"nor_conv_3x3", "none", "none", "none", "none", "none"});
  EXPECT_THROW(live->build(cut, Shape{3, 32, 32}, 10), InvalidArchitecture);
  EXPECT_NO_THROW(all->build(cut, Shape{3, 32, 32}, 10));
  EXPECT_THROW(all->genotype(cell_params({"nor_conv_3x3", "none", "none", "none", "none", "none"})),
               InvalidArchitecture);
  EXPECT_EQ(all->config_yaml(), "type: cell\nchannels: 16\ncells_per_stage: 2\nstages: 3\nops: [" +
                                    join(nasbench201_ops(), ", ") + "]\nedges: all\n");
  expect_contains(config_error("architecture: {type: cell, edges: some}\n"),
                  {"key 'architecture.edges'", "'some'", "live", "all"});
}

TEST_F(ArchitectureTest, CellInputTooSmallForReductions) {
  auto arch = make("architecture: {type: cell, cells_per_stage: 1, stages: 4}\n");
  std::string g = nasbench201_arch({"nor_conv_3x3", "none", "none", "none", "skip_connect", "none"});
  EXPECT_NO_THROW(arch->build(g, Shape{1, 32, 32}, 10));  // 32 -> 16 -> 8 -> 4
  try {
    arch->build(g, Shape{1, 28, 28}, 10);  // 28 -> 14 -> 7, and 7 is odd
    FAIL() << "expected InvalidArchitecture";
  } catch (const InvalidArchitecture& e) {
    expect_contains(e.what(), {"input 1x28x28", "reduction before stage 4", "got 7x7"});
  }
}

TEST_F(ArchitectureTest, CellConfigYamlRebuildsTheSameSpace) {
  auto arch = make("architecture: {type: cell, channels: 8, cells_per_stage: 2, ops: [skip_connect, nor_conv_1x1]}\n");
  EXPECT_EQ(arch->config_yaml(),
            "type: cell\nchannels: 8\ncells_per_stage: 2\nstages: 3\nops: [skip_connect, nor_conv_1x1]\n");
  auto again = make_architecture(ConfigNode::parse_string(arch->config_yaml(), "model.yaml"));
  EXPECT_EQ(again->config_yaml(), arch->config_yaml());
}

}  // namespace
}  // namespace nasforge
