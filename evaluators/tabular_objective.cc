#include "core/error.h"
#include "evaluators/registry.h"

namespace nasforge {

// Placeholder until the tabular objective lands.
std::unique_ptr<Objective> make_tabular_objective(SectionReader&, const SearchSpace&, std::size_t, const std::string&) {
  throw Error("objective 'tabular' is not implemented yet");
}

}  // namespace nasforge
