#include "primary/change_recorder.h"

#include <cstring>

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "common/clock.h"
#include "meta/catalog.h"

namespace meridian::primary {

using meta::Param;

changelog::UpsertInode ToUpsert(const meta::Attr& a) {
  changelog::UpsertInode u;
  u.ino = a.ino;
  u.kind = static_cast<int16_t>(a.kind);
  u.mode = a.mode;
  u.uid = a.uid;
  u.gid = a.gid;
  u.size = a.size;
  u.mtime_ns = a.mtime_ns;
  u.ctime_ns = a.ctime_ns;
  u.nlink = a.nlink;
  u.target = a.target;
  return u;
}

void ChangeRecorder::Reset(std::string tenant) {
  tenant_ = std::move(tenant);
  inodes_.clear();
  dentries_.clear();
  blocks_.clear();
  freed_.clear();
}

Status ChangeRecorder::Append(meta::PgConn* c, uint64_t pos) {
  changelog::Change change;
  change.pos = pos;
  change.commit_time_ns = NowUnixNs();
  change.tenant = tenant_;
  // Order matters to a replica with foreign keys: inodes exist before entries
  // point at them, entries are gone before their inodes go.
  std::vector<changelog::Op> deleted_inodes, deleted_dentries, upserted_dentries;
  for (uint64_t ino : inodes_) {
    MERIDIAN_ASSIGN_OR_RETURN(
        auto r, c->Exec("SELECT ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink, target"
                        " FROM inodes WHERE ino = $1",
                        {Param::Int(static_cast<int64_t>(ino))}));
    if (r.rows() == 0) {
      deleted_inodes.push_back(changelog::DeleteInode{ino});
      continue;
    }
    changelog::UpsertInode u = ToUpsert(meta::AttrFromRow(r, 0, 0));
    if (auto it = blocks_.find(ino); it != blocks_.end()) {
      u.has_blocks = true;
      u.blocks = it->second;
    }
    change.ops.push_back(std::move(u));
  }
  for (const auto& [parent, name] : dentries_) {
    MERIDIAN_ASSIGN_OR_RETURN(
        auto r, c->Exec("SELECT ino, kind FROM dentries WHERE parent = $1 AND name = $2",
                        {Param::Int(static_cast<int64_t>(parent)), Param::Bytes(name)}));
    if (r.rows() == 0) {
      deleted_dentries.push_back(changelog::DeleteDentry{parent, name});
    } else {
      upserted_dentries.push_back(changelog::UpsertDentry{parent, name,
                                                          static_cast<uint64_t>(r.GetInt(0, 0)),
                                                          static_cast<int16_t>(r.GetInt(0, 1))});
    }
  }
  for (auto* group : {&deleted_dentries, &upserted_dentries, &deleted_inodes}) {
    for (auto& op : *group) change.ops.push_back(std::move(op));
  }
  if (!freed_.empty()) change.ops.push_back(changelog::FreeBlocks{freed_});

  std::string body = changelog::EncodeChange(change);
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("INSERT INTO changelog (pos, commit_time_ns, tenant, body) VALUES ($1, $2, $3, $4)",
             {Param::Int(static_cast<int64_t>(pos)), Param::Int(change.commit_time_ns),
              Param::Bytes(tenant_), Param::Bytes(body)}));
  return c->Run("SELECT pg_notify('meridian_changelog', $1)", {Param::Text(std::to_string(pos))});
}

}  // namespace meridian::primary
