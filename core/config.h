#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/param_value.h"

namespace nasforge {

/// The largest study or config file read; a larger one (or an endless one such as /dev/zero) is refused before it
/// fills memory.
inline constexpr std::size_t kMaxConfigFileBytes = std::size_t{16} << 20;

/// The whole of a config file, read in chunks that stop at kMaxConfigFileBytes; NotFoundError if it cannot be
/// opened, ConfigError naming the file, its size and the cap if it is larger.
std::string read_config_file(const std::string& path);

/// A position in a configuration file; lines and columns count from 1 (0 = unknown).
struct SourceLocation {
  std::string file;  ///< Path as the user gave it, or a name such as "<string>".
  int line = 0;      ///< 1-based line, 0 when unknown.
  int column = 0;    ///< 1-based column, 0 when unknown.
  /// "file:line:column" (parts that are unknown are left out).
  std::string to_string() const;
};

/// A YAML node that remembers its file, its position and its dotted key path, so every error can name all three.
class ConfigNode {
 public:
  /// An undefined node (a key that is absent).
  ConfigNode() = default;

  /// Parses a YAML file; NotFoundError if it cannot be read, ConfigError (with line) on a syntax error.
  static ConfigNode parse_file(const std::string& path);
  /// Parses YAML text; `name` stands in for the file name in messages. Besides syntax errors it refuses what
  /// yaml-cpp would read silently wrong: invalid UTF-8 in a scalar, the merge key `<<`, a second document.
  static ConfigNode parse_string(const std::string& text, const std::string& name = "<string>");

  /// False when the key was absent.
  bool defined() const { return node_.IsDefined(); }
  /// True for an explicit null (`~`, `null` or nothing after the colon).
  bool is_null() const { return node_.IsDefined() && node_.IsNull(); }
  /// True for a mapping.
  bool is_map() const { return node_.IsMap(); }
  /// True for a sequence.
  bool is_sequence() const { return node_.IsSequence(); }
  /// True for a scalar.
  bool is_scalar() const { return node_.IsScalar(); }

  /// Dotted path from the root, e.g. "space.lr.low" or "objective.args[2]"; "" for the root.
  const std::string& path() const { return path_; }
  /// Where this node stands in its file (the parent's position for an absent key).
  SourceLocation location() const;
  /// The file name used in messages.
  std::string file() const { return file_ ? *file_ : std::string(); }

  /// Child of a mapping; undefined node (with path and parent location) when absent.
  ConfigNode get(const std::string& key) const;
  /// Keys and children of a mapping in file order; a child's location is its key's.
  std::vector<std::pair<std::string, ConfigNode>> entries() const;
  /// Items of a sequence, with paths "key[i]".
  std::vector<ConfigNode> elements() const;
  /// Keys of a mapping in file order.
  std::vector<std::string> keys() const;

  /// Raw scalar text; fails unless a scalar.
  std::string scalar() const;
  /// A number (int or float, `.inf`/`.nan` allowed); fails with location otherwise.
  double as_double() const;
  /// An integer; fails with location otherwise (a float such as 2.5 is rejected).
  std::int64_t as_int() const;
  /// A boolean (true/false); fails with location otherwise.
  bool as_bool() const;
  /// A string; fails unless a scalar.
  std::string as_string() const;
  /// Any YAML scalar typed by the YAML 1.2 core schema: quoted text stays a string.
  ParamValue as_param_value() const;

  /// Short text for messages: the scalar quoted, or "a mapping" / "a list" / "nothing".
  std::string describe() const;
  /// Throws ConfigError "file:line:col: key 'path': <what>".
  [[noreturn]] void fail(const std::string& what) const;

  /// The node re-emitted as YAML text.
  std::string dump() const;
  /// The underlying yaml-cpp node, for code that needs raw access.
  const YAML::Node& yaml() const { return node_; }

 private:
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, YAML::Mark mark);

  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

/// One documented key of a configuration section.
struct KeyDoc {
  std::string key;           ///< Key name as written in YAML.
  std::string type;          ///< "float", "int", "bool", "string", "mapping", ...
  std::string default_text;  ///< Default as text; "required" when there is none.
  std::string doc;           ///< One sentence for --help and docs.
};

/// The interval a numeric key allows; declared once with the key (IntKey, NumberKey) so that the YAML reader and
/// the constructor of the options it fills check the same rule.
struct Range {
  double min = -std::numeric_limits<double>::infinity();  ///< Lower bound (-inf: none).
  bool min_open = false;                                  ///< Whether `min` itself is excluded.
  double max = std::numeric_limits<double>::infinity();   ///< Upper bound (inf: none).
  bool max_open = false;                                  ///< Whether `max` itself is excluded.

  /// [min, max] (a closed interval; either end may be infinite).
  static Range closed(double min, double max = std::numeric_limits<double>::infinity()) { return {min, false, max, false}; }
  /// (min, max) (an open interval).
  static Range open(double min, double max = std::numeric_limits<double>::infinity()) { return {min, true, max, true}; }
  /// Whether `v` lies inside (NaN never does).
  bool contains(double v) const;
  /// ">= 1", "> 0", "<= 6", "in [2, 1000]", "in (0, 1]".
  std::string describe() const;
};

/// An integer key of a section: name, allowed range and doc, written once where the key is declared.
struct IntKey {
  std::string key;  ///< YAML key.
  Range range;      ///< Allowed values.
  std::string doc;  ///< One sentence for --help and docs.
  /// ValueError "<key> must be <range>, got <v>" unless `v` is allowed; for constructors of options structs.
  void check(std::int64_t v) const;
};

/// A float key of a section: name, allowed range and doc, written once where the key is declared.
struct NumberKey {
  std::string key;  ///< YAML key.
  Range range;      ///< Allowed values.
  std::string doc;  ///< One sentence for --help and docs.
  /// ValueError "<key> must be <range>, got <v>" unless `v` is allowed; for constructors of options structs.
  void check(double v) const;
};

/// Reads one YAML mapping whose keys are each declared once with type, default, check and doc; finish()
/// rejects any key that was not declared, suggesting the nearest declared one.
class SectionReader {
 public:
  /// Wraps `node`, which must be a mapping, null or absent (an absent section reads as all defaults).
  explicit SectionReader(ConfigNode node);

  /// A float key; required when `def` is empty.
  double number(const std::string& key, std::optional<double> def, const std::string& doc);
  /// An integer key; required when `def` is empty.
  std::int64_t integer(const std::string& key, std::optional<std::int64_t> def, const std::string& doc);
  /// `k.key` as an integer (required when `def` is empty), failing at the key unless it lies in `k.range`.
  std::int64_t integer(const IntKey& k, std::optional<std::int64_t> def);
  /// `k.key` as a float (required when `def` is empty), failing at the key unless it lies in `k.range`.
  double number(const NumberKey& k, std::optional<double> def);
  /// A boolean key with a default.
  bool flag(const std::string& key, bool def, const std::string& doc);
  /// A string key; required when `def` is empty; when `allowed` is non-empty the value must be one of them.
  std::string text(const std::string& key, std::optional<std::string> def, const std::string& doc,
                   const std::vector<std::string>& allowed = {});
  /// An optional float key (absent or null gives nullopt).
  std::optional<double> optional_number(const std::string& key, const std::string& doc);
  /// An optional integer key (absent or null gives nullopt).
  std::optional<std::int64_t> optional_integer(const std::string& key, const std::string& doc);
  /// An optional string key (absent or null gives nullopt).
  std::optional<std::string> optional_text(const std::string& key, const std::string& doc);
  /// Declares a structured key and returns its node (possibly undefined) for the caller to read.
  ConfigNode child(const std::string& key, const std::string& type, const std::string& doc);

  /// Fails at `key`'s location with `what` unless `cond` holds; for checks that span keys.
  void require(bool cond, const std::string& key, const std::string& what) const;
  /// Throws ConfigError for the first undeclared key, naming it and the nearest declared key.
  void finish() const;

  /// The declared keys in declaration order, for --help and docs.
  const std::vector<KeyDoc>& docs() const { return docs_; }
  /// The wrapped node.
  const ConfigNode& node() const { return node_; }

 private:
  ConfigNode declare(const std::string& key, const std::string& type, const std::string& def, const std::string& doc);
  // "is required (doc)" at the missing key, naming a key of the section that looks like a misspelling of it.
  [[noreturn]] void fail_required(const ConfigNode& missing, const std::string& key, const std::string& doc) const;

  ConfigNode node_;
  std::vector<KeyDoc> docs_;
};

/// Index of `name` in `names`; otherwise fails at `at` with "unknown <what> 'name' (did you mean ..?);
/// available: ...". The one name lookup behind Catalog (core/registry.h) and every other choice by name.
std::size_t lookup_name(const ConfigNode& at, const std::string& name, const std::vector<std::string>& names,
                        const std::string& what);

}  // namespace nasforge
