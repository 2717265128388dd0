#include "spaces/architecture.h"

#include "core/error.h"

namespace nasforge {

namespace {

using ArchitectureFactory = std::shared_ptr<const ArchitectureSpace> (*)(SectionReader&);

// One row per architecture type: its catalog entry and factory. Adding a type is one file and one row here.
struct ArchitectureRow {
  CatalogEntry entry;
  ArchitectureFactory make;
};

const std::vector<ArchitectureRow> kArchitectureRows = {
    {{"chain", "stages of searchable conv / depthwise-separable / MBConv / skip blocks (MobileNet, MnasNet)"},
     &make_chain_architecture},
    {{"cell", "NAS-Bench-201: one 4-node cell with 6 searchable edges, stacked in a ResNet-like skeleton"},
     &make_cell_architecture},
};

}  // namespace

const Catalog& architecture_catalog() {
  static const Catalog kCatalog("architecture type", "type", kArchitectureRows.size(),
                                [](std::size_t i) { return kArchitectureRows[i].entry; });
  return kCatalog;
}

std::shared_ptr<const ArchitectureSpace> make_architecture(const ConfigNode& section) {
  if (!section.defined() || section.is_null()) {
    section.fail("is required: give at least {type: chain} or {type: cell}");
  }
  std::shared_ptr<const ArchitectureSpace> space;
  architecture_catalog().build(section, std::nullopt, [&](SectionReader& options, std::size_t i) {
    space = kArchitectureRows[i].make(options);
  });
  return space;
}

}  // namespace nasforge
