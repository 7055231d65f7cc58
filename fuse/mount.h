// Mount: serves a vfs::FileSystem through the kernel's FUSE interface
// (libfuse3 low-level API), read-only.
//
// A thin translator: every request maps to one FileSystem call. The kernel
// caches attributes, names and file pages for `attr_timeout` /
// `entry_timeout`, and keeps file pages across opens; Invalidate() (driven by
// vfs::ChangeWatch) drops what changed, so a mount is never staler than its
// site's replica. Lookup counts are tracked as the kernel reports them
// (lookup/readdirplus add, forget subtracts) so that only inodes the kernel
// holds are invalidated; their attributes are kept too, so an inode replaced
// or removed at the site that the kernel still holds (an open file, a
// working directory) keeps answering getattr, with a link count of 0, as on
// a local disk. Every write-type request fails with EROFS, and the kernel
// mount is "ro" as well.
//
// Thread-safety: Run() serves requests on up to `max_threads` threads;
// Invalidate() may be called from any other thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "vfs/filesystem.h"

struct fuse_session;

namespace meridian::fuse {

struct MountOptions {
  std::string mountpoint;
  std::string fsname = "meridian";  // the mount table's source column
  bool allow_other = false;         // let other users read (root only, or user_allow_other)
  double attr_timeout = 300;        // seconds the kernel trusts attributes
  double entry_timeout = 300;       // seconds the kernel trusts names
  int max_threads = 16;
  bool debug = false;  // libfuse's request trace on stderr
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread
// it starts later (Mount::Run takes them with sigwait), and ignores SIGPIPE.
// Call first thing in a process that will Run() a mount.
void BlockStopSignals();

// Refuses a mountpoint that does not exist, is not a directory, or is
// already a mount (naming the fix).
Status CheckMountpoint(const std::string& path);
// Whether `path` is a mount point now (from /proc/self/mountinfo).
bool IsMounted(const std::string& path);
// Unmounts `path` (also one whose server was killed: "Transport endpoint is
// not connected"). `lazy` detaches a busy mount.
Status Unmount(const std::string& path, bool lazy);

class Mount {
 public:
  // Checks the mountpoint and mounts `fs` there. FailedPrecondition when
  // FUSE is unavailable (no /dev/fuse), with what to do.
  static Result<std::unique_ptr<Mount>> Create(vfs::FileSystem* fs, MountOptions options);
  ~Mount();  // unmounts if still mounted

  // Serves requests until the file system is unmounted or SIGTERM/SIGINT/
  // SIGHUP arrives; then runs `before_exit` (while requests are still
  // served: stop whatever calls Invalidate() there) and unmounts.
  // REQUIRES: BlockStopSignals() was called before any thread started.
  Status Run(const std::function<void()>& before_exit = {});

  // Drops the kernel's attributes, pages and names of `inos` (volume inode
  // numbers) and of the names under them; `all`: of every inode it holds.
  void Invalidate(const std::vector<uint64_t>& inos, bool all);

  // Inodes the kernel holds (lookup count > 0), for tests and metrics.
  size_t known_inodes() const;
  // Invalidate() calls so far (metrics).
  uint64_t invalidations() const { return epoch_.load(); }

  // Used by the request handlers (fuse/mount.cc); not for other callers.
  struct Ops;

 private:
  Mount(vfs::FileSystem* fs, MountOptions o) : fs_(fs), options_(std::move(o)) {}
  uint32_t block_size() const { return fs_->block_size(); }
  void Remember(uint64_t parent, const std::string& name, const meta::Attr& a);
  void Forget(uint64_t ino, uint64_t n);
  // Keeps the newest attributes of an inode the kernel holds.
  void Refresh(const meta::Attr& a);
  // The attributes last given to the kernel for `ino`, while it holds it.
  std::optional<meta::Attr> HeldAttr(uint64_t ino) const;

  vfs::FileSystem* fs_;
  const MountOptions options_;
  ::fuse_session* se_ = nullptr;
  bool mounted_ = false;

  mutable Mutex mu_;
  struct Known {
    uint64_t count = 0;  // the kernel's lookup count
    bool file = false;   // a regular file
    meta::Attr attr;     // as last given to the kernel (answers for it once it is gone)
  };
  std::map<uint64_t, Known> lookups_ GUARDED_BY(mu_);  // view inode -> what the kernel holds
  std::atomic<uint64_t> epoch_{0};                     // Invalidate() calls started
  std::map<uint64_t, std::set<std::string>> names_
      GUARDED_BY(mu_);  // directory -> names the kernel looked up
};

}  // namespace meridian::fuse
