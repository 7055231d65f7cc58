// Garbage collection at the primary: deletes from the primary's bucket the
// blocks that no file references any more (`deleted_blocks`, written in the
// transaction that freed them, with the log position that freed them).
//
// Contract (a reader at a lagging mirror never meets a vanished block its
// replica still references): a freed block's object is
// deleted only once every registered mirror (a row in `site_mirrors`: a
// mirror that has connected at least once) has acknowledged the position
// that freed it, because a mirror behind that position still lists the block
// and may read it from this bucket. So that a dead mirror cannot stop
// collection forever, a block freed more than `max_wait` ago is deleted
// anyway. An object is deleted before its row, so a crash between the two
// only repeats a delete (idempotent on every backend).
//
// Thread-safety: one call at a time per connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "meta/pg.h"
#include "objstore/object_store.h"

namespace meridian::primary {

struct GcOptions {
  objstore::ObjectStore* store = nullptr;  // the primary's bucket
  std::string volume;                      // block key prefix
  std::chrono::seconds max_wait{7 * 24 * 3600};
  // Even when every mirror has acknowledged, a freed block stays this long:
  // a reader (here or at a mirror reading this bucket) that looked up a
  // file's blocks just before it was replaced can still finish.
  std::chrono::seconds min_age{300};
  bool dry_run = false;  // report only
  size_t limit = 0;      // at most this many deletions per call; 0 = all due
};

struct GcReport {
  uint64_t deleted = 0;        // objects deleted (or, dry run, that would be)
  uint64_t deleted_bytes = 0;  // their stored bytes
  uint64_t forced = 0;         // of those: past max_wait while a mirror had not acked
  uint64_t waiting = 0;        // freed blocks held for a mirror's acknowledgement
  uint64_t failed = 0;         // deletions that failed (kept; retried next time)
  uint64_t horizon = 0;        // lowest acknowledged position over mirrors (0: none, or no mirror)
  std::string slowest_mirror;  // the mirror at the horizon ("" if none)
};

Result<GcReport> CollectGarbage(meta::PgConn* primary, const GcOptions& options);

}  // namespace meridian::primary
