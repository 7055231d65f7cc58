#include "primary/change_recorder.h"

#include <cstring>
#include <map>

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
  // The final state of every touched row, two round trips in all.
  std::vector<int64_t> inos(inodes_.begin(), inodes_.end());
  MERIDIAN_ASSIGN_OR_RETURN(
      auto ir, c->Exec("SELECT ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink, target"
                       " FROM inodes WHERE ino = ANY($1::bigint[]) ORDER BY ino",
                       {Param::IntArray(inos)}));
  std::map<uint64_t, meta::Attr> found;
  for (int i = 0; i < ir.rows(); ++i) {
    meta::Attr a = meta::AttrFromRow(ir, i, 0);
    found.emplace(a.ino, a);
  }
  for (uint64_t ino : inodes_) {
    auto it = found.find(ino);
    if (it == found.end()) {
      deleted_inodes.push_back(changelog::DeleteInode{ino});
      continue;
    }
    changelog::UpsertInode u = ToUpsert(it->second);
    if (auto b = blocks_.find(ino); b != blocks_.end()) {
      u.has_blocks = true;
      u.blocks = b->second;
    }
    change.ops.push_back(std::move(u));
  }
  if (!dentries_.empty()) {
    std::vector<int64_t> parents;
    std::vector<std::optional<std::string>> names;
    for (const auto& [parent, name] : dentries_) {
      parents.push_back(static_cast<int64_t>(parent));
      names.push_back(name);
    }
    MERIDIAN_ASSIGN_OR_RETURN(
        auto dr, c->Exec("SELECT x.parent, x.name, d.ino, d.kind"
                         " FROM unnest($1::bigint[], $2::bytea[]) AS x(parent, name)"
                         " LEFT JOIN dentries d ON d.parent = x.parent AND d.name = x.name",
                         {Param::IntArray(parents), Param::BytesArray(names)}));
    std::map<std::pair<uint64_t, std::string>, std::pair<uint64_t, int16_t>> now;
    for (int i = 0; i < dr.rows(); ++i) {
      if (dr.IsNull(i, 2)) continue;
      now[{static_cast<uint64_t>(dr.GetInt(i, 0)), dr.GetBytes(i, 1)}] = {
          static_cast<uint64_t>(dr.GetInt(i, 2)), static_cast<int16_t>(dr.GetInt(i, 3))};
    }
    for (const auto& [parent, name] : dentries_) {
      auto it = now.find({parent, name});
      if (it == now.end()) {
        deleted_dentries.push_back(changelog::DeleteDentry{parent, name});
      } else {
        upserted_dentries.push_back(
            changelog::UpsertDentry{parent, name, it->second.first, it->second.second});
      }
    }
  }
  for (auto* group : {&deleted_dentries, &upserted_dentries, &deleted_inodes}) {
    for (auto& op : *group) change.ops.push_back(std::move(op));
  }
  if (!freed_.empty()) change.ops.push_back(changelog::FreeBlocks{freed_});

  std::string body = changelog::EncodeChange(change);
  return c->Run(
      "WITH row AS (INSERT INTO changelog (pos, commit_time_ns, tenant, body)"
      " VALUES ($1, $2, $3, $4) RETURNING pos)"
      " SELECT pg_notify('meridian_changelog', pos::text) FROM row",
      {Param::Int(static_cast<int64_t>(pos)), Param::Int(change.commit_time_ns),
       Param::Bytes(tenant_), Param::Bytes(body)});
}

}  // namespace meridian::primary
