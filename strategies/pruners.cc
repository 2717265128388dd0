#include "core/error.h"
#include "strategies/registry.h"

namespace nasforge {

// Placeholders until the pruners land.
std::unique_ptr<Pruner> make_nop_pruner(SectionReader&) { throw Error("not implemented yet"); }
std::unique_ptr<Pruner> make_median_pruner(SectionReader&) { throw Error("not implemented yet"); }
std::unique_ptr<Pruner> make_percentile_pruner(SectionReader&) { throw Error("not implemented yet"); }
std::unique_ptr<Pruner> make_asha_pruner(SectionReader&) { throw Error("not implemented yet"); }
std::unique_ptr<Pruner> make_hyperband_pruner(SectionReader&) { throw Error("not implemented yet"); }
std::unique_ptr<Pruner> make_patient_pruner(SectionReader&) { throw Error("not implemented yet"); }

}  // namespace nasforge
