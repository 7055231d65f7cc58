#include "meta/tree.h"

#include "common/hash.h"
#include "common/path.h"
#include "meta/catalog.h"

namespace meridian::meta {

std::string TreeEntry::Describe() const {
  std::string s = path + " kind=" + std::to_string(kind) + " mode=" + std::to_string(mode) +
                  " uid=" + std::to_string(uid) + " gid=" + std::to_string(gid) +
                  " size=" + std::to_string(size) + " mtime_ns=" + std::to_string(mtime_ns);
  if (!target.empty()) s += " target=" + target;
  if (!blocks.empty()) s += " blocks=" + blocks.substr(0, 16);
  return s;
}

Result<std::vector<TreeEntry>> ListTree(PgConn* c, const std::string& path) {
  Catalog cat(c);
  MERIDIAN_ASSIGN_OR_RETURN(Attr top, cat.Resolve(path));
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  const std::string start = parts.empty() ? "" : JoinPath(parts);  // children: start + "/x"
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("WITH RECURSIVE t(ino, path) AS ("
                      "  SELECT $1::bigint, $2::bytea"
                      "  UNION ALL"
                      "  SELECT d.ino, t.path || '\\x2f'::bytea || d.name"
                      "  FROM dentries d JOIN t ON d.parent = t.ino"
                      ") SELECT t.path, i.kind, i.mode, i.uid, i.gid, i.size, i.mtime_ns, i.target,"
                      "  (SELECT string_agg(encode(b.sha256, 'hex'), '' ORDER BY b.idx)"
                      "   FROM blocks b WHERE b.ino = i.ino)"
                      " FROM t JOIN inodes i ON i.ino = t.ino ORDER BY t.path",
                      {Param::Int(static_cast<int64_t>(top.ino)), Param::Bytes(start)}));
  std::vector<TreeEntry> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    TreeEntry& e = out[i];
    e.path = r.GetBytes(i, 0);
    if (e.path.empty()) e.path = "/";
    e.kind = static_cast<int>(r.GetInt(i, 1));
    e.mode = static_cast<uint32_t>(r.GetInt(i, 2));
    e.uid = static_cast<uint32_t>(r.GetInt(i, 3));
    e.gid = static_cast<uint32_t>(r.GetInt(i, 4));
    e.size = r.GetInt(i, 5);
    e.mtime_ns = r.GetInt(i, 6);
    if (!r.IsNull(i, 7)) e.target = r.GetBytes(i, 7);
    if (!r.IsNull(i, 8)) e.blocks = ToHex(Sha256(r.Get(i, 8)));
  }
  // Directory mtimes change with every entry added below them; that is real
  // state and stays in. Root's mtime differs between selective mirrors: drop it.
  if (!out.empty() && out[0].path == "/") out[0].mtime_ns = 0;
  return out;
}

Status SnapshotTree(PgConn* c, SitePosition at, const std::string& path, uint64_t* pos,
                    std::vector<TreeEntry>* tree) {
  *pos = 0;
  tree->clear();
  MERIDIAN_RETURN_IF_ERROR(c->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto r = c->Exec(at == SitePosition::kPrimaryHead ? "SELECT head FROM write_lock"
                                                    : "SELECT applied_pos FROM site_state");
  if (!r.ok()) {
    c->Rollback();
    // A replica whose daemon has not created its schema yet is at position 0.
    return r.status().IsNotFound() ? Status::OK() : r.status();
  }
  // No row yet: the replica's schema was created after this transaction's
  // snapshot was taken (PostgreSQL takes it before it resolves the table,
  // so a migration that commits in between shows its table, empty).
  if (r->rows() != 1) {
    c->Rollback();
    return Status::OK();
  }
  *pos = r->GetInt(0, 0);
  auto t = ListTree(c, path);
  c->Rollback();
  if (!t.ok()) return t.status().IsNotFound() ? Status::OK() : t.status();
  *tree = std::move(t).value();
  return Status::OK();
}

std::string TreeDigest(const std::vector<TreeEntry>& entries) {
  std::string all;
  for (const auto& e : entries) {
    all += e.Describe();
    all += '\n';
  }
  return ToHex(Sha256(all));
}

std::vector<std::string> DiffTrees(const std::vector<TreeEntry>& a, const std::vector<TreeEntry>& b,
                                   const std::string& a_name, const std::string& b_name,
                                   size_t max_lines) {
  std::vector<std::string> out;
  size_t i = 0, j = 0;
  auto emit = [&](std::string line) {
    if (out.size() < max_lines) out.push_back(std::move(line));
  };
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      emit("only in " + a_name + ": " + a[i++].path);
    } else if (i == a.size() || b[j].path < a[i].path) {
      emit("only in " + b_name + ": " + b[j++].path);
    } else {
      if (!(a[i] == b[j])) {
        emit("differs: " + a_name + " has " + a[i].Describe() + "; " + b_name + " has " +
             b[j].Describe());
      }
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace meridian::meta
