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

Result<std::string> ReadFileDirect(int fd, const std::string& path, uint64_t size) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return ErrnoStatus("reading", path, errno);
  // The descriptor already open (and fstat'ed): the bytes read are those of
  // the file whose size the caller has, even if the path is replaced now.
  if (::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) {
    return Status::NotSupported(path + ": the file system refuses O_DIRECT");
  }
  auto restore = [&] { (void)::fcntl(fd, F_SETFL, flags); };
  char* buf = DirectScratch(size);
  if (buf == nullptr) {
    restore();
    return Status::IOError("reading " + path + ": out of memory");
  }
  const uint64_t padded = (size + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  uint64_t done = 0;
  while (done < padded) {
    ssize_t n = ::pread(fd, buf + done, padded - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && done == 0) {  // accepted at open, not for this I/O
      restore();
      return Status::NotSupported(path + ": O_DIRECT reads refused (alignment)");
    }
    if (n < 0) {
      restore();
      return ErrnoStatus("reading", path, errno);
    }
    done += static_cast<uint64_t>(n);
    if (n == 0 || done % kDirectAlign != 0) break;  // the end of the file
  }
  restore();
  return std::string(buf, std::min(done, size));
}

}  // namespace meridian
