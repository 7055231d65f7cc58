// ChangeRecorder: turns one namespace transaction into one change-log entry.
//
// The NamespaceWriter tells it which inodes and directory entries a mutation
// touched (and which blocks it freed). Before the transaction commits,
// Append() reads back the final state of exactly those rows, encodes a
// changelog::Change and inserts it at position head+1 of the log, then
// NOTIFYs listeners (the primary daemon) on channel `meridian_changelog`.
// The position comes from `write_lock.head`, which every mutation increments
// first: the row lock makes writers commit one at a time, and a rolled-back
// transaction rolls its increment back too, so positions are gapless and in
// commit order (ARCHITECTURE invariant 2) with no extra locking.
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

  // Appends the change at `pos` (already taken from write_lock by the caller,
  // in this transaction). REQUIRES: inside the mutation's transaction.
  Status Append(meta::PgConn* c, uint64_t pos);

 private:
  std::string tenant_;
  std::set<uint64_t> inodes_;
  std::set<std::pair<uint64_t, std::string>> dentries_;
  std::map<uint64_t, std::vector<BlockRef>> blocks_;
  std::vector<uint64_t> freed_;
};

}  // namespace meridian::primary
