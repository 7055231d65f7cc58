// WarmSet: what `meridian warmup PATH...` has to make local: for each path
// (a file, or a directory and everything under it) the files and the
// distinct blocks they reference, read from a site's database.
//
// Contract: a path is resolved at the database's current position; a block
// that several files under the path reference (hard links) is listed once.
// Symlinks are not followed. A missing path is NotFound naming it.
// WarmProgress turns blocks done into what a progress line shows (files,
// bytes, rate, ETA).
// Thread-safety: ResolveWarmSet is a free function over one reader (or one
// connection); WarmProgress is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/block.h"
#include "common/mutex.h"
#include "common/status.h"
#include "meta/catalog_reader.h"
#include "meta/pg.h"

namespace meridian::warmup {

struct PathSet {
  std::string path;
  uint64_t files = 0;
  uint64_t bytes = 0;  // stored bytes of its blocks
  std::vector<BlockRef> blocks;
  std::vector<uint64_t> block_inos;  // the file (inode) of each block, parallel to `blocks`
};

Result<PathSet> ResolveWarmSet(meta::CatalogReader& cat, const std::string& path);
// The same over the site's database (a meta::Catalog on `c`).
Result<PathSet> ResolveWarmSet(meta::PgConn* c, const std::string& path);

class WarmProgress {
 public:
  explicit WarmProgress(const std::vector<PathSet>& sets);

  // Block `index` of set `set` is finished (made local, or given up on).
  void BlockDone(size_t set, size_t index);
  // The first `n` blocks over all sets, in order, are finished (for callers
  // that only count; approximate about which files are complete).
  void FirstBlocksDone(uint64_t n);

  struct Now {
    uint64_t files_done, files_total, bytes_done, bytes_total;
    double bytes_per_second;
    double eta_seconds;  // < 0: unknown yet
  };
  Now Get() const;

 private:
  void DoneLocked(size_t set, size_t index) REQUIRES(mu_);

  const std::vector<PathSet>& sets_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  mutable Mutex mu_;
  uint64_t files_total_ GUARDED_BY(mu_) = 0, files_done_ GUARDED_BY(mu_) = 0;
  uint64_t bytes_total_ GUARDED_BY(mu_) = 0, bytes_done_ GUARDED_BY(mu_) = 0;
  uint64_t prefix_done_ GUARDED_BY(mu_) = 0;  // FirstBlocksDone
  std::unordered_map<uint64_t, uint64_t> remaining_
      GUARDED_BY(mu_);  // inode -> blocks not finished
};

}  // namespace meridian::warmup
