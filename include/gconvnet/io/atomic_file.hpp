// gconvnet/io/atomic_file.hpp — writing a file so that readers see either the old file or the whole new one.
//
// The bytes go to a temporary file in the same directory, which is flushed to disk and then renamed
// over the destination (rename is atomic within one POSIX file system). An interrupted program
// therefore never leaves a half-written PNG or checkpoint behind.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "gconvnet/core/error.hpp"

namespace gconvnet::io {

/// Writes `size` bytes at `data` to `path` atomically (temporary file "PATH.tmp-XXXXXX" + fsync + rename).
/// `caller` starts every message: the public function that writes (save_png, save_weights, …).
/// requires: the directory of `path` exists and is writable.
/// ensures: on return `path` holds exactly these bytes; on failure `path` is unchanged and no
///          temporary file is left.
/// throws: Error naming `caller`, the path and the system's reason.
inline void write_file_atomically(const std::string& path, const void* data, std::size_t size,
                                  const char* caller = "write_file_atomically") {
  const char* fn = caller;
  detail::check(!path.empty(), fn, "argument 'path' is empty, expected a file name");
  detail::check(data != nullptr || size == 0, fn, "argument 'data' is null for ", size, " bytes");
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0)
    detail::fail(fn, "cannot create a temporary file next to '", path, "': ", std::strerror(errno));
  tmp.assign(name.data());
  auto give_up = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    detail::fail(fn, "cannot ", what, " '", path, "': ", std::strerror(err));
  };
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ::ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      give_up("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // mkstemp creates the file with mode 0600; give it the usual permissions (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) give_up("set permissions of");
  if (::fsync(fd) != 0) give_up("flush");
  if (::close(fd) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    detail::fail(fn, "cannot close '", path, "': ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    detail::fail(fn, "cannot rename the temporary file to '", path, "': ", std::strerror(err));
  }
}

/// The same for a byte vector.
inline void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes,
                                  const char* caller = "write_file_atomically") {
  write_file_atomically(path, bytes.data(), bytes.size(), caller);
}

}  // namespace gconvnet::io
