#include "spaces/architecture.h"

#include "core/error.h"

namespace nasforge {

namespace {

using ArchitectureFactory = std::shared_ptr<const ArchitectureSpace> (*)(SectionReader&);

struct ArchitectureEntry {
  ArchitectureInfo info;
  ArchitectureFactory make;
};

const std::vector<ArchitectureEntry>& architecture_entries() {
  static const std::vector<ArchitectureEntry> kEntries = {
      {{"chain", "stages of searchable conv / depthwise-separable / MBConv / skip blocks (MobileNet, MnasNet)"},
       &make_chain_architecture},
      {{"cell", "NAS-Bench-201: one 4-node cell with 6 searchable edges, stacked in a ResNet-like skeleton"},
       &make_cell_architecture},
  };
  return kEntries;
}

}  // namespace

std::shared_ptr<const ArchitectureSpace> make_architecture(const ConfigNode& section) {
  if (!section.defined() || section.is_null()) {
    section.fail("is required: give at least {type: chain} or {type: cell}");
  }
  SectionReader options(section);
  std::string type = options.text("type", std::nullopt, "architecture family: chain or cell");
  std::vector<std::string> names;
  for (const auto& e : architecture_entries()) names.push_back(e.info.name);
  const ArchitectureEntry& entry =
      architecture_entries()[lookup_name(section.get("type"), type, names, "architecture type")];
  std::shared_ptr<const ArchitectureSpace> space;
  try {
    space = entry.make(options);
  } catch (const ConfigError&) {
    throw;
  } catch (const ValueError& e) {
    section.fail(e.what());
  }
  options.finish();
  return space;
}

std::vector<ArchitectureInfo> architecture_catalog() {
  std::vector<ArchitectureInfo> out;
  for (const auto& e : architecture_entries()) out.push_back(e.info);
  return out;
}

}  // namespace nasforge
