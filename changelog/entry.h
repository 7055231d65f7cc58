// The change-log entry model: what a mirror needs to reproduce one committed
// primary transaction exactly.
//
// One Change per committed namespace mutation. A Change sits in two orders at
// once:
//   - `pos`, its place in the primary's single ordered stream (1, 2, 3, ...;
//     handed out under the primary's write lock, so pos n+1 is the next commit
//     after pos n): what a frame's `first_pos` counts and a mirror acks;
//   - (`tenant_id`, `tenant_pos`), its place in its tenant's own gapless log
//     (1, 2, 3, ... per tenant), written by the tenant's owner in ownership
//     `epoch` (docs/tenants.md).
// A tenant is a top-level directory, identified by that directory's inode
// number; kRootTenant is the root directory itself. `tenant` (the directory
// name, "" for the root) stays what `--include` filters on.
//
// A Change holds the final state of every row the transaction touched: ops are
// upserts and deletes of state, never increments, so applying a Change twice
// leaves the replica as applying it once did.
//
// Encoding: pos, commit_time_ns, tenant and ops are the change body
// (EncodeChange), stored by the primary and shipped verbatim; tenant_id,
// tenant_pos and epoch travel beside the body, in the frame entry
// (docs/changelog-format.md).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/block.h"

namespace meridian::changelog {

// The root directory's inode number, and so the root's tenant id. Tenant ids
// are the inode numbers of top-level directories: never 0.
inline constexpr uint64_t kRootTenant = 1;

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

// SetTenant.state values.
inline constexpr uint8_t kTenantActive = 0;  // the owner takes writes
inline constexpr uint8_t kTenantFrozen = 1;  // writes are held (a move is under way)

// The tenant's ownership record is now this: `owner` (a site name, valid per
// common/site_name.h CheckSiteName) writes tenant `tenant_id` (>= 1) in
// ownership `epoch` (>= 1); `state` is kTenantActive or kTenantFrozen; `head`
// is the newest position of the tenant's log.
struct SetTenant {
  uint64_t tenant_id = 0;
  std::string owner;
  uint64_t epoch = 0;
  uint8_t state = 0;
  uint64_t head = 0;
  bool operator==(const SetTenant&) const = default;
};

// New alternatives go at the end (code may rely on the existing indices).
using Op = std::variant<UpsertInode, DeleteInode, UpsertDentry, DeleteDentry, FreeBlocks, SetVolume,
                        SetTenant>;

struct Change {
  uint64_t pos = 0;                  // global position (the primary's single stream)
  uint64_t tenant_id = kRootTenant;  // which tenant log: its top-level directory's inode
  uint64_t tenant_pos = 0;           // position in that log (>= 1 once framed; gapless)
  uint64_t epoch = 1;                // the tenant owner's epoch when this was written
  int64_t commit_time_ns = 0;        // primary's clock at commit (for lag in seconds)
  std::string tenant;                // top-level directory name, "" for the root itself
  std::vector<Op> ops;               // apply in order, in one replica transaction
  bool operator==(const Change&) const = default;
};

}  // namespace meridian::changelog
