#include "core/error.h"
#include "strategies/registry.h"

namespace nasforge {

// Placeholder until the grid strategy lands.
std::unique_ptr<Sampler> make_grid_sampler(SectionReader&, const SearchSpace&, std::uint64_t, std::size_t) {
  throw Error("strategy 'grid' is not implemented yet");
}

}  // namespace nasforge
