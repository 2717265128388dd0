#include <cmath>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "testing.h"

namespace nasforge {
namespace {

using ConfigTest = testing::NasforgeTest;

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

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- parsing, locations and paths ----

TEST_F(ConfigTest, LocationsAreOneBasedAndPointAtTheKey) {
  ConfigNode root = ConfigNode::parse_string(
      "study: demo\n"
      "space:\n"
      "  x:\n"
      "    low: 1\n"
      "    high: 2\n",
      "study.yaml");
  ConfigNode low = root.get("space").get("x").get("low");
  EXPECT_EQ(low.location().file, "study.yaml");
  EXPECT_EQ(low.location().line, 4);
  EXPECT_EQ(low.location().column, 5);
  EXPECT_EQ(low.location().to_string(), "study.yaml:4:5");
  EXPECT_EQ(root.get("study").location().line, 1);
  EXPECT_EQ(root.get("study").location().column, 1);
  EXPECT_EQ(root.get("space").get("x").get("high").location().line, 5);
}

TEST_F(ConfigTest, PathsAreDottedWithIndexes) {
  ConfigNode root = ConfigNode::parse_string("space:\n  x: {low: 1}\na: [p, q, r]\n");
  EXPECT_EQ(root.path(), "");
  EXPECT_EQ(root.get("space").get("x").get("low").path(), "space.x.low");
  std::vector<ConfigNode> items = root.get("a").elements();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[1].path(), "a[1]");
  EXPECT_EQ(items[1].as_string(), "q");
  EXPECT_EQ(items[2].location().line, 3);
  EXPECT_EQ(items[2].location().column, 11);
}

TEST_F(ConfigTest, AbsentKeysAreUndefinedButKeepPathAndParentLocation) {
  ConfigNode root = ConfigNode::parse_string("a:\n  b: 1\n", "f.yaml");
  ConfigNode missing = root.get("a").get("zzz");
  EXPECT_FALSE(missing.defined());
  EXPECT_EQ(missing.path(), "a.zzz");
  EXPECT_EQ(missing.location().line, 1);  // where `a` is
  std::string msg = config_error([&] { missing.fail("is required"); });
  EXPECT_TRUE(contains(msg, "f.yaml:1")) << msg;
  EXPECT_TRUE(contains(msg, "'a.zzz'")) << msg;
  EXPECT_TRUE(contains(msg, "is required")) << msg;
  // A missing key below a missing key is still just undefined.
  EXPECT_FALSE(missing.get("deeper").defined());
  EXPECT_EQ(missing.get("deeper").path(), "a.zzz.deeper");
}

TEST_F(ConfigTest, EntriesAndKeysKeepFileOrder) {
  ConfigNode root = ConfigNode::parse_string("zeta: 1\nalpha: 2\nmid: 3\n");
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"zeta", "alpha", "mid"}));
  auto entries = root.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].first, "alpha");
  EXPECT_EQ(entries[1].second.path(), "alpha");
  EXPECT_EQ(entries[1].second.as_int(), 2);
  EXPECT_EQ(entries[2].second.location().line, 3);
}

TEST_F(ConfigTest, FailNamesFileLineKeyAndMessage) {
  ConfigNode root = ConfigNode::parse_string("pruner:\n  percentile: 150\n", "study.yaml");
  std::string msg = config_error([&] { root.get("pruner").get("percentile").fail("must be <= 100, got 150"); });
  EXPECT_EQ(msg, "study.yaml:2:3: key 'pruner.percentile': must be <= 100, got 150");
}

TEST_F(ConfigTest, SyntaxErrorNamesFileAndLine) {
  std::string msg = config_error([] { ConfigNode::parse_string("a: 1\nb: [1, 2\nc: 3\n", "broken.yaml"); });
  EXPECT_TRUE(contains(msg, "broken.yaml:")) << msg;
  EXPECT_TRUE(contains(msg, "YAML syntax error")) << msg;
  // The location is a real line of the file (1-based, within the text).
  std::size_t colon = msg.find(':');
  int line = std::stoi(msg.substr(colon + 1));
  EXPECT_GE(line, 2);
  EXPECT_LE(line, 4);

  std::string tab = config_error([] { ConfigNode::parse_string("a:\n  b: 1\n c: 2\n", "indent.yaml"); });
  EXPECT_TRUE(contains(tab, "indent.yaml:3")) << tab;
}

TEST_F(ConfigTest, ParseFileReadsAndNamesTheFile) {
  std::string path = write_file("s.yaml", "a:\n  b: [1, 2]\n");
  ConfigNode root = ConfigNode::parse_file(path);
  EXPECT_EQ(root.file(), path);
  EXPECT_EQ(root.get("a").get("b").elements()[1].as_int(), 2);
  std::string msg = config_error([&] { root.get("a").get("b").fail("bad"); });
  EXPECT_TRUE(contains(msg, path + ":2")) << msg;

  EXPECT_THROW(ConfigNode::parse_file(tmp("absent.yaml")), NotFoundError);
  std::string bad = write_file("bad.yaml", "x: {\n");
  std::string bad_msg = config_error([&] { ConfigNode::parse_file(bad); });
  EXPECT_TRUE(contains(bad_msg, bad + ":")) << bad_msg;
}

TEST_F(ConfigTest, EmptyDocumentIsNullOrUndefined) {
  ConfigNode root = ConfigNode::parse_string("");
  EXPECT_FALSE(root.is_map());
  EXPECT_FALSE(root.get("x").defined());
  SectionReader r(root.get("pruner"));  // an absent section reads as all defaults
  EXPECT_EQ(r.integer("n", 7, "n"), 7);
}

// ---- scalar typing ----

TEST_F(ConfigTest, ScalarsAreTypedByTheCoreSchema) {
  ConfigNode root = ConfigNode::parse_string(
      "quoted: \"1\"\n"
      "single: '2.5'\n"
      "int: 1\n"
      "neg: -42\n"
      "float: 1e-3\n"
      "plain_float: 2.5\n"
      "inf: .inf\n"
      "ninf: -.inf\n"
      "nan: .nan\n"
      "null1: null\n"
      "null2: ~\n"
      "null3:\n"
      "yes: true\n"
      "no: False\n"
      "word: hello\n"
      "quoted_true: 'true'\n"
      "quoted_null: \"null\"\n");
  auto pv = [&](const char* key) { return root.get(key).as_param_value(); };
  EXPECT_EQ(pv("quoted"), ParamValue("1"));
  EXPECT_EQ(pv("single"), ParamValue("2.5"));
  EXPECT_EQ(pv("int"), ParamValue(1));
  EXPECT_TRUE(pv("int").is_int());
  EXPECT_EQ(pv("neg"), ParamValue(-42));
  EXPECT_TRUE(pv("float").is_double());
  EXPECT_DOUBLE_EQ(pv("float").as_double(), 1e-3);
  EXPECT_EQ(pv("plain_float"), ParamValue(2.5));
  EXPECT_TRUE(pv("inf").is_double());
  EXPECT_EQ(pv("inf").as_double(), INFINITY);
  EXPECT_EQ(pv("ninf").as_double(), -INFINITY);
  EXPECT_TRUE(std::isnan(pv("nan").as_double()));
  EXPECT_TRUE(pv("null1").is_null());
  EXPECT_TRUE(pv("null2").is_null());
  EXPECT_TRUE(pv("null3").is_null());
  EXPECT_EQ(pv("yes"), ParamValue(true));
  EXPECT_EQ(pv("no"), ParamValue(false));
  EXPECT_EQ(pv("word"), ParamValue("hello"));
  EXPECT_EQ(pv("quoted_true"), ParamValue("true"));
  EXPECT_EQ(pv("quoted_null"), ParamValue("null"));
  EXPECT_TRUE(root.get("null3").is_null());
}

TEST_F(ConfigTest, WordsThatOnlyLookNumericStayStrings) {
  // Not numbers in YAML 1.2 (which spells them .inf and .nan): they must not turn into floats behind the user's back.
  ConfigNode root = ConfigNode::parse_string("a: [inf, nan, infinity, -Infinity, 1_000, 12abc, '', yes, on]\n");
  std::vector<ConfigNode> items = root.get("a").elements();
  ASSERT_EQ(items.size(), 9u);
  for (const auto& item : items) {
    ParamValue v = item.as_param_value();
    EXPECT_TRUE(v.is_string()) << item.scalar() << " became " << v.type_name();
    EXPECT_EQ(v.to_string(), item.scalar());
  }
}

TEST_F(ConfigTest, TypedAccessorsRejectWrongTypesWithLocation) {
  ConfigNode root = ConfigNode::parse_string("n: 2.5\nb: yes\nq: \"3\"\nm: {a: 1}\nl: [1]\nw: abc\n", "t.yaml");
  std::string msg = config_error([&] { root.get("n").as_int(); });
  EXPECT_TRUE(contains(msg, "t.yaml:1")) << msg;
  EXPECT_TRUE(contains(msg, "'2.5'")) << msg;
  EXPECT_TRUE(contains(msg, "integer")) << msg;
  EXPECT_DOUBLE_EQ(root.get("n").as_double(), 2.5);
  EXPECT_THROW(root.get("b").as_bool(), ConfigError);  // YAML 1.1 booleans are not booleans
  EXPECT_THROW(root.get("q").as_int(), ConfigError);   // a quoted number is a string
  EXPECT_THROW(root.get("q").as_double(), ConfigError);
  EXPECT_EQ(root.get("q").as_string(), "3");
  EXPECT_TRUE(contains(config_error([&] { root.get("m").as_double(); }), "a mapping"));
  EXPECT_TRUE(contains(config_error([&] { root.get("l").scalar(); }), "a list"));
  EXPECT_TRUE(contains(config_error([&] { root.get("w").as_double(); }), "'abc'"));
  EXPECT_TRUE(contains(config_error([&] { root.get("m").as_param_value(); }), "t.yaml:4"));
  EXPECT_TRUE(contains(config_error([&] { root.get("absent").as_int(); }), "nothing"));
}

TEST_F(ConfigTest, DescribeAndDump) {
  ConfigNode root = ConfigNode::parse_string("s: abc\nm: {a: 1}\nl: [1, 2]\nz: ~\n");
  EXPECT_EQ(root.get("s").describe(), "'abc'");
  EXPECT_EQ(root.get("m").describe(), "a mapping");
  EXPECT_EQ(root.get("l").describe(), "a list");
  EXPECT_EQ(root.get("z").describe(), "null");
  EXPECT_EQ(root.get("nope").describe(), "nothing");
  // dump() re-emits YAML that parses back to the same structure.
  ConfigNode again = ConfigNode::parse_string(root.get("m").dump());
  EXPECT_EQ(again.get("a").as_int(), 1);
}

TEST_F(ConfigTest, DuplicateKeysAreRejected) {
  ConfigNode root = ConfigNode::parse_string("sec:\n  a: 1\n  b: 2\n  a: 3\n", "dup.yaml");
  std::string msg = config_error([&] { root.get("sec").entries(); });
  EXPECT_TRUE(contains(msg, "dup.yaml:4")) << msg;
  EXPECT_TRUE(contains(msg, "duplicate key 'a'")) << msg;
  std::string reader = config_error([&] { SectionReader r(root.get("sec")); });
  EXPECT_TRUE(contains(reader, "duplicate key 'a'")) << reader;
}

// ---- SectionReader ----

TEST_F(ConfigTest, SectionReaderReadsValuesAndDefaults) {
  ConfigNode root = ConfigNode::parse_string("s:\n  x: 0.5\n  n: 3\n  f: true\n  t: adam\n  o: 4\n");
  SectionReader r(root.get("s"));
  EXPECT_DOUBLE_EQ(r.number("x", 1.0, "x"), 0.5);
  EXPECT_DOUBLE_EQ(r.number("y", 1.5, "y"), 1.5);
  EXPECT_EQ(r.integer("n", 1, "n"), 3);
  EXPECT_EQ(r.integer("m", 9, "m"), 9);
  EXPECT_TRUE(r.flag("f", false, "f"));
  EXPECT_FALSE(r.flag("g", false, "g"));
  EXPECT_EQ(r.text("t", std::string("sgd"), "t", {"sgd", "adam"}), "adam");
  EXPECT_EQ(r.text("u", std::string("dflt"), "u"), "dflt");
  EXPECT_EQ(r.optional_integer("o", "o"), std::optional<std::int64_t>(4));
  EXPECT_FALSE(r.optional_number("p", "p").has_value());
  EXPECT_FALSE(r.optional_text("q", "q").has_value());
  EXPECT_NO_THROW(r.finish());
  // Integers are fine where floats are expected.
  EXPECT_DOUBLE_EQ(r.number("n", std::nullopt, "n again"), 3.0);
}

TEST_F(ConfigTest, SectionReaderDocumentsEveryKeyInOrder) {
  SectionReader r(ConfigNode::parse_string("s: {epochs: 3}\n").get("s"));
  r.number("lr", 0.1, "learning rate");
  r.integer("epochs", std::nullopt, "epochs to train");
  r.text("opt", std::string("sgd"), "optimizer", {"sgd", "adam"});
  const auto& docs = r.docs();
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].key, "lr");
  EXPECT_EQ(docs[0].type, "float");
  EXPECT_EQ(docs[0].default_text, "0.1");
  EXPECT_EQ(docs[0].doc, "learning rate");
  EXPECT_EQ(docs[1].key, "epochs");
  EXPECT_EQ(docs[1].default_text, "required");
  EXPECT_EQ(docs[2].type, "sgd|adam");
  EXPECT_EQ(docs[2].default_text, "sgd");
}

TEST_F(ConfigTest, NullKeysFallBackToDefaults) {
  SectionReader r(ConfigNode::parse_string("s:\n  n: ~\n  t:\n").get("s"));
  EXPECT_EQ(r.integer("n", 5, "n"), 5);
  EXPECT_EQ(r.text("t", std::string("d"), "t"), "d");
}

TEST_F(ConfigTest, RequiredKeysAreReported) {
  ConfigNode root = ConfigNode::parse_string("space:\n  x:\n    type: float\n", "req.yaml");
  SectionReader r(root.get("space").get("x"));
  std::string msg = config_error([&] { r.number("low", std::nullopt, "lower bound"); });
  EXPECT_TRUE(contains(msg, "req.yaml:2")) << msg;
  EXPECT_TRUE(contains(msg, "'space.x.low'")) << msg;
  EXPECT_TRUE(contains(msg, "is required (lower bound)")) << msg;
  EXPECT_THROW(r.integer("n", std::nullopt, "n"), ConfigError);
  EXPECT_THROW(r.text("t", std::nullopt, "t"), ConfigError);
}

TEST_F(ConfigTest, AMissingRequiredKeyNamesItsLikelyMisspelling) {
  ConfigNode root = ConfigNode::parse_string("memory:\n  bandwith_gbs: 5\n", "m.yaml");
  SectionReader r(root.get("memory"));
  std::string msg = config_error([&] { r.number("bandwidth_gbs", std::nullopt, "bandwidth"); });
  EXPECT_TRUE(contains(msg, "'memory.bandwidth_gbs'")) << msg;
  EXPECT_TRUE(contains(msg, "the section has 'bandwith_gbs': did you mean 'bandwidth_gbs'?")) << msg;
  // Keys that are not near the missing one are not blamed.
  SectionReader far(ConfigNode::parse_string("memory:\n  sram_bytes: 5\n", "m.yaml").get("memory"));
  msg = config_error([&] { far.number("bandwidth_gbs", std::nullopt, "bandwidth"); });
  EXPECT_FALSE(contains(msg, "did you mean")) << msg;
}

TEST_F(ConfigTest, UnknownKeySuggestsTheNearestAndListsValidKeys) {
  ConfigNode root = ConfigNode::parse_string("opt:\n  lr: 0.1\n  momentm: 0.9\n", "u.yaml");
  SectionReader r(root.get("opt"));
  r.number("lr", 0.01, "learning rate");
  r.number("momentum", 0.0, "momentum");
  r.flag("nesterov", false, "nesterov");
  std::string msg = config_error([&] { r.finish(); });
  EXPECT_TRUE(contains(msg, "u.yaml:3")) << msg;
  EXPECT_TRUE(contains(msg, "unknown key 'momentm'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'momentum'")) << msg;
  EXPECT_TRUE(contains(msg, "lr, momentum, nesterov")) << msg;
  // A key far from every valid one gets the list but no guess.
  SectionReader r2(ConfigNode::parse_string("opt: {zzzzzzzz: 1}\n").get("opt"));
  r2.number("lr", 0.01, "learning rate");
  std::string far = config_error([&] { r2.finish(); });
  EXPECT_FALSE(contains(far, "did you mean")) << far;
  EXPECT_TRUE(contains(far, "valid keys here: lr")) << far;
}

TEST_F(ConfigTest, AllowedValuesAreEnforced) {
  ConfigNode root = ConfigNode::parse_string("s:\n  mode: fsat\n", "a.yaml");
  SectionReader r(root.get("s"));
  std::string msg = config_error([&] { r.text("mode", std::string("fast"), "mode", {"fast", "slow"}); });
  EXPECT_TRUE(contains(msg, "a.yaml:2")) << msg;
  EXPECT_TRUE(contains(msg, "'fsat'")) << msg;
  EXPECT_TRUE(contains(msg, "fast, slow")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'fast'")) << msg;
}

TEST_F(ConfigTest, SectionMustBeAMapping) {
  std::string msg = config_error([] { SectionReader r(ConfigNode::parse_string("s: 5\n", "m.yaml").get("s")); });
  EXPECT_TRUE(contains(msg, "m.yaml:1")) << msg;
  EXPECT_TRUE(contains(msg, "'5'")) << msg;
  EXPECT_THROW(SectionReader(ConfigNode::parse_string("s: [1]\n").get("s")), ConfigError);
  EXPECT_NO_THROW(SectionReader(ConfigNode::parse_string("s:\n").get("s")));
}

TEST_F(ConfigTest, RequireFailsAtTheNamedKey) {
  ConfigNode root = ConfigNode::parse_string("s:\n  low: 5\n  high: 1\n", "r.yaml");
  SectionReader r(root.get("s"));
  double low = r.number("low", std::nullopt, "low");
  double high = r.number("high", std::nullopt, "high");
  EXPECT_NO_THROW(r.require(true, "low", "unused"));
  std::string msg = config_error([&] { r.require(low <= high, "high", "must be >= low"); });
  EXPECT_TRUE(contains(msg, "r.yaml:3")) << msg;
  EXPECT_TRUE(contains(msg, "'s.high'")) << msg;
}

TEST_F(ConfigTest, ChildKeysAreDeclaredAndReturned) {
  ConfigNode root = ConfigNode::parse_string("s:\n  args: [a, b]\n");
  SectionReader r(root.get("s"));
  ConfigNode args = r.child("args", "list", "arguments");
  EXPECT_EQ(args.elements().size(), 2u);
  EXPECT_FALSE(r.child("env", "mapping", "environment").defined());
  EXPECT_NO_THROW(r.finish());
  EXPECT_EQ(r.docs()[0].type, "list");
  EXPECT_EQ(r.docs()[1].key, "env");
}

TEST_F(ConfigTest, LookupNameFindsOrSuggests) {
  ConfigNode root = ConfigNode::parse_string("sampler:\n  name: tpee\n", "l.yaml");
  std::vector<std::string> names = {"random", "grid", "tpe"};
  EXPECT_EQ(lookup_name(root, "grid", names, "strategy"), 1u);
  std::string msg = config_error([&] { lookup_name(root.get("sampler").get("name"), "tpee", names, "strategy"); });
  EXPECT_TRUE(contains(msg, "l.yaml:2")) << msg;
  EXPECT_TRUE(contains(msg, "unknown strategy 'tpee'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'tpe'")) << msg;
  EXPECT_TRUE(contains(msg, "available: random, grid, tpe")) << msg;
}

// ---- what yaml-cpp would read silently wrong ----

TEST_F(ConfigTest, InvalidUtf8InAValueNamesKeyPositionOffsetAndByte) {
  std::string msg = config_error([] { ConfigNode::parse_string("space:\n  x: [a, \"b\xff\"]\n", "u.yaml"); });
  EXPECT_TRUE(contains(msg, "u.yaml:2:10:")) << msg;
  EXPECT_TRUE(contains(msg, "key 'space.x[1]'")) << msg;
  EXPECT_TRUE(contains(msg, "not valid UTF-8")) << msg;
  EXPECT_TRUE(contains(msg, "offset 1")) << msg;
  EXPECT_TRUE(contains(msg, "0xFF")) << msg;
}

TEST_F(ConfigTest, InvalidUtf8InAKeyIsReportedAtItsMapping) {
  // Latin-1 "é" (0xE9) followed by ASCII is not UTF-8.
  std::string msg = config_error([] { ConfigNode::parse_string("space:\n  k\xe9y: [a]\n", "u.yaml"); });
  EXPECT_TRUE(contains(msg, "u.yaml:2:3:")) << msg;
  EXPECT_TRUE(contains(msg, "key 'space'")) << msg;
  EXPECT_TRUE(contains(msg, "a key is not valid UTF-8")) << msg;
  EXPECT_TRUE(contains(msg, "0xE9")) << msg;
  EXPECT_NO_THROW(ConfigNode::parse_string("name: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n"));
}

TEST_F(ConfigTest, MergeKeyIsRefused) {
  std::string yaml = "base: &b {low: 0, high: 1}\nspace:\n  x:\n    <<: *b\n    type: float\n";
  std::string msg = config_error([&] { ConfigNode::parse_string(yaml, "m.yaml"); });
  EXPECT_TRUE(contains(msg, "m.yaml:4:5:")) << msg;
  EXPECT_TRUE(contains(msg, "key 'space.x'")) << msg;
  EXPECT_TRUE(contains(msg, "merge key '<<' is not supported")) << msg;
  // A quoted "<<" is an ordinary key, and an alias standing for a whole value still works.
  ConfigNode root = ConfigNode::parse_string("\"<<\": 1\nbase: &b [1, 2]\ncopy: *b\n");
  EXPECT_EQ(root.get("<<").as_int(), 1);
  EXPECT_EQ(root.get("copy").elements().size(), 2u);
}

TEST_F(ConfigTest, SecondDocumentIsAnErrorAtTheLineWhereItStarts) {
  std::string msg = config_error([] { ConfigNode::parse_string("a: 1\nb: 2\n---\nc: 3\n", "d.yaml"); });
  EXPECT_TRUE(contains(msg, "d.yaml:3:")) << msg;
  EXPECT_TRUE(contains(msg, "second YAML document")) << msg;
  EXPECT_FALSE(config_error([] { ConfigNode::parse_string("a: 1\n---\n", "d.yaml"); }).empty());
  // An explicit start of the one document, and its end marker, are fine.
  EXPECT_EQ(ConfigNode::parse_string("---\na: 1\n...\n").get("a").as_int(), 1);
}

TEST_F(ConfigTest, TabInIndentationIsNamed) {
  std::string msg = config_error(
      [] { ConfigNode::parse_string("space:\n  x: {type: int, low: 1, high: 3}\n\ty: [a, b]\n", "t.yaml"); });
  EXPECT_TRUE(contains(msg, "t.yaml:3:1:")) << msg;
  EXPECT_TRUE(contains(msg, "YAML allows no tabs in indentation")) << msg;
  msg = config_error([] { ConfigNode::parse_string("space:\n\tx: [a, b]\n", "t.yaml"); });
  EXPECT_TRUE(contains(msg, "t.yaml:2:1:")) << msg;
  EXPECT_TRUE(contains(msg, "no tabs in indentation")) << msg;
  // A tab inside a value is no indentation.
  EXPECT_EQ(ConfigNode::parse_string("a: \"x\ty\"\n").get("a").as_string(), "x\ty");
}

TEST_F(ConfigTest, SelfReferencingAliasDoesNotHang) {
  EXPECT_NO_THROW(ConfigNode::parse_string("x: &a [1, *a]\n"));
}

TEST_F(ConfigTest, OversizedFileIsRefusedNamingSizeAndCap) {
  std::string path = write_file("big.yaml", "a: 1\n" + std::string(kMaxConfigFileBytes, '#'));
  std::string msg = config_error([&] { ConfigNode::parse_file(path); });
  EXPECT_TRUE(contains(msg, path)) << msg;
  EXPECT_TRUE(contains(msg, std::to_string(kMaxConfigFileBytes + 5) + " bytes")) << msg;
  EXPECT_TRUE(contains(msg, "at most " + std::to_string(kMaxConfigFileBytes))) << msg;
  EXPECT_EQ(read_config_file(write_file("ok.yaml", "a: 1\n")), "a: 1\n");
}

TEST_F(ConfigTest, EndlessFileStopsAtTheCap) {
  std::string msg = config_error([] { read_config_file("/dev/zero"); });
  EXPECT_TRUE(contains(msg, "/dev/zero")) << msg;
  EXPECT_TRUE(contains(msg, "more than " + std::to_string(kMaxConfigFileBytes))) << msg;
}

TEST_F(ConfigTest, IntegerBeyond64BitsSaysSo) {
  ConfigNode root = ConfigNode::parse_string("n: 18446744073709551616\nm: -9223372036854775808\n", "i.yaml");
  std::string msg = config_error([&] { root.get("n").as_int(); });
  EXPECT_TRUE(contains(msg, "i.yaml:1:1:")) << msg;
  EXPECT_TRUE(contains(msg, "'18446744073709551616' does not fit in 64 bits")) << msg;
  EXPECT_EQ(root.get("m").as_int(), INT64_MIN);
}

}  // namespace
}  // namespace nasforge
