#pragma once

#include <functional>
#include <string>

namespace nasforge {

/// Describes how far reading got (given the bytes decoded so far), e.g. "file.csv:12", for error messages.
using ReadPosition = std::function<std::string(const std::string& decoded)>;

/// Checks that `path` (symlinks followed) is a regular file: NotFoundError "<path>: cannot open <what>: <reason>"
/// when it is absent or unreadable, DataError naming what it is instead (a folder, a character device such as
/// /dev/null, a pipe, ...); `what` names the file's role in messages. Special files would otherwise hang, read as
/// empty or never end.
void require_regular_file(const std::string& path, const std::string& what);

/// The whole content of a regular file (require_regular_file), inflated when it starts with the gzip magic bytes
/// 1f 8b and returned as is otherwise. NotFoundError "<path>: cannot open <what>: <reason>" when it cannot be
/// opened; DataError "<position>: ..." for corrupt or truncated gzip data, where `position` (default: the path)
/// says how far decoding got.
std::string read_maybe_gzip(const std::string& path, const std::string& what, const ReadPosition& position = {});

}  // namespace nasforge
