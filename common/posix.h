// Small POSIX helpers shared by the file-backed stores (objstore/file_store,
// warmup/disk_cache): an owning file descriptor, errno -> Status, and
// fsync of a directory (to make a rename durable).
// Thread-safety: Fd is a value owned by one thread; the functions are pure.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace meridian {

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// "WHAT PATH: strerror(err)" as a Status: ENOENT -> NotFound, EACCES/EPERM ->
// PermissionDenied, anything else IOError; on ENOSPC/EDQUOT `full_hint`
// (what to do about a full disk) is appended in parentheses.
Status ErrnoStatus(std::string_view what, const std::string& path, int err,
                   std::string_view full_hint = "");

// fsync(2) of a directory, so that entries renamed into it are durable.
Status FsyncDir(const std::string& dir);

}  // namespace meridian
