#include "core/error.h"
#include "evaluators/registry.h"

namespace nasforge {

// Placeholder until the command objective lands.
std::unique_ptr<Objective> make_command_objective(SectionReader&, const SearchSpace&, std::size_t, const std::string&) {
  throw Error("objective 'command' is not implemented yet");
}

}  // namespace nasforge
