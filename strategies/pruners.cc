#include "strategies/pruners.h"

#include "strategies/registry.h"

namespace nasforge {

bool NopPruner::prune(const FrozenTrial&, const std::vector<FrozenTrial>&, StudyDirection) { return false; }

std::unique_ptr<Pruner> make_nop_pruner(SectionReader&) { return std::make_unique<NopPruner>(); }

}  // namespace nasforge
