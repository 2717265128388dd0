#include "core/error.h"
#include "storage/in_memory_storage.h"
#include "storage/postgres_storage.h"
#include "storage/sqlite_storage.h"
#include "storage/storage.h"

namespace nasforge {

namespace {

const char* const kSupported =
    "supported storage URLs: \"memory\" (this process only), \"sqlite:///relative/path.db\" (relative to the "
    "current directory), \"sqlite:////absolute/path.db\" or \"postgresql://user:password@host:port/database\" "
    "(workers on many machines); e.g. --storage sqlite:///nasforge.db";

}  // namespace

std::shared_ptr<Storage> open_storage(const std::string& url, StorageAccess access) {
  if (url == "memory" || url == ":memory:") return std::make_shared<InMemoryStorage>();
  if (url.rfind("sqlite:", 0) == 0) {
    if (url.rfind("sqlite:///", 0) != 0) {
      throw ValueError("malformed SQLite URL '" + url +
                       "': it needs three slashes before a relative path and four "
                       "before an absolute one; " +
                       kSupported);
    }
    SqliteOptions options;
    options.read_only = access == StorageAccess::kReadOnly;
    return std::make_shared<SqliteStorage>(sqlite_path_from_url(url), options);
  }
  if (url.rfind("postgresql:", 0) == 0 || url.rfind("postgres:", 0) == 0) {
    return std::make_shared<PostgresStorage>(url);
  }
  throw ValueError("unknown storage URL '" + url + "'; " + kSupported);
}

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto authority_end = url.find_first_of("/?", scheme + 3);
  auto at = url.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at == std::string::npos || at < scheme + 3) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace nasforge
