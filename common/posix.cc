#include "common/posix.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace meridian {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Status ErrnoStatus(std::string_view what, const std::string& path, int err,
                   std::string_view full_hint) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(msg);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(msg);
    case ENOSPC:
    case EDQUOT:
      return Status::IOError(full_hint.empty() ? msg : msg + " (" + std::string(full_hint) + ")");
    default:
      return Status::IOError(msg);
  }
}

Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("opening directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsyncing directory", dir, errno);
  return Status::OK();
}

}  // namespace meridian
