#include "core/blas_check.h"

#include <link.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nasforge {

BlasKind classify_blas_path(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (file.substr(0, 9) != "libblas.s") return BlasKind::kNone;
  const std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  const std::size_t parent = dir.rfind('/');
  const std::string_view folder = parent == std::string_view::npos ? dir : dir.substr(parent + 1);
  // Debian's reference BLAS (package libblas3) is the only one installed into a folder named exactly "blas".
  return folder == "blas" ? BlasKind::kReference : BlasKind::kOptimized;
}

namespace {

struct Found {
  BlasKind kind = BlasKind::kNone;
  std::string path;
};

int visit(dl_phdr_info* info, std::size_t, void* data) {
  const char* name = info->dlpi_name;
  if (name == nullptr || std::strstr(name, "libblas.so") == nullptr) return 0;
  // The loader reports the name it opened (the alternatives symlink); the real file says which BLAS it is.
  char resolved[PATH_MAX];
  const char* path = realpath(name, resolved) != nullptr ? resolved : name;
  auto* found = static_cast<Found*>(data);
  found->kind = classify_blas_path(path);
  found->path = path;
  return found->kind == BlasKind::kNone ? 0 : 1;
}

}  // namespace

BlasKind loaded_blas(std::string* resolved_path) {
  Found found;
  dl_iterate_phdr(visit, &found);
  if (resolved_path != nullptr) *resolved_path = found.path;
  return found.kind;
}

std::optional<std::string> reference_blas_warning() {
  std::string path;
  if (loaded_blas(&path) != BlasKind::kReference) return std::nullopt;
  return "libtorch is running on the reference BLAS (" + path +
         "), which is several times slower than an optimized one: measured latencies and training speed will not "
         "match any real deployment. Install an optimized BLAS (Debian: apt install libopenblas0-pthread, which "
         "scripts/install-deps.sh does) and measure again.";
}

void warn_if_reference_blas(const std::string& who) {
  static std::atomic<bool> warned{false};
  if (warned.load()) return;
  if (std::optional<std::string> w = reference_blas_warning()) {
    if (!warned.exchange(true)) std::fprintf(stderr, "%s: warning: %s\n", who.c_str(), w->c_str());
  }
}

}  // namespace nasforge
