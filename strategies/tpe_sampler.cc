#include "core/error.h"
#include "strategies/registry.h"

namespace nasforge {

// Placeholder until the tpe strategy lands.
std::unique_ptr<Sampler> make_tpe_sampler(SectionReader&, const SearchSpace&, std::uint64_t, std::size_t) {
  throw Error("strategy 'tpe' is not implemented yet");
}

}  // namespace nasforge
