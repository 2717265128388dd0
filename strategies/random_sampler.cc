#include "core/error.h"
#include "strategies/registry.h"

namespace nasforge {

// Placeholder until the random strategy lands.
std::unique_ptr<Sampler> make_random_sampler(SectionReader&, const SearchSpace&, std::uint64_t, std::size_t) {
  throw Error("strategy 'random' is not implemented yet");
}

}  // namespace nasforge
