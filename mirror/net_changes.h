// NetChanges: the net effect of consecutive change-log entries, so that a
// batch of them is applied to a replica with a handful of bulk statements
// instead of one statement per row.
//
// Why this is exact: every op of a Change is the FINAL state of one row
// (an upsert or a delete, never an increment; changelog/entry.h), so the state
// of a row after a run of changes is its last op in that run. The applier
// applies the whole run in one transaction, so no reader can tell the
// difference between row-by-row and net application (docs/architecture.md invariant 3 is about
// transaction boundaries, which stay the same).
//
// Subtleties kept here so the applier does not have to know them:
//  - An UpsertInode without blocks keeps the blocks the row had. If an
//    earlier op in the run set blocks, they are kept; if the inode was
//    deleted earlier in the run (its blocks cascaded away), the net upsert
//    replaces the blocks with the empty list.
//  - Freed block ids accumulate; the volume record and each tenant's
//    ownership record are the last ones seen.
//
// Foreign-key-safe order for applying (ApplyOrder): delete dentries, upsert
// inodes, replace blocks, upsert dentries, delete inodes. A net-deleted inode
// has no dentry left pointing at it in the final state, so by the time it is
// deleted every entry that named it is gone or re-pointed.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "changelog/entry.h"

namespace meridian::mirror {

class NetChanges {
 public:
  // Adds the ops of `change` after everything added before.
  void Add(const changelog::Change& change);
  bool empty() const;

  // Final state per key: a value is an upsert, nullopt a delete.
  const std::map<uint64_t, std::optional<changelog::UpsertInode>>& inodes() const {
    return inodes_;
  }
  const std::map<std::pair<uint64_t, std::string>, std::optional<changelog::UpsertDentry>>&
  dentries() const {
    return dentries_;
  }
  const std::vector<uint64_t>& freed_blocks() const { return freed_; }
  const std::optional<changelog::SetVolume>& volume() const { return volume_; }
  const std::map<uint64_t, changelog::SetTenant>& tenants() const { return tenants_; }

 private:
  std::map<uint64_t, std::optional<changelog::UpsertInode>> inodes_;
  std::map<std::pair<uint64_t, std::string>, std::optional<changelog::UpsertDentry>> dentries_;
  std::vector<uint64_t> freed_;
  std::optional<changelog::SetVolume> volume_;
  std::map<uint64_t, changelog::SetTenant> tenants_;
};

}  // namespace meridian::mirror
