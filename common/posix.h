// Small POSIX helpers shared by the file-backed stores (objstore/file_store,
// cache/disk_cache): an owning file descriptor, errno -> Status, fsync of a
// directory (to make a rename durable), and whole-file I/O that bypasses the
// page cache (O_DIRECT) for block-sized objects.
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

// O_DIRECT moves whole 4 KiB units from and to memory aligned to 4 KiB.
inline constexpr size_t kDirectAlign = 4096;

// A per-thread buffer aligned for O_DIRECT, at least `bytes` long (rounded
// up to kDirectAlign); reused, so its pages are touched once. nullptr when
// memory runs out. Valid until the thread's next call.
char* DirectScratch(size_t bytes);

// All `size` bytes of the open regular file `fd` (`path` names it in
// errors), read with O_DIRECT: the block's bytes are used once by the caller
// (verified, then held in its own cache), so filling the page cache with
// them only costs CPU (bench/README.md, mount.sh). NotSupported if the file
// system refuses O_DIRECT (tmpfs, or alignment it will not take): `fd` is
// left as it was, to be read buffered. `size` is the file's size (fstat of
// `fd`); a file found shorter is returned as read.
Result<std::string> ReadFileDirect(int fd, const std::string& path, uint64_t size);

}  // namespace meridian
