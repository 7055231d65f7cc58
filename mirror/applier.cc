#include "mirror/applier.h"

#include <type_traits>

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

Status Applier::ApplyOps(const changelog::Change& change) {
  for (const changelog::Op& op : change.ops) {
    Status st = std::visit(
        [&](const auto& o) -> Status {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, changelog::UpsertInode>) {
            MERIDIAN_RETURN_IF_ERROR(c_->Run(
                "INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink,"
                " target) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (ino) DO UPDATE SET kind = $2, mode = $3, uid = $4, gid = $5,"
                " size = $6, mtime_ns = $7, ctime_ns = $8, nlink = $9, target = $10",
                {U(o.ino), I(o.kind), I(o.mode), I(o.uid), I(o.gid), U(o.size), I(o.mtime_ns),
                 I(o.ctime_ns), I(o.nlink), o.kind == 3 ? Param::Bytes(o.target) : Param::Null()}));
            if (!o.has_blocks) return Status::OK();
            MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM blocks WHERE ino = $1", {U(o.ino)}));
            for (const BlockRef& b : o.blocks) {
              MERIDIAN_RETURN_IF_ERROR(c_->Run(
                  "INSERT INTO blocks (ino, idx, id, len, stored_len, comp, sha256)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  {U(o.ino), I(b.index), U(b.id), I(b.length), I(b.stored_length),
                   I(static_cast<int>(b.compression)),
                   Param::Bytes(std::string_view(reinterpret_cast<const char*>(b.checksum.data()),
                                                 b.checksum.size()))}));
            }
            return Status::OK();
          } else if constexpr (std::is_same_v<T, changelog::DeleteInode>) {
            return c_->Run("DELETE FROM inodes WHERE ino = $1", {U(o.ino)});
          } else if constexpr (std::is_same_v<T, changelog::UpsertDentry>) {
            return c_->Run(
                "INSERT INTO dentries (parent, name, ino, kind) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (parent, name) DO UPDATE SET ino = $3, kind = $4",
                {U(o.parent), Param::Bytes(o.name), U(o.ino), I(o.kind)});
          } else if constexpr (std::is_same_v<T, changelog::DeleteDentry>) {
            return c_->Run("DELETE FROM dentries WHERE parent = $1 AND name = $2",
                           {U(o.parent), Param::Bytes(o.name)});
          } else if constexpr (std::is_same_v<T, changelog::SetVolume>) {
            return c_->Run(
                "INSERT INTO volume (name, uuid, bucket, endpoint, block_size, compression, role)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'mirror') ON CONFLICT (singleton) DO UPDATE"
                " SET name = $1, uuid = $2, bucket = $3, endpoint = $4, block_size = $5,"
                " compression = $6, role = 'mirror'",
                {Param::Text(o.name), Param::Text(o.uuid), Param::Text(o.bucket),
                 Param::Text(o.endpoint), I(o.block_size), Param::Text(o.compression)});
          } else {  // FreeBlocks: remembered for the replicator's delayed GC
            for (uint64_t id : o.ids) {
              MERIDIAN_RETURN_IF_ERROR(
                  c_->Run("INSERT INTO deleted_blocks (id, stored_len) VALUES ($1, 0)"
                          " ON CONFLICT DO NOTHING",
                          {U(id)}));
            }
            return Status::OK();
          }
        },
        op);
    if (!st.ok()) {
      return st.With("applying change-log entry " + std::to_string(change.pos));
    }
  }
  return Status::OK();
}

Result<ApplyStats> Applier::Apply(const std::vector<changelog::Change>& changes) {
  ApplyStats stats;
  if (changes.empty()) return stats;
  Status st = meta::InTransaction(c_, [&]() -> Status {
    stats = ApplyStats{};
    // Lock the cursor row: one applier per replica at a time.
    MERIDIAN_ASSIGN_OR_RETURN(auto r, c_->Exec("SELECT applied_pos FROM site_state FOR UPDATE"));
    uint64_t pos = static_cast<uint64_t>(r.GetInt(0, 0));
    int64_t time_ns = 0;
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
      if (Carries(ch.tenant)) {
        MERIDIAN_RETURN_IF_ERROR(ApplyOps(ch));
        ++stats.applied;
      } else {
        ++stats.filtered;
      }
      pos = ch.pos;
      time_ns = ch.commit_time_ns;
    }
    if (stats.applied + stats.filtered == 0) return Status::OK();
    return c_->Run(
        "UPDATE site_state SET applied_pos = $1, applied_time_ns = $2,"
        " applied_changes = applied_changes + $3",
        {U(pos), I(time_ns), U(stats.applied + stats.filtered)});
  });
  if (!st.ok()) return st;
  return stats;
}

Status Applier::InstallSnapshot(uint64_t pos, const std::vector<changelog::Change>& chunks) {
  return meta::InTransaction(c_, [&]() -> Status {
    MERIDIAN_RETURN_IF_ERROR(c_->Run("SELECT 1 FROM site_state FOR UPDATE"));
    MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM dentries"));
    MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM blocks"));
    MERIDIAN_RETURN_IF_ERROR(c_->Run("DELETE FROM inodes"));
    for (const auto& ch : chunks) {
      if (Carries(ch.tenant)) MERIDIAN_RETURN_IF_ERROR(ApplyOps(ch));
    }
    return c_->Run("UPDATE site_state SET applied_pos = $1, snapshot_pos = $1, applied_time_ns = 0",
                   {U(pos)});
  });
}

}  // namespace meridian::mirror
