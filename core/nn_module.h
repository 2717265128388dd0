#pragma once

#include <string>

namespace nasforge {

// The libtorch code is built as its own shared library, libnasforge_nn.so (every nn/ folder), and loaded on first
// use, so that commands which train nothing (trials, best, ask, tell, ...) start in milliseconds instead of loading
// libtorch's ~300 shared libraries first. Each layer with nn/ code exports one C function from the module that
// returns that layer's table of entry points (evaluators/nn_api.h, strategies/nn_api.h); this loader knows none of
// the tables, only how to find a symbol.

/// The address of the exported C function `symbol` of the libtorch module: already linked into this process (the
/// nn test executables), else in libnasforge_nn.so next to the executable (or $NASFORGE_NN_LIBRARY), which is
/// opened once per process. ConfigError "<needed_for> needs libtorch: <why>" naming the path tried when this build
/// has no libtorch code or the module lacks the symbol.
void* nn_module_symbol(const std::string& symbol, const std::string& needed_for);

/// The start of every layer's entry table, so that one loader can check any of them.
struct NnTable {
  int version = 0;  ///< The layer's table version the module was built with; a mismatch means a stale build.
};

/// The table returned by the module's exported C function `symbol` (`const NnTable* symbol()`), found with
/// nn_module_symbol(); ConfigError "... is from another nasforge build ...; rebuild" unless its version is
/// `expected`, the version this executable was built with.
const NnTable& nn_module_table(const std::string& symbol, int expected, const std::string& needed_for);

}  // namespace nasforge
