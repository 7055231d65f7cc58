#include "mirror/apply_fence.h"

#include <variant>
#include <vector>

namespace meridian::mirror {

using meta::Param;

Status ApplyFence::Admit(const changelog::Change& ch) {
  auto it = rows_.find(ch.tenant_id);
  if (it == rows_.end()) {
    MERIDIAN_ASSIGN_OR_RETURN(
        auto r, c_->Exec("SELECT t.head, t.epoch, d.name FROM tenants t LEFT JOIN dentries d"
                         " ON d.parent = 1 AND d.ino = t.tenant_id"
                         " WHERE t.tenant_id = $1 FOR UPDATE OF t",
                         {Param::Int(static_cast<int64_t>(ch.tenant_id))}));
    if (r.rows() == 0) {
      return Status::NotFound("change-log entry " + std::to_string(ch.pos) + " is for tenant " +
                              std::to_string(ch.tenant_id) + ", which this site does not know");
    }
    it = rows_
             .emplace(ch.tenant_id, Cursor{static_cast<uint64_t>(r.GetInt(0, 0)),
                                           static_cast<uint64_t>(r.GetInt(0, 1)), false,
                                           r.IsNull(0, 2) ? std::string() : r.GetBytes(0, 2)})
             .first;
  }
  Cursor& cur = it->second;
  MERIDIAN_RETURN_IF_ERROR(CheckScope(ch, cur.name));
  // Ownership records travel in the volume's first entry (the root's, at
  // format) and in snapshots; a log entry anywhere else carrying one would
  // rewrite who owns a tenant behind every fence.
  for (const changelog::Op& op : ch.ops) {
    const auto* set = std::get_if<changelog::SetTenant>(&op);
    if (set != nullptr && !(ch.tenant_id == changelog::kRootTenant && ch.tenant_pos == 1 &&
                            set->tenant_id == changelog::kRootTenant)) {
      return Status::FailedPrecondition("rejected change-log entry " + std::to_string(ch.pos) +
                                        ": it carries an ownership record for tenant " +
                                        std::to_string(set->tenant_id) +
                                        ", which only the root's first entry and snapshots may");
    }
  }
  if (ch.tenant_pos != cur.head + 1 || ch.epoch != cur.epoch) {
    return Status::FailedPrecondition(
        "rejected change-log entry " + std::to_string(ch.pos) + ": tenant " +
        std::to_string(ch.tenant_id) + " position " + std::to_string(ch.tenant_pos) + " epoch " +
        std::to_string(ch.epoch) + ", but this site expects position " +
        std::to_string(cur.head + 1) + " epoch " + std::to_string(cur.epoch));
  }
  cur.head = ch.tenant_pos;
  cur.dirty = true;
  for (const changelog::Op& op : ch.ops) {
    // The root's own record (checked above): the entry's position stands.
    if (const auto* set = std::get_if<changelog::SetTenant>(&op)) cur.epoch = set->epoch;
  }
  return Status::OK();
}

Status ApplyFence::CheckScope(const changelog::Change& ch, const std::string& name) {
  auto refuse = [&](const std::string& why) {
    return Status::FailedPrecondition("rejected change-log entry " + std::to_string(ch.pos) +
                                      " of tenant " + std::to_string(ch.tenant_id) + ": " + why);
  };
  const bool root = ch.tenant_id == changelog::kRootTenant;
  if (!root && ch.tenant != name) return refuse("its tenant name is not that directory's");
  for (const changelog::Op& op : ch.ops) {
    const auto* up = std::get_if<changelog::UpsertDentry>(&op);
    const auto* del = std::get_if<changelog::DeleteDentry>(&op);
    const auto* inode = std::get_if<changelog::UpsertInode>(&op);
    const uint64_t parent = up ? up->parent : del ? del->parent : 0;
    if (!root && (parent == changelog::kRootTenant ||
                  (inode != nullptr && inode->ino == changelog::kRootTenant))) {
      return refuse("it changes the root directory, which only the root's log may");
    }
    if (root && up != nullptr && up->parent != changelog::kRootTenant) {
      return refuse("it makes an entry inside a tenant, which only that tenant's log may");
    }
  }
  return Status::OK();
}

Status ApplyFence::Flush() {
  std::vector<int64_t> ids, heads;
  for (const auto& [id, cur] : rows_) {
    if (!cur.dirty) continue;
    ids.push_back(static_cast<int64_t>(id));
    heads.push_back(static_cast<int64_t>(cur.head));
  }
  rows_.clear();
  if (ids.empty()) return Status::OK();
  return c_->Run(
      "UPDATE tenants t SET head = x.head FROM unnest($1::bigint[], $2::bigint[]) AS x(id, head)"
      " WHERE t.tenant_id = x.id",
      {Param::IntArray(ids), Param::IntArray(heads)});
}

bool MakesTenant(const changelog::Change& ch) {
  for (const changelog::Op& op : ch.ops) {
    const auto* d = std::get_if<changelog::UpsertDentry>(&op);
    if (d != nullptr && d->parent == changelog::kRootTenant && d->kind == 2) return true;
  }
  return false;
}

}  // namespace meridian::mirror
