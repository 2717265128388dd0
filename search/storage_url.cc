#include "core/error.h"
#include "search/storage.h"

namespace nasforge {

// Placeholder until the storage backends land.
std::shared_ptr<Storage> open_storage(const std::string& url) { throw Error("storage not implemented yet: " + url); }

}  // namespace nasforge
