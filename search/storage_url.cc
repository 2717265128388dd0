#include "core/error.h"
#include "search/in_memory_storage.h"
#include "search/sqlite_storage.h"
#include "search/storage.h"

namespace nasforge {

namespace {

const char* const kSupported =
    "supported storage URLs: \"memory\" (this process only), \"sqlite:///relative/path.db\" (relative to the "
    "current directory) or \"sqlite:////absolute/path.db\"; e.g. --storage sqlite:///nasforge.db";

}  // namespace

std::shared_ptr<Storage> open_storage(const std::string& url) {
  if (url == "memory" || url == ":memory:") return std::make_shared<InMemoryStorage>();
  if (url.rfind("sqlite:", 0) == 0) {
    if (url.rfind("sqlite:///", 0) != 0) {
      throw ValueError("malformed SQLite URL '" + url +
                       "': it needs three slashes before a relative path and four "
                       "before an absolute one; " +
                       kSupported);
    }
    return std::make_shared<SqliteStorage>(sqlite_path_from_url(url));
  }
  if (url.rfind("postgresql:", 0) == 0 || url.rfind("postgres:", 0) == 0) {
    throw ValueError("storage URL '" + url + "': postgresql:// is not supported yet; " + kSupported);
  }
  throw ValueError("unknown storage URL '" + url + "'; " + kSupported);
}

}  // namespace nasforge
