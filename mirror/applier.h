// Applier: applies the primary's change log to a mirror site's replica.
//
// Contract (docs/architecture.md invariant 3): the replica always equals the primary's
// namespace as of some log position. Apply() runs one replica transaction per
// call that applies the changes in order AND advances `site_state.applied_pos`
// to the last one, so a crash anywhere leaves the replica at the old position
// or the new one, never between. Changes at or below the applied position are
// skipped (counted in `skipped`), a gap is refused: every entry is applied
// exactly once across crashes and reconnects.
//
// Selective mirrors: with a non-empty `include` list, changes of other tenants
// are skipped but still advance the position.
//
// Thread-safety: one Applier per thread (it owns a PgConn's transaction).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "changelog/entry.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::mirror {

class NetChanges;  // mirror/net_changes.h

struct SiteState {
  uint64_t applied_pos = 0;
  int64_t applied_time_ns = 0;
  uint64_t applied_changes = 0;
  uint64_t snapshot_pos = 0;
};

struct ApplyStats {
  uint64_t applied = 0;   // changes applied now
  uint64_t skipped = 0;   // already applied earlier (duplicates from the stream)
  uint64_t filtered = 0;  // other tenants (selective mirror)
};

class Applier {
 public:
  // `include`: tenant names to carry; empty = all. `enqueue_blocks`: the
  // site replicates data (--data replicate), so every block a change adds is
  // queued for the replicator in the same transaction (replication_queue).
  Applier(meta::PgConn* replica, std::set<std::string> include, bool enqueue_blocks = false)
      : c_(replica), include_(std::move(include)), enqueue_blocks_(enqueue_blocks) {}

  Result<SiteState> State();

  // Applies `changes` (consecutive positions) in one transaction.
  Result<ApplyStats> Apply(const std::vector<changelog::Change>& changes);

  // Replaces the whole replica with a snapshot taken at position `pos`: the
  // chunks (each a Change whose ops are upserts) are applied in one
  // transaction that also sets the position, so readers see the old namespace
  // until the new one is complete.
  Status InstallSnapshot(uint64_t pos, const std::vector<changelog::Change>& chunks);

  // The same, a chunk at a time as chunks arrive, so a mirror holds one chunk
  // in memory, not the whole namespace: BeginSnapshot opens the replica's
  // transaction and empties the namespace inside it; AddSnapshotChunk applies
  // one chunk (the snapshot format sends every inode before the entries that
  // point at them); FinishSnapshot sets the position and commits. Until then
  // readers see the old namespace; AbortSnapshot (also after any error) rolls
  // back. Nothing else may use the replica's connection in between.
  Status BeginSnapshot();
  Status AddSnapshotChunk(uint64_t pos, const changelog::Change& chunk);
  Status FinishSnapshot(uint64_t pos);
  void AbortSnapshot();
  bool in_snapshot() const { return in_snapshot_; }
  // Entries refused by fencing at apply (mirror/apply_fence.h) so far; each
  // also fails its Apply() with FailedPrecondition and is logged.
  uint64_t rejected() const { return rejected_; }

  // Whether this site carries `tenant` (--include).
  bool Carries(const std::string& tenant) const {
    return include_.empty() || tenant.empty() || include_.count(tenant) > 0;
  }

 private:
  // Writes the net effect of a run of changes (mirror/net_changes.h) with
  // bulk statements, inside the caller's transaction. `first_pos`: the first
  // position of the run (recorded with queued blocks).
  Status ApplyNet(const NetChanges& net, uint64_t first_pos);
  Status ApplyTenants(const NetChanges& net);  // ApplyNet's ownership records

  meta::PgConn* c_;
  std::set<std::string> include_;
  bool enqueue_blocks_;
  bool in_snapshot_ = false;               // a BeginSnapshot transaction is open
  bool snapshot_has_root_tenant_ = false;  // the open snapshot carried the root's record
  uint64_t rejected_ = 0;
};

}  // namespace meridian::mirror
