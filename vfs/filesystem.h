// FileSystem: the read-only POSIX view of a volume (or one subtree of it)
// that a mount serves, free of FUSE so that it can be tested and reused.
//
// Inode numbers are the volume's own (stable: inodes are never renumbered),
// except that the root of the view is always kRootIno: with `subdir` "/a"
// the inode of /a is presented as 1. Metadata comes from a CatalogSource
// (the site's database: a pool of connections, one per request in flight;
// or an in-memory catalog in tests); data from a Reader
// (the site's source order: cache group, own bucket, primary bucket), kept
// in a bounded in-memory BlockCache.
//
// Read-ahead: a reader going forward through a file (each read starting
// within a block of the furthest byte read so far: the kernel sends its own
// read-ahead requests concurrently, so they arrive slightly out of order) gets the next blocks
// fetched in the background, a window that grows from 1 block to `readahead` as the run continues;
// a reader that jumps (mmap loaders: header, then tensors) gets only the blocks it touches.
//
// Errors are Status values; Status::ToErrno() gives the POSIX errno.
// Thread-safety: thread-safe; an OpenFile may be read from many threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/bounded_queue.h"
#include "common/mutex.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/catalog_reader.h"
#include "meta/pool.h"
#include "vfs/block_cache.h"
#include "vfs/reader.h"

namespace meridian::vfs {

struct FsOptions {
  std::string subdir = "/";           // the subtree shown as the root
  int readahead = 8;                  // max blocks fetched ahead of a sequential reader
  uint64_t buffer_bytes = 256 << 20;  // in-memory block cache
  int fetch_threads = 8;              // background read-ahead fetches
};

// A file opened for reading: its attributes and block list as of open().
struct OpenFile {
  meta::Attr attr;
  std::vector<BlockRef> blocks;
  // Read-ahead state: the furthest byte read and the bytes read in the
  // current forward run.
  Mutex mu;
  uint64_t frontier GUARDED_BY(mu) = 0;
  uint64_t run_bytes GUARDED_BY(mu) = 0;
};

// Bytes of one block handed out without copying; `bytes` points into `block`.
struct Piece {
  BlockCache::Data block;
  std::string_view bytes;
};

struct FsStats {
  uint64_t bytes = 0;   // logical bytes in files
  uint64_t inodes = 0;  // files, directories, symlinks
  uint32_t block_size = 0;
};

class FileSystem {
 public:
  // `catalog` and `reader` outlive the FileSystem.
  FileSystem(meta::CatalogSource* catalog, const Reader* reader, uint32_t block_size,
             FsOptions options);
  // Over the site's database: a PgCatalogSource on `pool` (which outlives it).
  FileSystem(meta::PgPool* pool, const Reader* reader, uint32_t block_size, FsOptions options);
  ~FileSystem();
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // Resolves the subdir (NotFound / NotDirectory name it) and starts the
  // read-ahead threads. Call once, before anything else.
  Status Start();

  // The volume inode shown as the root, and the mapping both ways.
  uint64_t subdir_ino() const { return root_; }
  uint64_t ToVolume(uint64_t ino) const { return ino == meta::kRootIno ? root_ : ino; }
  uint64_t FromVolume(uint64_t ino) const { return ino == root_ ? meta::kRootIno : ino; }

  // All take and return view inode numbers (Attr::ino included).
  Result<meta::Attr> Lookup(uint64_t parent, std::string_view name);
  Result<meta::Attr> GetAttr(uint64_t ino);
  Result<std::vector<std::pair<std::string, meta::Attr>>> ReadDirPlus(uint64_t ino);
  Result<std::string> ReadLink(uint64_t ino);
  Result<std::unique_ptr<OpenFile>> Open(uint64_t ino);
  // Bytes [offset, offset+size) of `f` clipped to its size, as pieces in
  // order (empty at or past the end).
  Result<std::vector<Piece>> Read(OpenFile& f, uint64_t offset, size_t size);
  Result<FsStats> StatFs();

  uint32_t block_size() const { return block_size_; }
  BlockCache::Stats cache_stats() const { return cache_.stats(); }
  // Read() calls, bytes they returned, and calls that failed.
  struct Counters {
    uint64_t reads, read_bytes, read_errors;
  };
  Counters counters() const { return {reads_.load(), read_bytes_.load(), read_errors_.load()}; }

 private:
  template <typename F>
  auto WithCatalog(F&& f) -> decltype(f(std::declval<meta::CatalogReader&>()));
  meta::Attr ToView(meta::Attr a) const {
    a.ino = FromVolume(a.ino);
    return a;
  }
  Result<BlockCache::Data> Block(const OpenFile& f, size_t index);
  void Prefetch(const OpenFile& f, size_t first, size_t count);

  std::unique_ptr<meta::PgCatalogSource> pg_source_;  // when built over a pool
  meta::CatalogSource* catalog_;
  const Reader* reader_;
  const uint32_t block_size_;
  const FsOptions options_;
  uint64_t root_ = meta::kRootIno;
  BlockCache cache_;
  BoundedQueue<std::pair<BlockRef, uint64_t>> prefetch_;  // (block, inode)
  Mutex queued_mu_;
  std::unordered_set<uint64_t> queued_ GUARDED_BY(queued_mu_);  // in prefetch_ or being fetched
  std::vector<std::thread> fetchers_;
  std::atomic<uint64_t> reads_{0}, read_bytes_{0}, read_errors_{0};
};

}  // namespace meridian::vfs
