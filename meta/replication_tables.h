// The block bookkeeping of a replicating mirror site, in its replica
// (docs/metadata.md): `replication_queue` (blocks still to copy into the
// site's bucket), `replicated_blocks` (copies verified there) and
// `deleted_blocks` (blocks no file references, for the site bucket's GC),
// plus the reads of `blocks` and `site_link` the replicator needs. Every
// statement the replicator (replicator/) runs is one function here.
//
// Transactions are the caller's: a function that belongs to one (Record's
// statements, the GC's deletes) says so and runs inside the caller's
// meta::InTransaction.
// Thread-safety: free functions over one connection (one thread at a time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

// The site name the mirror daemon last recorded (site_link), or "" when
// there is none or it cannot be read.
std::string RecordedSiteName(PgConn* c);

// Whether any block was ever replicated here. NotFound when the table does
// not exist (a replica the daemon has not migrated yet).
Result<bool> AnyReplicatedBlocks(PgConn* c);

// Records blocks now in the site's bucket (ids, stored lengths and copies
// made, parallel arrays): counted in replicated_blocks (copies added) and
// dequeued. With `referenced_only`, a block no file references any more is
// queued for the bucket's GC instead of counted. REQUIRES: in a transaction
// (with RequeueFailedBlocks, one per batch).
Status RecordReplicatedBlocks(PgConn* c, const std::vector<int64_t>& ids,
                              const std::vector<int64_t>& stored_lens,
                              const std::vector<int64_t>& copies, bool referenced_only);

// Keeps blocks whose copy failed queued (at the applied position if not
// queued yet), one more attempt counted, `errors[i]` recorded and the next
// attempt pushed back to now + min(retry_max_ms, retry_base_ms * 2^attempts).
Status RequeueFailedBlocks(PgConn* c, const std::vector<int64_t>& ids,
                           const std::vector<std::string>& errors, int64_t retry_base_ms,
                           int64_t retry_max_ms);

// Queues every block of the namespace not yet replicated, at the applied
// position. Returns how many were queued.
Result<uint64_t> QueueUnreplicatedBlocks(PgConn* c);

// A queued block due for a copy attempt; `gone`: no file references it any
// more (then `ref` holds only the id).
struct QueuedBlock {
  uint64_t id = 0;
  bool gone = false;
  BlockRef ref;
};
// Up to `limit` blocks due now, earliest first.
Result<std::vector<QueuedBlock>> DueQueuedBlocks(PgConn* c, int limit);

// Drops blocks from the queue.
Status DequeueBlocks(PgConn* c, const std::vector<int64_t>& ids);

// Up to `limit` blocks freed at least `grace_seconds` ago, by id.
Result<std::vector<uint64_t>> FreedBlocksOlderThan(PgConn* c, int64_t grace_seconds, int limit);

// Forgets blocks deleted from the site's bucket (from replicated_blocks,
// replication_queue and deleted_blocks). REQUIRES: in a transaction.
Status ForgetCollectedBlocks(PgConn* c, const std::vector<int64_t>& ids);

// The number of blocks the namespace references.
Result<uint64_t> CountBlocks(PgConn* c);
// Up to `limit` blocks of the namespace with ids above `after`, by id.
Result<std::vector<BlockRef>> BlocksAfter(PgConn* c, int64_t after, int limit);

// What is still to copy (blocks whose files exist) and since when, and the
// data-complete position: the lowest queued `pos` minus one, or the applied
// position when nothing is queued.
struct ReplicationBacklog {
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  double oldest_age_seconds = 0;
  uint64_t data_complete_pos = 0;
};
Result<ReplicationBacklog> ReadReplicationBacklog(PgConn* c);

}  // namespace meridian::meta
