#include "mirror/applier.h"

#include <glog/logging.h>

#include <algorithm>

#include "meta/catalog.h"
#include "meta/notify.h"
#include "mirror/apply_fence.h"
#include "mirror/net_changes.h"

namespace meridian::mirror {
namespace {

using meta::Param;
Param I(int64_t v) { return Param::Int(v); }
Param U(uint64_t v) { return Param::Int(static_cast<int64_t>(v)); }

}  // namespace

Result<SiteState> Applier::State() {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec("SELECT applied_pos, applied_time_ns, applied_changes, snapshot_pos"
                       " FROM site_state"));
  if (r.rows() != 1) return Status::FailedPrecondition("replica has no site_state row");
  return SiteState{static_cast<uint64_t>(r.GetInt(0, 0)), r.GetInt(0, 1),
                   static_cast<uint64_t>(r.GetInt(0, 2)), static_cast<uint64_t>(r.GetInt(0, 3))};
}

// Rows per bulk statement: large enough to amortize the round trip, small
// enough that one statement's arrays stay a few MB.
constexpr size_t kSlice = 8192;

// Calls `fn(begin, end)` for consecutive slices of [0, n).
template <typename F>
Status ForSlices(size_t n, F&& fn) {
  for (size_t i = 0; i < n; i += kSlice) {
    MERIDIAN_RETURN_IF_ERROR(fn(i, std::min(n, i + kSlice)));
  }
  return Status::OK();
}

// Step 2 of ApplyNet: up[b, e) as they are now, one bulk upsert.
Status UpsertInodes(meta::PgConn* c, const std::vector<const changelog::UpsertInode*>& up, size_t b,
                    size_t e) {
  std::vector<int64_t> ino, kind, mode, uid, gid, size, mtime, ctime, nlink;
  std::vector<std::optional<std::string>> target;
  for (size_t i = b; i < e; ++i) {
    const changelog::UpsertInode& o = *up[i];
    ino.push_back(static_cast<int64_t>(o.ino));
    kind.push_back(o.kind);
    mode.push_back(o.mode);
    uid.push_back(o.uid);
    gid.push_back(o.gid);
    size.push_back(static_cast<int64_t>(o.size));
    mtime.push_back(o.mtime_ns);
    ctime.push_back(o.ctime_ns);
    nlink.push_back(o.nlink);
    target.push_back(o.kind == 3 ? std::optional<std::string>(o.target) : std::nullopt);
  }
  return c->Run(
      "INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink, target)"
      " SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::integer[], $4::integer[],"
      " $5::integer[], $6::bigint[], $7::bigint[], $8::bigint[], $9::integer[], $10::bytea[])"
      " ON CONFLICT (ino) DO UPDATE SET kind = EXCLUDED.kind, mode = EXCLUDED.mode,"
      " uid = EXCLUDED.uid, gid = EXCLUDED.gid, size = EXCLUDED.size,"
      " mtime_ns = EXCLUDED.mtime_ns, ctime_ns = EXCLUDED.ctime_ns, nlink = EXCLUDED.nlink,"
      " target = EXCLUDED.target",
      {Param::IntArray(ino), Param::IntArray(kind), Param::IntArray(mode), Param::IntArray(uid),
       Param::IntArray(gid), Param::IntArray(size), Param::IntArray(mtime), Param::IntArray(ctime),
       Param::IntArray(nlink), Param::BytesArray(target)});
}

// Ownership records (the root's at format, every tenant's in a snapshot).
// None may name this site: it owns nothing it was not handed.
Status Applier::ApplyTenants(const NetChanges& net) {
  if (net.tenants().empty()) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(auto self, c_->Exec("SELECT name FROM site_self"));
  for (const auto& [id, t] : net.tenants()) {
    if (self.rows() == 1 && t.owner == self.GetBytes(0, 0)) {
      ++rejected_;
      return Status::FailedPrecondition(
          "refused an ownership record that names this site (" + t.owner + ") owner of tenant " +
          std::to_string(id) + ": two sites of one volume have the same name; give this one " +
          "another --name and a new, empty database");
    }
  }
  for (const auto& [id, t] : net.tenants()) {
    MERIDIAN_RETURN_IF_ERROR(c_->Run(
        "INSERT INTO tenants (tenant_id, owner, epoch, state, head) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id) DO UPDATE SET owner = $2, epoch = $3, state = $4, head = $5",
        {U(id), Param::Text(t.owner), U(t.epoch),
         Param::Text(t.state == changelog::kTenantFrozen ? "frozen" : "active"), U(t.head)}));
  }
  return Status::OK();
}

Status Applier::ApplyNet(const NetChanges& net, uint64_t first_pos) {
  std::vector<const changelog::UpsertInode*> up_inodes;
  std::vector<int64_t> del_inodes;
  for (const auto& [ino, st] : net.inodes()) {
    if (st) {
      up_inodes.push_back(&*st);
    } else {
      del_inodes.push_back(static_cast<int64_t>(ino));
    }
  }
  std::vector<const changelog::UpsertDentry*> up_dentries;
  std::vector<const std::pair<uint64_t, std::string>*> del_dentries;
  for (const auto& [key, st] : net.dentries()) {
    if (st) {
      up_dentries.push_back(&*st);
    } else {
      del_dentries.push_back(&key);
    }
  }
  // 1. Entries that are gone.
  MERIDIAN_RETURN_IF_ERROR(ForSlices(del_dentries.size(), [&](size_t b, size_t e) {
    std::vector<int64_t> parents;
    std::vector<std::optional<std::string>> names;
    for (size_t i = b; i < e; ++i) {
      parents.push_back(static_cast<int64_t>(del_dentries[i]->first));
      names.push_back(del_dentries[i]->second);
    }
    return c_->Run(
        "DELETE FROM dentries d USING unnest($1::bigint[], $2::bytea[]) AS x(parent, name)"
        " WHERE d.parent = x.parent AND d.name = x.name",
        {Param::IntArray(parents), Param::BytesArray(names)});
  }));
  // 2. Inodes as they are now, and 3. the block lists that were replaced.
  MERIDIAN_RETURN_IF_ERROR(ForSlices(
      up_inodes.size(), [&](size_t b, size_t e) { return UpsertInodes(c_, up_inodes, b, e); }));
  std::vector<int64_t> replaced;
  std::vector<meta::BlockRow> block_rows;
  for (const auto* o : up_inodes) {
    if (!o->has_blocks) continue;
    replaced.push_back(static_cast<int64_t>(o->ino));
    for (const BlockRef& b : o->blocks) block_rows.push_back({o->ino, &b});
  }
  MERIDIAN_RETURN_IF_ERROR(ForSlices(replaced.size(), [&](size_t b, size_t e) {
    return c_->Run("DELETE FROM blocks WHERE ino = ANY($1::bigint[])",
                   {Param::IntArray({replaced.begin() + b, replaced.begin() + e})});
  }));
  MERIDIAN_RETURN_IF_ERROR(ForSlices(block_rows.size(), [&](size_t b, size_t e) {
    return meta::InsertBlocks(c_, block_rows, b, e);
  }));
  if (enqueue_blocks_) {
    MERIDIAN_RETURN_IF_ERROR(ForSlices(block_rows.size(), [&](size_t b, size_t e) {
      std::vector<int64_t> ids;
      for (size_t i = b; i < e; ++i) ids.push_back(static_cast<int64_t>(block_rows[i].ref->id));
      return c_->Run(
          "INSERT INTO replication_queue (id, pos) SELECT x.id, $2 FROM unnest($1::bigint[]) x(id)"
          " WHERE NOT EXISTS (SELECT 1 FROM replicated_blocks r WHERE r.id = x.id)"
          " ON CONFLICT DO NOTHING",
          {Param::IntArray(ids), U(first_pos)});
    }));
  }
  // 4. Entries as they are now.
  MERIDIAN_RETURN_IF_ERROR(ForSlices(up_dentries.size(), [&](size_t b, size_t e) {
    std::vector<int64_t> parent, ino, kind;
    std::vector<std::optional<std::string>> name;
    for (size_t i = b; i < e; ++i) {
      parent.push_back(static_cast<int64_t>(up_dentries[i]->parent));
      name.push_back(up_dentries[i]->name);
      ino.push_back(static_cast<int64_t>(up_dentries[i]->ino));
      kind.push_back(up_dentries[i]->kind);
    }
    return c_->Run(
        "INSERT INTO dentries (parent, name, ino, kind)"
        " SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::smallint[])"
        " ON CONFLICT (parent, name) DO UPDATE SET ino = EXCLUDED.ino, kind = EXCLUDED.kind",
        {Param::IntArray(parent), Param::BytesArray(name), Param::IntArray(ino),
         Param::IntArray(kind)});
  }));
  // 5. Inodes that are gone (their blocks cascade).
  MERIDIAN_RETURN_IF_ERROR(ForSlices(del_inodes.size(), [&](size_t b, size_t e) {
    return c_->Run("DELETE FROM inodes WHERE ino = ANY($1::bigint[])",
                   {Param::IntArray({del_inodes.begin() + b, del_inodes.begin() + e})});
  }));
  // Freed blocks: remembered for the replicator's delayed GC.
  std::vector<int64_t> freed(net.freed_blocks().begin(), net.freed_blocks().end());
  MERIDIAN_RETURN_IF_ERROR(ForSlices(freed.size(), [&](size_t b, size_t e) {
    return c_->Run(
        "INSERT INTO deleted_blocks (id, stored_len)"
        " SELECT DISTINCT unnest($1::bigint[]), 0 ON CONFLICT DO NOTHING",
        {Param::IntArray({freed.begin() + b, freed.begin() + e})});
  }));
  MERIDIAN_RETURN_IF_ERROR(ApplyTenants(net));
  if (const auto& o = net.volume()) {
    return c_->Run(
        "INSERT INTO volume (name, uuid, bucket, endpoint, block_size, compression, role)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'mirror') ON CONFLICT (singleton) DO UPDATE"
        " SET name = $1, uuid = $2, bucket = $3, endpoint = $4, block_size = $5,"
        " compression = $6, role = 'mirror'",
        {Param::Text(o->name), Param::Text(o->uuid), Param::Text(o->bucket),
         Param::Text(o->endpoint), I(o->block_size), Param::Text(o->compression)});
  }
  return Status::OK();
}

namespace {

// What readers at this site (mounts) must forget: every inode a run changed
// and every directory whose entries changed (meta/notify.h).
void AddTouched(const NetChanges& net, std::set<uint64_t>* touched) {
  for (const auto& [ino, op] : net.inodes()) touched->insert(ino);
  for (const auto& [key, op] : net.dentries()) touched->insert(key.first);
}

}  // namespace

Result<ApplyStats> Applier::Apply(const std::vector<changelog::Change>& changes) {
  ApplyStats stats;
  if (changes.empty()) return stats;
  Status st = meta::InTransaction(c_, [&]() -> Status {
    stats = ApplyStats{};
    // Lock the cursor row: one applier per replica at a time.
    MERIDIAN_ASSIGN_OR_RETURN(auto r, c_->Exec("SELECT applied_pos FROM site_state FOR UPDATE"));
    uint64_t pos = static_cast<uint64_t>(r.GetInt(0, 0));
    int64_t time_ns = 0;
    uint64_t first = pos + 1;
    ApplyFence fence(c_);
    NetChanges net;              // this run
    std::set<uint64_t> touched;  // by every run (for readers' notification)
    // Writes the run so far; the next one starts after it.
    auto end_run = [&]() -> Status {
      MERIDIAN_RETURN_IF_ERROR(
          ApplyNet(net, first).With("applying change-log entries up to " + std::to_string(pos)));
      AddTouched(net, &touched);
      net = NetChanges();
      first = pos + 1;
      return fence.Flush();
    };
    for (const auto& ch : changes) {
      if (ch.pos <= pos) {
        ++stats.skipped;
        continue;
      }
      if (ch.pos != pos + 1) {
        return Status::FailedPrecondition("change-log gap: replica is at " + std::to_string(pos) +
                                          ", next entry is " + std::to_string(ch.pos) +
                                          " (resubscribe from " + std::to_string(pos) + ")");
      }
      const bool carried = Carries(ch.tenant);
      // T2: the next position of its tenant, in its current epoch. An entry
      // of a tenant this site does not carry has no row here to check.
      Status admitted = fence.Admit(ch);
      if (!admitted.ok() && !admitted.IsNotFound() &&
          admitted.code() != Code::kFailedPrecondition) {
        return admitted;  // the database's error (InTransaction retries what it can)
      }
      if (!admitted.ok() && (carried || !admitted.IsNotFound())) {
        ++rejected_;
        LOG(ERROR) << "applier: " << admitted.ToString() << "; nothing applied";
        return Status::FailedPrecondition(admitted.message());
      }
      if (carried) {
        net.Add(ch);
        ++stats.applied;
      } else {
        ++stats.filtered;
      }
      pos = ch.pos;
      time_ns = ch.commit_time_ns;
      // A new tenant's row exists once the entry that made it is written.
      if (carried && MakesTenant(ch)) MERIDIAN_RETURN_IF_ERROR(end_run());
    }
    if (stats.applied + stats.filtered == 0) return Status::OK();
    MERIDIAN_RETURN_IF_ERROR(end_run());
    // The notification is delivered at commit, when the change is visible.
    return c_->Run(
        "WITH s AS (UPDATE site_state SET applied_pos = $1, applied_time_ns = $2,"
        " applied_changes = applied_changes + $3 RETURNING 1)"
        " SELECT pg_notify('meridian_applied', $4) FROM s",
        {U(pos), I(time_ns), U(stats.applied + stats.filtered),
         Param::Text(meta::AppliedPayload(pos, {touched.begin(), touched.end()}))});
  });
  if (!st.ok()) return st;
  return stats;
}

Status Applier::InstallSnapshot(uint64_t pos, const std::vector<changelog::Change>& chunks) {
  Status st = BeginSnapshot();
  for (size_t i = 0; st.ok() && i < chunks.size(); ++i) st = AddSnapshotChunk(pos, chunks[i]);
  if (st.ok()) st = FinishSnapshot(pos);
  if (!st.ok()) AbortSnapshot();
  return st;
}

Status Applier::BeginSnapshot() {
  AbortSnapshot();  // a previous one that was never finished
  Status st = c_->RunScript(
      "BEGIN; SELECT 1 FROM site_state FOR UPDATE;"
      " DELETE FROM dentries; DELETE FROM blocks; DELETE FROM inodes");
  if (!st.ok()) {
    c_->Rollback();
    return st.With("starting to install a snapshot");
  }
  in_snapshot_ = true;
  snapshot_has_root_tenant_ = false;
  return Status::OK();
}

Status Applier::AddSnapshotChunk(uint64_t pos, const changelog::Change& chunk) {
  if (!in_snapshot_) return Status::FailedPrecondition("snapshot chunk outside a snapshot");
  if (!Carries(chunk.tenant)) return Status::OK();
  NetChanges net;
  net.Add(chunk);
  if (net.tenants().count(changelog::kRootTenant)) snapshot_has_root_tenant_ = true;
  Status st = ApplyNet(net, pos);
  if (!st.ok()) AbortSnapshot();
  return st.With("installing the snapshot at " + std::to_string(pos));
}

Status Applier::FinishSnapshot(uint64_t pos) {
  if (!in_snapshot_) return Status::FailedPrecondition("end of a snapshot that was not begun");
  // Blocks copied to this site's bucket that the snapshot no longer
  // references were freed in log entries this site never saw: queue them
  // for the mirror bucket's GC like any freed block.
  Status st = c_->Run(
      "INSERT INTO deleted_blocks (id, stored_len) SELECT r.id, r.stored_len"
      " FROM replicated_blocks r WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = r.id)"
      " ON CONFLICT DO NOTHING");
  // A snapshot from a primary that predates tenants has no ownership records:
  // its one log is the root's, so the root is at the snapshot's position.
  if (st.ok() && !snapshot_has_root_tenant_) {
    st = c_->Run("UPDATE tenants SET head = $1 WHERE tenant_id = 1", {U(pos)});
  }
  if (st.ok()) {
    st = c_->Run(
        "WITH s AS (UPDATE site_state SET applied_pos = $1, snapshot_pos = $1, applied_time_ns = 0"
        " RETURNING 1) SELECT pg_notify('meridian_applied', $2) FROM s",
        {U(pos), Param::Text(std::to_string(pos) + " *")});
  }
  if (st.ok()) st = c_->Commit();
  if (!st.ok()) AbortSnapshot();
  in_snapshot_ = false;
  return st.With("installing the snapshot at " + std::to_string(pos));
}

void Applier::AbortSnapshot() {
  if (!in_snapshot_) return;
  c_->Rollback();
  in_snapshot_ = false;
}

}  // namespace meridian::mirror
