// The warm-up loops of `meridian warmup` (cmd/warmup_cmd.cc prints their
// results): making warm sets (warmup/warm_set.h) local at a mirror site.
//
// Cache mode: every block goes through the site's cache group
// (cache/cache_service.h): warmed at its owner, checked (--check) or evicted.
// Replicate mode: the blocks are copied into the site's bucket, verified
// (replicator::Replicator::MakePresent), sharing the site's in-flight set
// with the mirror's copier and other warm-ups; CountLocal is --check there.
// Work is spread over `threads` threads; progress is accounted in a
// WarmProgress the caller owns and reported through on_progress (from any
// worker thread).
// Thread-safety: each call blocks until done; calls are independent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache_service.h"
#include "common/status.h"
#include "meta/pg.h"
#include "objstore/object_store.h"
#include "replicator/in_flight.h"
#include "replicator/replicator.h"
#include "warmup/warm_set.h"

namespace meridian::warmup {

// Called as blocks finish (often; the callee rate-limits any printing).
using ProgressFn = std::function<void(const WarmProgress&)>;

enum class CacheAction { kWarm, kCheck, kEvict };

struct CacheWarmOptions {
  CacheAction action = CacheAction::kWarm;
  bool verify = false;  // kCheck: the node also checks each block's SHA-256
  int threads = 8;
  ProgressFn on_progress;  // optional
};

// One path's outcome in cache mode.
struct CachePathResult {
  uint64_t done = 0;     // warm, intact (kCheck) or evicted blocks
  uint64_t damaged = 0;  // kCheck: held, but truncated or corrupt
  uint64_t failed = 0;   // blocks whose request failed
};

struct CacheWarmResult {
  std::vector<CachePathResult> paths;  // parallel to the sets
  uint64_t failed = 0;                 // over all paths
  Status first_error;                  // of the first failed block
};

// Warms, checks or evicts every block of `sets` through `group`, a path at
// a time, accounting each finished block in *progress (made from `sets`);
// on_path(i, result) after set i (e.g. to print its line).
CacheWarmResult WarmCacheGroup(
    cache::CacheGroup* group, const std::vector<PathSet>& sets, const CacheWarmOptions& options,
    WarmProgress* progress,
    const std::function<void(size_t, const CachePathResult&)>& on_path = nullptr);

struct BucketWarmOptions {
  meta::PgConn* conn = nullptr;             // the replica (the replicator's reads)
  std::string conninfo;                     // the replica, for the site's shared in-flight set
  objstore::ObjectStore* source = nullptr;  // the primary's bucket
  objstore::ObjectStore* target = nullptr;  // the site's bucket (claimed by the caller)
  std::string volume;
  int threads = 8;
  uint64_t bwlimit = 0;  // bytes/s; 0 = no cap
  ProgressFn on_progress;
};

// Replicate mode: copies blocks into the site's bucket.
class BucketWarmer {
 public:
  // Joins the site's in-flight set; fails before any copy if it cannot.
  static Result<std::unique_ptr<BucketWarmer>> Open(const BucketWarmOptions& options);

  // Copies every block of `sets` (verified; each up to 4 attempts),
  // stopping at the first path that fails; finished blocks are accounted in
  // *progress (made from `sets`).
  Status Run(const std::vector<PathSet>& sets, WarmProgress* progress);
  // The copier's counters so far.
  replicator::ReplicatorStats stats() const { return replicator_->stats(); }

 private:
  BucketWarmer(const BucketWarmOptions& options, std::unique_ptr<replicator::InFlight> in_flight);
  BucketWarmOptions options_;
  std::unique_ptr<replicator::InFlight> in_flight_;
  std::unique_ptr<replicator::Replicator> replicator_;
};

struct LocalCount {
  uint64_t local = 0;    // there, of the right length (and with verify, checksum)
  uint64_t damaged = 0;  // there, but truncated, too long or (verify) corrupt
};

// How many of `set`'s blocks are in `bucket`, as --check sees it: a HEAD of
// each whose size must be the block's stored length (cheap); with `verify`,
// a read of each checked against its SHA-256.
Result<LocalCount> CountLocal(objstore::ObjectStore* bucket, const std::string& volume,
                              const PathSet& set, int threads, bool verify);

}  // namespace meridian::warmup
