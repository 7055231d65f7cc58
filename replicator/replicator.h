// Replicator: copies the blocks a mirror's replica references from the
// primary's bucket into the mirror's own bucket (`meridian mirror --data
// replicate`), and removes freed blocks from it after a grace period.
//
// Work queue: the applier queues every block a change adds in the same
// replica transaction (replication_queue, docs/metadata.md); Seed() queues
// any referenced block that is neither queued nor replicated (after a
// snapshot, or when a site switches to replicate). A block counts as
// replicated (replicated_blocks) only once bytes whose length and SHA-256
// match the block's metadata are in the mirror's bucket (docs/architecture.md
// invariant 4): bytes are verified after the download and before the upload,
// and a block already in the mirror's bucket is verified, not copied again.
// Progress is committed after every round, so a restart never copies a
// finished block again; a block whose upload finished but whose round was
// not committed is found intact and counted as `already_present`.
//
// One fetch per block: with `in_flight` (the site's in-flight set,
// replicator/in_flight.h), a block is claimed before it is downloaded and
// looked for in the target again once claimed, so copiers in other
// processes (the daemon, warmup, heal) never fetch the same block twice.
//
// Failures: a failed or corrupt download is retried with exponential backoff
// (attempts, next_attempt_at and last_error are kept in the queue row); it
// never stops the other blocks. The source store is only ever read: the
// replicator has no code path that writes or deletes there, and Open()
// refuses a target that is the primary's bucket.
//
// Garbage: a block freed at the primary reaches the replica's deleted_blocks
// with the change that freed it; CollectGarbage() deletes it from the
// mirror's bucket once it has been freed for `delete_grace`.
//
// Thread-safety: one thread drives a Replicator (Run, Step, Heal, ...);
// `threads` worker threads do the transfers inside each round. stats() may
// be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/block.h"
#include "common/rate_limiter.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "objstore/marker.h"
#include "objstore/object_store.h"
#include "replicator/in_flight.h"

namespace meridian::replicator {

struct ReplicatorOptions {
  objstore::ObjectStore* source = nullptr;  // the primary's bucket: read only
  objstore::ObjectStore* target = nullptr;  // this site's bucket
  std::string volume;                       // the volume name (block key prefix)
  int threads = 8;                          // parallel transfers
  uint64_t bwlimit = 0;                     // bytes/s over all transfers; 0 = no cap
  int batch = 64;                           // blocks per round
  std::chrono::seconds delete_grace{3600};
  std::chrono::milliseconds retry_base{1000};  // first retry delay, doubling
  std::chrono::milliseconds retry_max{300000};
  const std::atomic<bool>* stop = nullptr;  // ends bandwidth waits early (the copy then fails)
  // The site's in-flight set (replicator/in_flight.h), shared with every
  // other copier at the site so that each block is fetched once; null: no
  // coordination (a lone copier). Outlives the Replicator.
  InFlight* in_flight = nullptr;
};

struct ReplicatorStats {
  uint64_t copied = 0;           // blocks downloaded, verified and uploaded
  uint64_t copied_bytes = 0;     // stored bytes of those
  uint64_t already_present = 0;  // found intact in the target, not copied
  uint64_t failed = 0;           // attempts that failed (each retried later)
  uint64_t dropped = 0;          // queued blocks no file references any more
  uint64_t gc_deleted = 0;       // freed blocks deleted from the target
};

// The claim (objstore/marker.h) a mirror site makes on its own bucket
// before writing to it: owner = site `site`'s copy of volume `vol` (role
// mirror), home = `primary_bucket`. `site` "" = the name the mirror daemon
// last recorded in the replica's site_link (still "" before it ever ran: then
// an existing marker of any site of the volume passes). A bucket without a
// marker is adopted only if it is empty, or the replica already records
// replicated blocks (a site's bucket from before markers, upgraded by its
// first writer), or with `force_nonempty`.
Result<objstore::ClaimOptions> SiteBucketClaim(meta::PgConn* replica, const meta::VolumeConfig& vol,
                                               std::string site,
                                               objstore::ObjectStore* primary_bucket,
                                               bool force_nonempty);

// What is still to copy (for `status`).
struct Backlog {
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  double oldest_age_seconds = 0;  // of the oldest queued block; 0 if none
  // The newest applied position whose namespace has every block in the
  // site's bucket: the lowest queued `pos` minus one, or the applied position
  // when nothing is queued.
  uint64_t data_complete_pos = 0;
};
Result<Backlog> ReadBacklog(meta::PgConn* replica);

// One block's check-and-copy, as Heal() reports it.
struct HealReport {
  uint64_t checked = 0;
  uint64_t intact = 0;
  uint64_t missing = 0;               // not in the target: copied
  uint64_t corrupt = 0;               // wrong bytes in the target: replaced
  uint64_t failed = 0;                // could not be repaired now (see problems)
  std::vector<std::string> problems;  // one line per failed block (at most 100)
};

class Replicator {
 public:
  // `replica` is this site's database (used from the driving thread only).
  Replicator(meta::PgConn* replica, ReplicatorOptions options);

  // Queues every referenced block that is neither queued nor replicated.
  // Returns how many were queued.
  Result<uint64_t> Seed();
  // One round: up to `batch` due blocks, copied in parallel, outcomes
  // committed in one transaction. Returns the number of blocks handled
  // (0: nothing was due).
  Result<size_t> Step();
  // Deletes from the target the blocks freed more than delete_grace ago.
  // Returns how many.
  Result<size_t> CollectGarbage();
  // Makes every block of `refs` present and verified in the target (copying
  // what is missing or corrupt) and records them as replicated; failed
  // blocks are retried with backoff until all are there, or, with
  // `max_attempts` > 0, until a block has failed that often (Unavailable,
  // naming how many are missing and the first error). Returns Unavailable if
  // *stop is set first. `progress(blocks_done)` is called as rounds finish.
  // `referenced_only`: as in Record (false for blocks of changes not yet
  // applied: the --visibility data gate).
  Status MakePresent(const std::vector<BlockRef>& refs, const std::atomic<bool>* stop,
                     bool referenced_only, int max_attempts = 0,
                     const std::function<void(uint64_t)>& progress = {});
  // Checks every referenced block in the target (length and SHA-256),
  // re-copies what is missing or corrupt, and records the result.
  // `progress(checked, total)` is called after each round.
  Result<HealReport> Heal(const std::function<void(uint64_t, uint64_t)>& progress = {});

  ReplicatorStats stats() const;

 private:
  struct Job;
  Job NewJob(const BlockRef& ref) const;
  void RunJobs(std::vector<Job>& jobs);
  class Claim;
  void CopyOne(Job& job);
  // Whether another copier put `job`'s block, intact, in the target after
  // CopyOne first looked.
  bool ArrivedMeanwhile(const Job& job) const;
  // Commits a round's outcomes. `referenced_only`: a finished block that no
  // file references any more is queued for the bucket's GC instead.
  Status Record(const std::vector<Job>& jobs, bool referenced_only);

  meta::PgConn* c_;
  const ReplicatorOptions o_;
  mutable std::mutex mu_;
  ReplicatorStats stats_;  // GUARDED_BY(mu_)
  RateLimiter bw_;         // --bwlimit over all transfers
};

}  // namespace meridian::replicator
