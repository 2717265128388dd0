#pragma once

#include <functional>
#include <string>

namespace nasforge {

/// Describes how far reading got (given the bytes decoded so far), e.g. "file.csv:12", for error messages.
using ReadPosition = std::function<std::string(const std::string& decoded)>;

/// The whole content of a file, inflated when it starts with the gzip magic bytes 1f 8b and returned as is
/// otherwise. NotFoundError "<path>: cannot open <what>: <reason>" when it cannot be opened; DataError
/// "<position>: ..." for corrupt or truncated gzip data, where `position` (default: the path) says how far
/// decoding got.
std::string read_maybe_gzip(const std::string& path, const std::string& what, const ReadPosition& position = {});

}  // namespace nasforge
