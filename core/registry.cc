#include "core/registry.h"

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

Catalog::Catalog(std::string what, std::string key, std::vector<CatalogEntry> entries)
    : what_(std::move(what)), key_(std::move(key)), entries_(std::move(entries)) {}

Catalog::Catalog(std::string what, std::string key, std::size_t n,
                 const std::function<CatalogEntry(std::size_t)>& entry_at)
    : what_(std::move(what)), key_(std::move(key)) {
  for (std::size_t i = 0; i < n; ++i) entries_.push_back(entry_at(i));
}

std::vector<std::string> Catalog::names() const {
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e.name);
  return names;
}

std::string Catalog::hint() const {
  return join(names(), "|");
}

std::size_t Catalog::find(const ConfigNode& at, const std::string& name) const {
  return lookup_name(at, name, names(), what_);
}

void Catalog::build(const ConfigNode& section, const std::optional<std::string>& default_name,
                    const std::function<void(SectionReader&, std::size_t)>& make) const {
  if (key_.empty()) {
    throw StateError("the " + what_ + " catalog has no selecting key, so it cannot build from a section");
  }
  SectionReader options(section);
  const std::string name = options.text(key_, default_name, what_ + ": " + hint());
  const std::size_t index = find(section.get(key_), name);
  try {
    make(options, index);
  } catch (const ConfigError&) {
    throw;
  } catch (const ValueError& e) {
    section.fail(e.what());
  }
  options.finish();
}

}  // namespace nasforge
