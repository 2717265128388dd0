#include "core/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "core/error.h"
#include "core/strings.h"
#include "core/strings.h"

namespace nasforge {

std::string SourceLocation::to_string() const {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

ConfigNode::ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, YAML::Mark mark)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), mark_(mark) {}

std::string read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFoundError(path + ": cannot open file (does it exist and is it readable?)");
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      struct stat st {};
      std::string size = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)
                             ? std::to_string(st.st_size) + " bytes"
                             : "more than " + std::to_string(kMaxConfigFileBytes) + " bytes (reading stopped there)";
      throw ConfigError(path + ": the file is " + size + "; a config file may have at most " +
                        std::to_string(kMaxConfigFileBytes) + " bytes (16 MiB): is this the right file?");
    }
  }
  return text;
}

ConfigNode ConfigNode::parse_file(const std::string& path) {
  return parse_string(read_config_file(path), path);
}

namespace {

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// A problem found while the parser streams events, raised out of the parser and reported by parse_string.
struct EventProblem {
  YAML::Mark mark;
  std::string path;
  std::string what;
};

// Checks every scalar of one document as the parser reads it, keeping the key path of each node. It runs on
// events rather than on the loaded tree because the tree may share (or even cycle through) aliased nodes, so a
// walk over it can take exponential time; events see each alias once.
class ScalarChecker : public YAML::EventHandler {
 public:
  YAML::Mark document_start = YAML::Mark::null_mark();

  void OnDocumentStart(const YAML::Mark& mark) override { document_start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { node_path(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { node_path(); }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t, const std::string& value) override {
    bool is_key = !frames_.empty() && frames_.back().is_map && frames_.back().expect_key;
    std::string path = node_path(&value);
    std::string where = is_key ? "a key" : "the value";
    if (auto bad = invalid_utf8_offset(value)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(value[*bad]));
      // The bad key itself cannot be quoted readably, so a key's problem is reported at its mapping's path.
      throw EventProblem{mark, is_key ? frames_.back().path : path,
                         where + " is not valid UTF-8: the byte at offset " + std::to_string(*bad) +
                             " (counting from 0) is " + hex +
                             "; study files must be UTF-8 (was it saved as Latin-1 or another code page?)"};
    }
    // yaml-cpp does not implement YAML 1.1 merge keys: `<<: *base` would become an entry named "<<".
    if (is_key && value == "<<" && tag == "?") {
      throw EventProblem{mark, frames_.back().path,
                         "the YAML merge key '<<' is not supported; write the keys out (an alias *name may stand "
                         "for a whole value)"};
    }
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    frames_.push_back(Frame{node_path(), false, true, 0, ""});
  }
  void OnSequenceEnd() override { frames_.pop_back(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    frames_.push_back(Frame{node_path(), true, true, 0, ""});
  }
  void OnMapEnd() override { frames_.pop_back(); }

 private:
  struct Frame {
    std::string path;
    bool is_map;
    bool expect_key = true;
    std::size_t index = 0;
    std::string key;
  };

  // The path of the node that starts now, advancing its parent; `scalar` is its text when it is a scalar. A
  // non-scalar key (which ConfigNode refuses when read) gets its mapping's path.
  std::string node_path(const std::string* scalar = nullptr) {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (!f.is_map) return element_path(f.path, f.index++);
    if (f.expect_key) {
      f.expect_key = false;
      f.key = scalar ? *scalar : "";
      return f.path;
    }
    f.expect_key = true;
    return child_path(f.path, f.key);
  }

  std::vector<Frame> frames_;
};

// The last 1-based line at or before `last_line` whose indentation holds a tab, and that tab's column; YAML forbids
// tabs there, and yaml-cpp's messages for them ("end of map not found", "illegal map value") do not say so.
std::optional<std::pair<int, int>> tab_in_indentation(const std::string& text, int last_line) {
  std::optional<std::pair<int, int>> found;
  int line = 1;
  for (std::size_t pos = 0; pos < text.size() && line <= last_line; ++line) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::size_t content = text.find_first_not_of(" \t\r", pos);
    if (content < end && text[content] != '#') {
      auto tab = std::find(text.begin() + static_cast<std::ptrdiff_t>(pos),
                           text.begin() + static_cast<std::ptrdiff_t>(content), '\t');
      if (tab != text.begin() + static_cast<std::ptrdiff_t>(content)) {
        found = std::make_pair(line, static_cast<int>(tab - text.begin() - static_cast<std::ptrdiff_t>(pos)) + 1);
      }
    }
    pos = end + 1;
  }
  return found;
}

}  // namespace

ConfigNode ConfigNode::parse_string(const std::string& text, const std::string& name) {
  auto file = std::make_shared<const std::string>(name);
  YAML::Node root;
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    ScalarChecker checker;
    parser.HandleNextDocument(checker);
    if (parser.HandleNextDocument(checker)) {
      SourceLocation loc{name, checker.document_start.line + 1, 0};
      throw ConfigError(loc.to_string() +
                        ": a second YAML document starts at this line; a study file holds one "
                        "document: remove the line or move what follows into the first document");
    }
    root = YAML::Load(text);
  } catch (const EventProblem& p) {
    ConfigNode(YAML::Node(), file, p.path, p.mark).fail(p.what);
  } catch (const YAML::ParserException& e) {
    SourceLocation loc{name, e.mark.line + 1, e.mark.column + 1};
    if (auto tab = tab_in_indentation(text, loc.line)) {
      SourceLocation at{name, tab->first, tab->second};
      throw ConfigError(at.to_string() +
                        ": YAML syntax error: a tab in the indentation; YAML allows no tabs in "
                        "indentation, indent with spaces (the parser said at line " +
                        std::to_string(loc.line) + ": " + e.msg + ")");
    }
    throw ConfigError(loc.to_string() + ": YAML syntax error: " + e.msg);
  }
  YAML::Mark mark;
  mark.line = 0;
  mark.column = 0;
  return ConfigNode(root, file, "", root.IsDefined() && !root.IsNull() ? root.Mark() : mark);
}

SourceLocation ConfigNode::location() const {
  SourceLocation loc;
  loc.file = file();
  YAML::Mark m = mark_;
  if (!m.is_null()) {
    loc.line = m.line + 1;
    loc.column = m.column + 1;
  }
  return loc;
}

ConfigNode ConfigNode::get(const std::string& key) const {
  std::string path = child_path(path_, key);
  if (!node_.IsMap()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_, path, mark_);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      return ConfigNode(it->second, file_, path, it->first.Mark());
    }
  }
  return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_, path, mark_);
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (!node_.IsMap()) return out;
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    ConfigNode key_node(it->first, file_, path_, it->first.Mark());
    if (!it->first.IsScalar()) key_node.fail("mapping keys must be plain names");
    std::string key = it->first.Scalar();
    ConfigNode child(it->second, file_, child_path(path_, key), it->first.Mark());
    if (!seen.insert(key).second) child.fail("duplicate key '" + key + "'");
    out.emplace_back(key, child);
  }
  return out;
}

std::vector<ConfigNode> ConfigNode::elements() const {
  std::vector<ConfigNode> out;
  if (!node_.IsSequence()) return out;
  std::size_t i = 0;
  for (auto it = node_.begin(); it != node_.end(); ++it, ++i) {
    out.push_back(ConfigNode(*it, file_, element_path(path_, i), it->Mark()));
  }
  return out;
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  for (auto& [k, v] : entries()) out.push_back(k);
  return out;
}

std::string ConfigNode::describe() const {
  if (!node_.IsDefined()) return "nothing";
  if (node_.IsNull()) return "null";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a list";
  return "'" + node_.Scalar() + "'";
}

void ConfigNode::fail(const std::string& what) const {
  std::string where = location().to_string();
  std::string key = path_.empty() ? "" : " key '" + path_ + "':";
  throw ConfigError(where + ":" + key + " " + what);
}

std::string ConfigNode::scalar() const {
  if (!node_.IsScalar()) fail("expected a single value, got " + describe());
  return node_.Scalar();
}

double ConfigNode::as_double() const {
  if (node_.IsScalar() && node_.Tag() != "!") {
    if (auto v = parse_double(node_.Scalar())) return *v;
  }
  fail("expected a number, got " + describe());
}

std::int64_t ConfigNode::as_int() const {
  if (node_.IsScalar() && node_.Tag() != "!") {
    const std::string& s = node_.Scalar();
    if (auto v = parse_int(s)) return *v;
    std::size_t digits = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (digits < s.size() && s.find_first_not_of("0123456789", digits) == std::string::npos) {
      fail("the integer " + describe() + " does not fit in 64 bits (range -2^63 .. 2^63-1)");
    }
  }
  fail("expected an integer, got " + describe());
}

bool ConfigNode::as_bool() const {
  if (node_.IsScalar() && node_.Tag() != "!") {
    const std::string& s = node_.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  fail("expected true or false, got " + describe());
}

std::string ConfigNode::as_string() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe());
  return node_.Scalar();
}

namespace {

// YAML 1.2 core-schema floats: decimal digits with optional fraction and exponent, or .inf / .nan. parse_double
// alone would also take words such as "inf", "nan" or "0x10", which YAML reads as strings.
bool is_yaml_float(const std::string& s) {
  static const std::set<std::string> kSpecial = {".inf", "+.inf", "-.inf", ".Inf", "+.Inf", "-.Inf", ".INF",
                                                 "+.INF", "-.INF", ".nan", ".NaN", ".NAN"};
  if (kSpecial.count(s)) return true;
  std::size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  std::size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

}  // namespace

ParamValue ConfigNode::as_param_value() const {
  if (node_.IsNull()) return {};
  if (!node_.IsScalar()) fail("expected a single value (string, number, bool or null), got " + describe());
  const std::string& s = node_.Scalar();
  if (node_.Tag() == "!") return s;  // quoted: always a string
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return {};
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = parse_int(s)) return static_cast<std::int64_t>(*i);
  if (is_yaml_float(s)) {
    if (auto d = parse_double(s)) return *d;
  }
  return s;
}

std::string ConfigNode::dump() const {
  YAML::Emitter out;
  out << node_;
  return out.c_str();
}

SectionReader::SectionReader(ConfigNode node) : node_(std::move(node)) {
  if (node_.defined() && !node_.is_null() && !node_.is_map()) {
    node_.fail("expected a mapping of keys, got " + node_.describe());
  }
  node_.entries();  // rejects duplicate keys early
}

ConfigNode SectionReader::declare(const std::string& key, const std::string& type, const std::string& def,
                                  const std::string& doc) {
  docs_.push_back(KeyDoc{key, type, def, doc});
  return node_.get(key);
}

void SectionReader::fail_required(const ConfigNode& missing, const std::string& key, const std::string& doc) const {
  std::string hint;
  if (node_.defined() && node_.is_map()) {
    for (const auto& [present, child] : node_.entries()) {
      if (nearest(present, {key})) hint = "; the section has '" + present + "': did you mean '" + key + "'?";
    }
  }
  missing.fail("is required (" + doc + ")" + hint);
}

double SectionReader::number(const std::string& key, std::optional<double> def, const std::string& doc) {
  ConfigNode n = declare(key, "float", def ? format_double(*def) : "required", doc);
  if (!n.defined() || n.is_null()) {
    if (!def) fail_required(n, key, doc);
    return *def;
  }
  return n.as_double();
}

std::int64_t SectionReader::integer(const std::string& key, std::optional<std::int64_t> def, const std::string& doc) {
  ConfigNode n = declare(key, "int", def ? std::to_string(*def) : "required", doc);
  if (!n.defined() || n.is_null()) {
    if (!def) fail_required(n, key, doc);
    return *def;
  }
  return n.as_int();
}

std::int64_t SectionReader::integer(const IntKey& k, std::optional<std::int64_t> def) {
  std::int64_t v = integer(k.key, def, k.doc + " (" + k.range.describe() + ")");
  require(k.range.contains(static_cast<double>(v)), k.key, "must be " + k.range.describe() + ", got " + std::to_string(v));
  return v;
}

double SectionReader::number(const NumberKey& k, std::optional<double> def) {
  double v = number(k.key, def, k.doc + " (" + k.range.describe() + ")");
  require(k.range.contains(v), k.key, "must be " + k.range.describe() + ", got " + format_double(v));
  return v;
}

bool SectionReader::flag(const std::string& key, bool def, const std::string& doc) {
  ConfigNode n = declare(key, "bool", def ? "true" : "false", doc);
  if (!n.defined() || n.is_null()) return def;
  return n.as_bool();
}

std::string SectionReader::text(const std::string& key, std::optional<std::string> def, const std::string& doc,
                                const std::vector<std::string>& allowed) {
  std::string type = allowed.empty() ? "string" : join(allowed, "|");
  ConfigNode n = declare(key, type, def ? *def : "required", doc);
  if (!n.defined() || n.is_null()) {
    if (!def) fail_required(n, key, doc);
    return *def;
  }
  std::string v = n.as_string();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    n.fail("'" + v + "' is not allowed; use one of: " + join(allowed, ", ") + did_you_mean(v, allowed));
  }
  return v;
}

std::optional<double> SectionReader::optional_number(const std::string& key, const std::string& doc) {
  ConfigNode n = declare(key, "float", "none", doc);
  if (!n.defined() || n.is_null()) return std::nullopt;
  return n.as_double();
}

std::optional<std::int64_t> SectionReader::optional_integer(const std::string& key, const std::string& doc) {
  ConfigNode n = declare(key, "int", "none", doc);
  if (!n.defined() || n.is_null()) return std::nullopt;
  return n.as_int();
}

std::optional<std::string> SectionReader::optional_text(const std::string& key, const std::string& doc) {
  ConfigNode n = declare(key, "string", "none", doc);
  if (!n.defined() || n.is_null()) return std::nullopt;
  return n.as_string();
}

ConfigNode SectionReader::child(const std::string& key, const std::string& type, const std::string& doc) {
  return declare(key, type, "none", doc);
}

void SectionReader::require(bool cond, const std::string& key, const std::string& what) const {
  if (!cond) node_.get(key).fail(what);
}

void SectionReader::finish() const {
  std::vector<std::string> declared;
  for (const auto& d : docs_) declared.push_back(d.key);
  for (const auto& [key, child] : node_.entries()) {
    if (std::find(declared.begin(), declared.end(), key) == declared.end()) {
      child.fail("unknown key '" + key + "'" + did_you_mean(key, declared) + "; valid keys here: " +
                 join(declared, ", "));
    }
  }
}

std::size_t lookup_name(const ConfigNode& at, const std::string& name, const std::vector<std::string>& names,
                        const std::string& what) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  at.fail("unknown " + what + " '" + name + "'" + did_you_mean(name, names) + "; available: " + join(names, ", "));
}

bool Range::contains(double v) const {
  if (std::isnan(v)) return false;
  if (min_open ? !(v > min) : !(v >= min)) return false;
  return max_open ? v < max : v <= max;
}

std::string Range::describe() const {
  const bool low = std::isfinite(min), high = std::isfinite(max);
  if (low && high) {
    return std::string("in ") + (min_open ? "(" : "[") + format_double(min) + ", " + format_double(max) +
           (max_open ? ")" : "]");
  }
  if (low) return (min_open ? "> " : ">= ") + format_double(min);
  if (high) return (max_open ? "< " : "<= ") + format_double(max);
  return "a number";
}

void IntKey::check(std::int64_t v) const {
  if (!range.contains(static_cast<double>(v))) {
    throw ValueError(key + " must be " + range.describe() + ", got " + std::to_string(v));
  }
}

void NumberKey::check(double v) const {
  if (!range.contains(v)) throw ValueError(key + " must be " + range.describe() + ", got " + format_double(v));
}

}  // namespace nasforge
