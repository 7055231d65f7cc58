// The change-log entry model: what a mirror needs to reproduce one committed
// primary transaction exactly.
//
// One Change per committed namespace mutation, at a gapless position `pos`
// (1, 2, 3, ...; positions are handed out under the primary's write lock, so
// pos n+1 is the next commit after pos n). A Change holds the final state of
// every row the transaction touched: ops are upserts and deletes of state,
// never increments, so applying a Change twice leaves the replica as applying
// it once did. Every Change names its tenant (the top-level directory it
// belongs to; "" for changes to the root directory itself).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/block.h"

namespace meridian::changelog {

// The inode row as it is after the transaction.
struct UpsertInode {
  uint64_t ino = 0;
  int16_t kind = 0;  // meta::FileKind
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint32_t nlink = 0;
  std::string target;  // symlinks
  // Files: the complete block list (replaces whatever the replica had).
  bool has_blocks = false;
  std::vector<BlockRef> blocks;
  bool operator==(const UpsertInode&) const = default;
};
// The inode (and its blocks) no longer exists.
struct DeleteInode {
  uint64_t ino = 0;
  bool operator==(const DeleteInode&) const = default;
};
// The directory entry (parent, name) points at ino.
struct UpsertDentry {
  uint64_t parent = 0;
  std::string name;
  uint64_t ino = 0;
  int16_t kind = 0;
  bool operator==(const UpsertDentry&) const = default;
};
// The directory entry (parent, name) no longer exists.
struct DeleteDentry {
  uint64_t parent = 0;
  std::string name;
  bool operator==(const DeleteDentry&) const = default;
};
// Blocks no file references any more (for the replicator's delayed GC).
struct FreeBlocks {
  std::vector<uint64_t> ids;
  bool operator==(const FreeBlocks&) const = default;
};

// The volume record (written once, by `format`, at position 1): what a mirror
// needs to read the primary's blocks (name = key prefix, block size, ...).
struct SetVolume {
  std::string name, uuid, bucket, endpoint, compression;
  uint32_t block_size = 0;
  bool operator==(const SetVolume&) const = default;
};

using Op =
    std::variant<UpsertInode, DeleteInode, UpsertDentry, DeleteDentry, FreeBlocks, SetVolume>;

struct Change {
  uint64_t pos = 0;
  int64_t commit_time_ns = 0;  // primary's clock at commit (for lag in seconds)
  std::string tenant;          // top-level directory name, "" for the root itself
  std::vector<Op> ops;         // apply in order, in one replica transaction
  bool operator==(const Change&) const = default;
};

}  // namespace meridian::changelog
