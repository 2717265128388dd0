#include "core/error.h"
#include "evaluators/registry.h"

namespace nasforge {

// Placeholder until the function objective lands.
std::unique_ptr<Objective> make_function_objective(SectionReader&, const SearchSpace&, std::size_t, const std::string&) {
  throw Error("objective 'function' is not implemented yet");
}

}  // namespace nasforge
