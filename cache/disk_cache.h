// DiskCache: the cache tier of a `cache`-mode mirror site, kept on the site's
// local (idle NVMe) disks and filled on demand by the read path or ahead of
// time by `meridian warmup`.
//
// What it holds: a block's STORED bytes, exactly the object in the primary's
// bucket (what VerifyStoredBlock checks), keyed by block id. Blocks are
// immutable (docs/architecture.md invariant 4), so an id is only ever cached with one
// content and a cached block never needs to be invalidated, only evicted.
//
// On-disk layout, per configured directory DIR:
//   DIR/LOCK                      flock()ed while a DiskCache has DIR open
//   DIR/blocks/<xx>/<id>          one block: its stored bytes, nothing else
//   DIR/blocks/<xx>/.tmp.<...>    a fill in progress (deleted by Open)
//   xx = id % 256 as two lower-case hex digits ("00".."ff")
//   id = the block id as 16 lower-case hex digits (as in BlockKey)
// A new block goes to dirs[Mix64(id) % dirs.size()] (the splitmix64
// finalizer, so consecutive ids spread); a block found in another DIR by
// Open stays readable where it is, so changing the list loses nothing. The
// least-recently-used order lives in memory; across restarts it is
// approximated by file mtime (fill time, refreshed at most once a minute by
// a hit). Other files under DIR/blocks are ignored.
//
// Guarantees:
// - Never returns bad bytes. Get() reads the file and checks length and
//   SHA-256 against the caller's BlockRef; a corrupt or wrong-length file is
//   deleted, counted (stats().corrupt) and reported as NotFound, so the
//   caller refetches. Put() and GetOrFill() verify bytes before storing them.
// - Atomic fills: bytes go to a temp file in the block's own directory
//   (fsync'ed first if `fsync`), then rename(2) publishes them. A partial
//   block is never visible under its final name; temp files left by a crash
//   are deleted at Open().
// - Limits (each applies when set): `max_bytes` (sum of stored sizes),
//   `max_items`, and `min_free_ratio` (the free fraction of a directory's
//   file system, from statvfs, stays above it). A fill that would break one
//   evicts least-recently-used blocks first; a block larger than max_bytes is
//   refused with InvalidArgument and not stored. Concurrent fills to one
//   file system share one statvfs reading each, so min_free_ratio is
//   approximate under concurrency; the byte and item limits are exact.
// - Single-flight: GetOrFill() runs ONE fetch per missing id however many
//   callers wait for it; bytes that fail verification fail every waiter and
//   nothing is stored. A verified block that cannot be stored (too large,
//   disk full) is still returned.
// - Restart-safe: Open() rebuilds the index by scanning the directories, so
//   stats().bytes/items after Open equal what is on disk (after evicting
//   down to the limits, if they shrank).
//
// Thread-safety: all methods may be called from any thread. One mutex
// guards the index; file I/O (read, write, rename, unlink, statvfs) happens
// outside it. An entry being filled or deleted is invisible to Get and
// Contains and is never chosen for eviction; a Put or Evict of such an id
// waits for it. One process per directory (LOCK is enforced with flock).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/block.h"
#include "common/status.h"

namespace meridian::cache {

// A file system's size as statvfs reports it, in bytes.
struct FsSpace {
  uint64_t total = 0;
  uint64_t avail = 0;  // free for unprivileged writers (f_bavail)
};

struct DiskCacheOptions {
  std::vector<std::string> dirs;  // at least one; created if missing
  uint64_t max_bytes = 0;         // 0 = no limit
  uint64_t max_items = 0;         // 0 = no limit
  double min_free_ratio = 0;      // in [0, 1); 0 = ignore free space
  bool fsync = false;             // fsync each block and its directory before it counts
  // Reads a directory's file system size; statvfs when empty. Tests inject
  // a fake to exercise min_free_ratio.
  std::function<Result<FsSpace>(const std::string& dir)> space = nullptr;
};

struct DiskCacheStats {
  uint64_t bytes = 0;      // stored bytes cached (and being filled)
  uint64_t items = 0;      // blocks cached (and being filled)
  uint64_t hits = 0;       // Get calls that returned verified bytes
  uint64_t misses = 0;     // Get calls that returned NotFound
  uint64_t fills = 0;      // blocks written to disk
  uint64_t evictions = 0;  // blocks removed to honor a limit (not Evict calls)
  uint64_t corrupt = 0;    // files found corrupt or of the wrong length, deleted
  uint64_t fetches = 0;    // fetch callbacks GetOrFill ran
};

class DiskCache {
 public:
  // Opens (creating if needed) the directories, deletes leftover temp files
  // and indexes the blocks present. FailedPrecondition if another process
  // has a directory open; InvalidArgument for bad options.
  static Result<std::unique_ptr<DiskCache>> Open(DiskCacheOptions options);
  // REQUIRES: no call in progress on another thread.
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The verified stored bytes of block `ref.id`, or NotFound (a miss, or a
  // file that failed verification and was deleted). IOError for other read
  // failures. A hit makes the block most recently used.
  Result<std::string> Get(const BlockRef& ref);
  // Stores `stored` (checked against `ref` first: Corruption if it does not
  // match) unless the block is already cached. Evicts LRU blocks to stay in
  // the limits. InvalidArgument if the block alone exceeds max_bytes (or
  // the file system's share above min_free_ratio); IOError if evicting every
  // block on that file system still leaves too little free; Unavailable
  // (retryable) if only in-flight fills are left to evict.
  Status Put(const BlockRef& ref, std::string_view stored);
  // Get(ref); on a miss, one fetch() for all concurrent callers of the same
  // id, whose bytes are verified, stored (best effort) and returned to all.
  // The fetch's error, or Corruption for bytes that do not match `ref`, is
  // returned to every waiter. REQUIRES: fetch does not call back into this
  // cache for the same id.
  Result<std::string> GetOrFill(const BlockRef& ref,
                                const std::function<Result<std::string>()>& fetch);

  // Whether block `id` is in the index (no look at the file).
  bool Contains(uint64_t id) const;
  // How block `ref` is held, for --check reports and WARM: kIntact if its
  // file has the stored length (a stat) and, with `verify`, the right
  // SHA-256 (a read); kDamaged if indexed but not so (Get deletes such a
  // file); kMissing if not cached. Counts no hit and keeps the LRU order.
  enum class Presence { kMissing, kIntact, kDamaged };
  Presence Check(const BlockRef& ref, bool verify) const;
  // Removes block `id`; false if it was not cached.
  Result<bool> Evict(uint64_t id);
  DiskCacheStats stats() const;
  // Where block `id` is or would be stored (for reports and tests).
  std::string PathFor(uint64_t id) const;

 private:
  enum class State { kFilling, kReady, kDeleting };
  struct Entry {
    State state = State::kFilling;
    uint32_t dir = 0;  // index into o_.dirs
    uint64_t size = 0;
    uint64_t gen = 0;                   // distinguishes refills of the same id
    int64_t mtime_s = 0;                // last mtime written (for the once-a-minute touch)
    std::list<uint64_t>::iterator lru;  // valid while kReady
  };
  struct Flight;
  struct Victim {  // a block chosen for deletion (kDeleting)
    uint64_t id;
    uint64_t gen;
    uint32_t dir;
    uint64_t size;
  };

  explicit DiskCache(DiskCacheOptions options);
  Status Scan();
  // Stores verified bytes (Put without the check).
  Status Store(const BlockRef& ref, std::string_view stored);
  // Temp file, optional fsync, rename. REQUIRES: mu_ NOT held; the id is kFilling.
  Status WriteFile(uint32_t dir, uint64_t id, std::string_view stored);
  // REQUIRES: mu_ held, `id` kReady. Makes it kDeleting, uncounted, queued.
  void MarkDeletingLocked(uint64_t id, std::vector<Victim>* victims);
  // REQUIRES: mu_ held. Picks LRU victims so that `items` more blocks of
  // `size` bytes in total fit into directory `dir` (`space`: its file
  // system as read before locking; null to skip the free-space limit).
  Status MakeRoomLocked(uint32_t dir, uint64_t size, uint64_t items, const FsSpace* space,
                        std::vector<Victim>* victims);
  // Unlinks the victims, then drops them from the index; the first unlink
  // error. REQUIRES: mu_ NOT held.
  Status Remove(const std::vector<Victim>& victims);
  std::string PathIn(uint32_t dir, uint64_t id) const;

  const DiskCacheOptions o_;
  std::vector<int> lock_fds_;   // one flock()ed DIR/LOCK per dir
  std::vector<uint64_t> fs_;    // st_dev of each dir: dirs on one file system share free space
  mutable std::mutex mu_;       // leaf lock: nothing is called with it held
  std::condition_variable cv_;  // signalled when an entry or a flight settles
  std::unordered_map<uint64_t, Entry> index_;  // GUARDED_BY(mu_)
  std::list<uint64_t> lru_;                    // GUARDED_BY(mu_): kReady ids, most recent first
  std::unordered_map<uint64_t, std::shared_ptr<Flight>> flights_;  // GUARDED_BY(mu_)
  DiskCacheStats stats_;                                           // GUARDED_BY(mu_)
  uint64_t next_gen_ = 1;                                          // GUARDED_BY(mu_)
};

}  // namespace meridian::cache
