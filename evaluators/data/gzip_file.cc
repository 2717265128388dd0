#include "evaluators/data/gzip_file.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace nasforge {

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw NotFoundError(path + ": cannot open " + what + ": " +
                        (errno == ENOENT ? "no such file" : std::strerror(errno)));
  }
  if (S_ISREG(st.st_mode)) return;
  const char* kind = S_ISDIR(st.st_mode)    ? "a folder"
                     : S_ISCHR(st.st_mode)  ? "a character device (such as /dev/null)"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISFIFO(st.st_mode) ? "a pipe"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a plain file";
  throw DataError(path + ": not a regular file but " + std::string(kind) + "; the " + what + " must be a file");
}

std::string read_maybe_gzip(const std::string& path, const std::string& what, const ReadPosition& position) {
  require_regular_file(path, what);
  errno = 0;
  // gzopen inflates a stream that starts with the gzip magic bytes and passes any other file through unchanged.
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    throw NotFoundError(path + ": cannot open " + what + ": " + (errno ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(file, 1 << 17);
  std::string data;
  std::vector<char> chunk(1 << 18);
  auto where = [&] { return position ? position(data) : path; };
  auto fail = [&](const std::string& problem) {
    std::string at = where();
    gzclose_r(file);
    throw DataError(at + ": " + problem);
  };
  while (true) {
    int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(file, &code);
      if (code == Z_ERRNO) fail(std::string("read error: ") + std::strerror(errno));
      fail(std::string("corrupt gzip data (") + (msg ? msg : "unknown error") + ")");
    }
    if (n == 0) break;
    data.append(chunk.data(), static_cast<std::size_t>(n));
  }
  // gzread ends quietly on a stream cut short; the error only shows in gzerror / gzclose.
  int code = 0;
  gzerror(file, &code);
  if (code == Z_BUF_ERROR) fail("the gzip data ends early (truncated file?)");
  if (gzclose_r(file) == Z_BUF_ERROR) throw DataError(where() + ": the gzip data ends early (truncated file?)");
  return data;
}

}  // namespace nasforge
