#include "primary/change_recorder.h"

#include <cstring>
#include <map>

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "common/clock.h"
#include "common/hash.h"
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
  change_ = changelog::Change();
  append_sql_.clear();
}

Status ChangeRecorder::Collect(meta::PgConn* c) {
  changelog::Change& change = change_;
  change = changelog::Change();
  change.tenant = tenant_;
  // Order matters to a replica with foreign keys: inodes exist before entries
  // point at them, entries are gone before their inodes go.
  std::vector<changelog::Op> deleted_inodes, deleted_dentries, upserted_dentries;
  // The final state of every touched row, in one round trip: rows tagged 'i'
  // are inodes (columns 1-10), rows tagged 'd' are the touched entries
  // (columns 11-14: parent, name, and the entry's ino and kind, NULL if gone).
  std::vector<int64_t> inos(inodes_.begin(), inodes_.end());
  std::vector<int64_t> parents;
  std::vector<std::optional<std::string>> names;
  for (const auto& [parent, name] : dentries_) {
    parents.push_back(static_cast<int64_t>(parent));
    names.push_back(name);
  }
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r,
      c->Exec("SELECT 'i', ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink, target,"
              " NULL::bigint, NULL::bytea, NULL::bigint, NULL::smallint"
              " FROM inodes WHERE ino = ANY($1::bigint[])"
              " UNION ALL"
              " SELECT 'd', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
              " x.parent, x.name, d.ino, d.kind"
              " FROM unnest($2::bigint[], $3::bytea[]) AS x(parent, name)"
              " LEFT JOIN dentries d ON d.parent = x.parent AND d.name = x.name",
              {Param::IntArray(inos), Param::IntArray(parents), Param::BytesArray(names)}));
  std::map<uint64_t, meta::Attr> found;
  std::map<std::pair<uint64_t, std::string>, std::pair<uint64_t, int16_t>> now;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.Get(i, 0) == "i") {
      meta::Attr a = meta::AttrFromRow(r, i, 1);
      found.emplace(a.ino, a);
    } else if (!r.IsNull(i, 13)) {
      now[{static_cast<uint64_t>(r.GetInt(i, 11)), r.GetBytes(i, 12)}] = {
          static_cast<uint64_t>(r.GetInt(i, 13)), static_cast<int16_t>(r.GetInt(i, 14))};
    }
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
  for (const auto& [parent, name] : dentries_) {
    auto it = now.find({parent, name});
    if (it == now.end()) {
      deleted_dentries.push_back(changelog::DeleteDentry{parent, name});
    } else {
      upserted_dentries.push_back(
          changelog::UpsertDentry{parent, name, it->second.first, it->second.second});
    }
  }
  for (auto* group : {&deleted_dentries, &upserted_dentries, &deleted_inodes}) {
    for (auto& op : *group) change.ops.push_back(std::move(op));
  }
  if (!freed_.empty()) change.ops.push_back(changelog::FreeBlocks{freed_});
  return Status::OK();
}

void ChangeRecorder::Seal(const EntryPositions& at) {
  changelog::Change& change = change_;
  change.pos = at.pos;
  change.tenant_id = at.tenant_id;
  change.tenant_pos = at.tenant_pos;
  change.epoch = at.epoch;
  change.commit_time_ns = NowUnixNs();
  // Every value is an integer or a hex bytea literal (E'\\x...' reads the
  // same whatever standard_conforming_strings says), so the statement can go
  // in a simple-query script, before COMMIT, with no parameters.
  auto bytea = [](std::string_view v) { return "E'\\\\x" + ToHex(v) + "'::bytea"; };
  append_sql_ =
      "WITH row AS (INSERT INTO changelog (pos, commit_time_ns, tenant, body, tenant_id,"
      " tenant_pos, epoch) VALUES (" +
      std::to_string(at.pos) + ", " + std::to_string(change.commit_time_ns) + ", " +
      bytea(tenant_) + ", " + bytea(changelog::EncodeChange(change)) + ", " +
      std::to_string(at.tenant_id) + ", " + std::to_string(at.tenant_pos) + ", " +
      std::to_string(at.epoch) +
      ") RETURNING pos) SELECT pg_notify('meridian_changelog', pos::text) FROM row";
  if (!freed_.empty()) {  // GC waits for every mirror to acknowledge this position
    std::string ids;
    for (uint64_t id : freed_) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    append_sql_ += "; UPDATE deleted_blocks SET freed_pos = " + std::to_string(at.pos) +
                   " WHERE id = ANY('{" + ids + "}'::bigint[])";
  }
}

}  // namespace meridian::primary
