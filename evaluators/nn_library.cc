#include "evaluators/nn_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace nasforge {

namespace {

using EntryPoint = const NnApi* (*)();

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

// Looks the entry point up once; returns the API or the reason it is unavailable.
const NnApi* load(std::string& why) {
  // Linked into this process (the nn test executables).
  if (auto entry = reinterpret_cast<EntryPoint>(dlsym(RTLD_DEFAULT, kNnApiSymbol))) return entry();
  std::string path;
  if (const char* env = std::getenv("NASFORGE_NN_LIBRARY"); env != nullptr && *env != '\0') {
    path = env;
  } else {
    path = (std::filesystem::path(executable_dir()) / "libnasforge_nn.so").string();
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    why = "cannot load " + path + " (" + (err ? err : "unknown error") +
          "); this nasforge was built without libtorch (NASFORGE_WITH_TORCH=OFF) or the library was moved";
    return nullptr;
  }
  auto entry = reinterpret_cast<EntryPoint>(dlsym(handle, kNnApiSymbol));
  if (entry == nullptr) {
    why = path + " has no " + kNnApiSymbol + " entry point";
    return nullptr;
  }
  const NnApi* api = entry();
  if (api == nullptr || api->version != kNnApiVersion) {
    why = path + " is from another nasforge build (API version " + std::to_string(api ? api->version : -1) +
          ", expected " + std::to_string(kNnApiVersion) + "); rebuild";
    return nullptr;
  }
  return api;  // the handle stays open for the life of the process
}

}  // namespace

const NnApi& nn_api(const std::string& needed_for) {
  static std::once_flag once;
  static const NnApi* api = nullptr;
  static std::string why;
  std::call_once(once, [] { api = load(why); });
  if (api == nullptr) throw ConfigError(needed_for + " needs libtorch: " + why);
  return *api;
}

}  // namespace nasforge
