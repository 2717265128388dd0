#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nasforge {

/// Which BLAS a loaded `libblas.so*` is, judged from its resolved path.
enum class BlasKind { kNone, kReference, kOptimized };

/// Classifies one resolved library path: Debian installs the reference BLAS as `.../blas/libblas.so.3`, while
/// OpenBLAS, BLIS and MKL live in their own folders (`openblas-pthread/`, `blis-openmp/`, ...).
BlasKind classify_blas_path(std::string_view resolved_path);

/// The BLAS this process has loaded (kNone before libtorch is loaded or when no libblas is mapped).
BlasKind loaded_blas(std::string* resolved_path = nullptr);

/// A one-paragraph warning when the reference BLAS is loaded (latencies measured with it are several times too
/// slow for any real deployment), or nullopt when an optimized BLAS or none is loaded.
std::optional<std::string> reference_blas_warning();

/// Prints reference_blas_warning() to stderr, at most once per process, prefixed with `who`.
void warn_if_reference_blas(const std::string& who);

}  // namespace nasforge
