#include "core/blas_check.h"

#include <dlfcn.h>
#include <link.h>

#include <climits>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace nasforge {
namespace {

TEST(BlasCheck, DebianReferenceBlasFolderIsReference) {
  EXPECT_EQ(classify_blas_path("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"), BlasKind::kReference);
  EXPECT_EQ(classify_blas_path("/usr/lib/aarch64-linux-gnu/blas/libblas.so.3.11.0"), BlasKind::kReference);
}

TEST(BlasCheck, OptimizedBlasFoldersAreOptimized) {
  EXPECT_EQ(classify_blas_path("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), BlasKind::kOptimized);
  EXPECT_EQ(classify_blas_path("/usr/lib/aarch64-linux-gnu/blis-openmp/libblas.so.3"), BlasKind::kOptimized);
  // A folder that merely ends in "blas" is not Debian's reference folder.
  EXPECT_EQ(classify_blas_path("/opt/openblas/libblas.so.3"), BlasKind::kOptimized);
}

TEST(BlasCheck, OtherLibrariesAreNotBlas) {
  EXPECT_EQ(classify_blas_path("/usr/lib/x86_64-linux-gnu/blas/liblapack.so.3"), BlasKind::kNone);
  EXPECT_EQ(classify_blas_path("/usr/lib/x86_64-linux-gnu/libc.so.6"), BlasKind::kNone);
  EXPECT_EQ(classify_blas_path(""), BlasKind::kNone);
}

TEST(BlasCheck, SeesTheBlasThisProcessLoads) {
  // The core tests do not link a BLAS, so before dlopen nothing is mapped; after it, the library Debian's
  // alternatives point libblas.so.3 at (whichever it is on this machine).
  std::string before;
  ASSERT_EQ(loaded_blas(&before), BlasKind::kNone) << before;
  EXPECT_FALSE(reference_blas_warning().has_value());
  void* handle = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) GTEST_SKIP() << "no libblas.so.3 on this machine: " << dlerror();
  link_map* map = nullptr;
  ASSERT_EQ(dlinfo(handle, RTLD_DI_LINKMAP, &map), 0);
  char resolved[PATH_MAX];
  ASSERT_NE(realpath(map->l_name, resolved), nullptr) << map->l_name;
  std::string path;
  const BlasKind kind = loaded_blas(&path);
  EXPECT_EQ(kind, classify_blas_path(resolved));
  EXPECT_EQ(path, resolved);
  EXPECT_EQ(reference_blas_warning().has_value(), kind == BlasKind::kReference);
  if (kind == BlasKind::kReference) EXPECT_NE(reference_blas_warning()->find("libopenblas0-pthread"), std::string::npos);
}

}  // namespace
}  // namespace nasforge
