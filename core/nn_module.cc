#include "core/nn_module.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace nasforge {

namespace {

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

std::string module_path() {
  if (const char* env = std::getenv("NASFORGE_NN_LIBRARY"); env != nullptr && *env != '\0') return env;
  return (std::filesystem::path(executable_dir()) / "libnasforge_nn.so").string();
}

struct Module {
  void* handle = nullptr;  // stays open for the life of the process
  std::string path;
  std::string why;  // why it could not be opened
};

const Module& module() {
  static std::once_flag once;
  static Module m;
  std::call_once(once, [] {
    m.path = module_path();
    m.handle = dlopen(m.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (m.handle == nullptr) {
      const char* err = dlerror();
      m.why = "cannot load " + m.path + " (" + (err ? err : "unknown error") +
              "); this nasforge was built without libtorch (NASFORGE_WITH_TORCH=OFF) or the library was moved";
    }
  });
  return m;
}

}  // namespace

void* nn_module_symbol(const std::string& symbol, const std::string& needed_for) {
  // Linked into this process (the nn test executables): the module is not opened at all.
  if (void* linked = dlsym(RTLD_DEFAULT, symbol.c_str())) return linked;
  const Module& m = module();
  if (m.handle == nullptr) throw ConfigError(needed_for + " needs libtorch: " + m.why);
  void* found = dlsym(m.handle, symbol.c_str());
  if (found == nullptr) {
    throw ConfigError(needed_for + " needs libtorch: " + m.path + " has no " + symbol + " entry point");
  }
  return found;
}

const NnTable& nn_module_table(const std::string& symbol, int expected, const std::string& needed_for) {
  using Entry = const NnTable* (*)();
  const NnTable* table = reinterpret_cast<Entry>(nn_module_symbol(symbol, needed_for))();
  if (table->version != expected) {
    throw ConfigError(needed_for + " needs libtorch: " + symbol + " of " + module_path() +
                      " is from another nasforge build (API version " + std::to_string(table->version) +
                      ", expected " + std::to_string(expected) + "); rebuild");
  }
  return *table;
}

}  // namespace nasforge
