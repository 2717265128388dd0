#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace nasforge {

/// Name and one-line description of one registered implementation (a strategy, a pruner, an objective kind, an
/// architecture type, a compression step), for --help, docs and errors.
struct CatalogEntry {
  std::string name;  ///< The YAML name.
  std::string doc;   ///< One line.
};

/// The valid names of one extension point, in listing order, with the one lookup, error format and section
/// wrapper that every name-to-factory table shares. A table's rows pair an entry with a factory; the catalog gives
/// the index of the row to use.
class Catalog {
 public:
  /// `what` names an entry in messages ("strategy", "objective kind"); `key` is the YAML key that selects one in
  /// a section ("name", "kind", "type"), or "" when the name is chosen otherwise (a compression step is the single
  /// key of its mapping), and then only find() is used.
  Catalog(std::string what, std::string key, std::vector<CatalogEntry> entries);
  /// The catalog of a table of `n` rows, `entry_at(i)` giving row i's entry, so a table keeps entry and factory in
  /// one row and lists nothing twice.
  Catalog(std::string what, std::string key, std::size_t n, const std::function<CatalogEntry(std::size_t)>& entry_at);

  /// Entries in listing order.
  const std::vector<CatalogEntry>& entries() const { return entries_; }
  /// First entry, for range-for.
  std::vector<CatalogEntry>::const_iterator begin() const { return entries_.begin(); }
  /// Past the last entry.
  std::vector<CatalogEntry>::const_iterator end() const { return entries_.end(); }
  /// The names in listing order.
  std::vector<std::string> names() const;
  /// "random|grid|tpe|...", for key docs and --help.
  std::string hint() const;
  /// What an entry is called in messages.
  const std::string& what() const { return what_; }

  /// Index of `name`; otherwise ConfigError at `at`: "unknown <what> 'x' (did you mean ..?); available: ...".
  std::size_t find(const ConfigNode& at, const std::string& name) const;

  /// Builds the entry `section` selects: reads the selecting key (`default_name` when absent, required when that
  /// is empty), calls `make(options, index)` with the section's reader so the factory declares and reads its own
  /// keys, turns a ValueError the factory throws into a ConfigError located at the section, and finally rejects
  /// every key nobody declared.
  void build(const ConfigNode& section, const std::optional<std::string>& default_name,
             const std::function<void(SectionReader& options, std::size_t index)>& make) const;

 private:
  std::string what_;
  std::string key_;
  std::vector<CatalogEntry> entries_;
};

}  // namespace nasforge
