#include "core/error.h"

namespace nasforge {

void check(bool cond, const std::string& message) {
  if (!cond) throw ValueError(message);
}

}  // namespace nasforge
