// ChangeWatch: tells a reader (the mount) which inodes changed at its site,
// so that kernel caches can be long-lived and still never staler than the
// site's own replica.
//
// It LISTENs on the site's database:
//  - `meridian_applied`, sent by a mirror's applier in the same transaction
//    that applies a batch (so it is delivered exactly when the change becomes
//    visible). Payload: "POS INO INO ..." (decimal; the inodes whose
//    attributes, blocks or directory entries changed, directories included),
//    or "POS *" when the list would not fit (everything may have changed).
//    See docs/mount.md.
//  - `meridian_changelog`, sent by a primary's writers: treated as "*".
// After a (re)connection the callback gets "everything" too: notifications
// sent while not listening are lost.
//
// Thread-safety: the callback runs on the watch's own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace meridian::vfs {

class ChangeWatch {
 public:
  // `inos` are volume inode numbers; `all`: drop everything.
  using Callback = std::function<void(const std::vector<uint64_t>& inos, bool all)>;

  ChangeWatch(std::string conninfo, Callback cb) : conninfo_(std::move(conninfo)), cb_(cb) {}
  ~ChangeWatch() { Stop(); }

  void Start();
  void Stop();
  // Notifications handled so far (for tests and metrics).
  uint64_t delivered() const { return delivered_.load(); }

 private:
  void Loop();

  const std::string conninfo_;
  const Callback cb_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> delivered_{0};
  std::thread thread_;
};

}  // namespace meridian::vfs
