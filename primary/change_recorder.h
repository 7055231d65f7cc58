// ChangeRecorder: turns one namespace transaction into one change-log entry.
//
// The NamespaceWriter tells it which inodes and directory entries a mutation
// touched (and which blocks it freed). Before the transaction commits,
// Collect() reads back the final state of exactly those rows (they stay
// locked by the transaction that changed them, so the state is final), then
// Seal() encodes a changelog::Change at the positions the writer took last;
// AppendSql() is the statement that inserts it into the log, stamps the
// blocks it freed with its position and NOTIFYs listeners (the primary
// daemon) on channel `meridian_changelog`, sent with the COMMIT in one
// round trip.
//
// Contract with the writer and the log reader (docs/metadata.md, "Write path
// and durability"):
// - Order: the position comes from `write_lock.head`, which every mutation
//   increments last, just before its entry and COMMIT: the row lock makes
//   writers commit one at a time, and a rolled-back transaction rolls its
//   increment back too, so positions are gapless and in commit order
//   (docs/architecture.md invariant 2). The tenant's position comes from its
//   `tenants` row, locked first (primary/tenant_fence.h).
// - Durability: the transaction commits with synchronous_commit=off, so the
//   write lock is released as soon as its commit record is in the WAL
//   buffers, not after a WAL flush. A commit record follows every record of
//   the transactions that held the lock before it, so the WAL is always
//   flushed to a prefix of the log. The writer acknowledges only after
//   meta::FlushWal() (outside the lock); the log reader
//   (primary/pg_log_source.h) ships only positions it has made durable the
//   same way. So an entry may be visible at the primary before it is
//   durable, but never acknowledged or shipped to a mirror before.
//
// Thread-safety: one per NamespaceWriter, used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "changelog/entry.h"
#include "common/block.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"

namespace meridian::primary {

// The change-log op that recreates inode `a` (without its blocks).
changelog::UpsertInode ToUpsert(const meta::Attr& a);

// Where an entry goes: its global position (write_lock.head) and its place
// in its tenant's log (primary/tenant_fence.h), taken in its transaction.
struct EntryPositions {
  uint64_t pos = 0;
  uint64_t tenant_id = 0;
  uint64_t tenant_pos = 0;
  uint64_t epoch = 0;
};

class ChangeRecorder {
 public:
  // Starts a new transaction's record (also on a retry of the same mutation).
  void Reset(std::string tenant);
  void TouchInode(uint64_t ino) { inodes_.insert(ino); }
  void TouchDentry(uint64_t parent, std::string name) {
    dentries_.emplace(parent, std::move(name));
  }
  // The complete block list `ino` got in this transaction.
  void SetBlocks(uint64_t ino, std::vector<BlockRef> blocks) { blocks_[ino] = std::move(blocks); }
  void FreeBlocks(const std::vector<uint64_t>& ids) {
    freed_.insert(freed_.end(), ids.begin(), ids.end());
  }

  // True if the transaction touched nothing (it should roll back).
  bool empty() const { return inodes_.empty() && dentries_.empty() && freed_.empty(); }

  // Reads back the final state of the touched rows and encodes the change at
  // `at` (already taken by the caller, in this transaction): Collect() then
  // Seal(). REQUIRES: inside the mutation's transaction, after its changes;
  // Seal() once the global position is taken (holding the write lock).
  Status Collect(meta::PgConn* c);
  void Seal(const EntryPositions& at);
  // After Seal(): one SQL statement, without parameters, that inserts the
  // entry, stamps freed blocks and NOTIFYs; the caller sends it with COMMIT.
  const std::string& AppendSql() const { return append_sql_; }

 private:
  std::string tenant_;
  std::set<uint64_t> inodes_;
  std::set<std::pair<uint64_t, std::string>> dentries_;
  std::map<uint64_t, std::vector<BlockRef>> blocks_;
  std::vector<uint64_t> freed_;
  changelog::Change change_;  // Collect()ed, without positions
  std::string append_sql_;
};

}  // namespace meridian::primary
