#include "common/posix.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

char* DirectScratch(size_t bytes) {
  struct Buffer {
    char* p = nullptr;
    size_t cap = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buf;
  const size_t padded =
      std::max<size_t>(1, (bytes + kDirectAlign - 1) / kDirectAlign) * kDirectAlign;
  if (buf.cap < padded) {
    std::free(buf.p);
    buf = {};
    void* p = nullptr;
    if (posix_memalign(&p, kDirectAlign, padded) != 0) return nullptr;
    buf.p = static_cast<char*>(p);
    buf.cap = padded;
  }
  return buf.p;
}

Result<std::string> ReadFileDirect(const std::string& path, uint64_t size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
  if (fd.get() < 0 && errno == EINVAL) {
    return Status::NotSupported(path + ": the file system refuses O_DIRECT");
  }
  if (fd.get() < 0) return ErrnoStatus("opening", path, errno);
  char* buf = DirectScratch(size);
  if (buf == nullptr) return Status::IOError("reading " + path + ": out of memory");
  const uint64_t padded = (size + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  uint64_t done = 0;
  while (done < padded) {
    ssize_t n = ::pread(fd.get(), buf + done, padded - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("reading", path, errno);
    done += static_cast<uint64_t>(n);
    if (n == 0 || done % kDirectAlign != 0) break;  // the end of the file
  }
  return std::string(buf, std::min(done, size));
}

}  // namespace meridian
