#pragma once

#include <nlohmann/json.hpp>

namespace nasforge {

/// JSON value used for attributes, distributions and CLI output.
using Json = nlohmann::json;

}  // namespace nasforge
