#include "primary/namespace_writer.h"

#include <chrono>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/path.h"
#include "primary/tenant_fence.h"

namespace meridian::primary {
namespace {

using meta::Attr;
using meta::FileKind;
using meta::Param;

Param I(int64_t v) { return Param::Int(v); }

// Splits a path into (parent components, last name); refuses the root.
Status SplitParent(std::string_view path, std::vector<std::string>* parent, std::string* name) {
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) return Status::InvalidArgument("the volume root cannot be changed");
  *name = parts.back();
  parts.pop_back();
  *parent = std::move(parts);
  return Status::OK();
}

// The blocks must tile [0, size) exactly: a gap would read as corruption later.
Status CheckTiling(uint64_t size, const std::vector<BlockRef>& blocks, uint32_t block_size) {
  uint64_t covered = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    bool full = i + 1 == blocks.size() || blocks[i].length == block_size;
    if (blocks[i].index != i || !full) {
      return Status::Internal("file blocks do not tile the file at block " + std::to_string(i));
    }
    covered += blocks[i].length;
  }
  if (covered != size) {
    return Status::Internal("file blocks cover " + std::to_string(covered) + " of " +
                            std::to_string(size) + " bytes");
  }
  return Status::OK();
}

// The log of a change to an entry whose parent directory is `parent`.
LogScope ScopeOf(const std::vector<std::string>& parent) {
  if (parent.empty()) return LogScope{};
  return LogScope{false, parent[0]};
}

}  // namespace

template <typename F>
Status NamespaceWriter::Mutate(const std::string& tenant, const LogScope& scope, F&& body) {
  last_committed_ = false;
  bool changed = false;
  // A deadlock or serialization failure (Aborted) rolled everything back:
  // run the whole transaction again on the same connection.
  Status st = meta::RetryTransaction([&]() -> Status {
    log_.Reset(tenant);
    // First the fence (primary/tenant_fence.h), in the round trip that
    // begins: the tenant's next position and epoch, only if this site owns
    // it, locking the tenant's row, so the tenant's writers go one at a time
    // and other tenants' writers do not wait. The commit does not wait for
    // its WAL flush, so the next writer need not wait for it either;
    // FlushWal() below makes it durable before we acknowledge, outside any
    // lock.
    Result<meta::PgResult> head =
        c_->ExecScript("BEGIN; SET LOCAL synchronous_commit = off; " + FenceSql(scope));
    if (!head.ok()) {
      c_->Rollback();
      return head.status();
    }
    if (head->IsNull(0, 0)) {  // refused: say why (a missing tenant: the body's own error)
      Status why = FenceError(c_, scope);
      if (why.IsNotFound()) {
        why = body();
        if (why.ok()) why = Status::Internal("/" + scope.top + " has no tenant row");
      }
      c_->Rollback();
      return why;
    }
    Status s = body();
    if (s.ok() && log_.empty()) {  // nothing changed: give the positions back
      c_->Rollback();
      changed = false;
      return Status::OK();
    }
    if (s.ok()) s = log_.Collect(c_);
    // Last, the global position: the write lock is held only for this round
    // trip and the next, so entries commit one at a time, in position order.
    Result<meta::PgResult> pos = s.ok() ? c_->Exec(
                                              "UPDATE write_lock SET head = head + 1"
                                              " RETURNING head")
                                        : Result<meta::PgResult>(s);
    s = pos.status();
    if (s.ok()) {
      log_.Seal(EntryPositions{
          static_cast<uint64_t>(pos->GetInt(0, 0)), static_cast<uint64_t>(head->GetInt(0, 0)),
          static_cast<uint64_t>(head->GetInt(0, 1)), static_cast<uint64_t>(head->GetInt(0, 2))});
    }
    if (s.ok() && before_commit_) before_commit_();
    // The log entry and the COMMIT in one round trip (the script stops at the
    // first error, leaving the transaction to roll back).
    if (s.ok()) s = c_->RunScript(log_.AppendSql() + "; COMMIT");
    if (!s.ok()) c_->Rollback();
    changed = s.ok();
    return s;
  });
  if (!st.ok() || !changed) return st;
  last_committed_ = true;
  if (after_commit_) after_commit_();
  // Committed and visible; now durable (and, with a synchronous standby,
  // replicated) before we say so. Concurrent writers' flushes group.
  Status flushed = meta::FlushWal(c_);
  if (!flushed.ok()) {
    // Not retryable: running the mutation again would apply it twice.
    return Status(flushed.code(),
                  "the change was committed but is not known to be durable yet (a crash of the "
                  "metadata database now may undo it): " +
                      flushed.message(),
                  false);
  }
  return Status::OK();
}

Result<uint64_t> NamespaceWriter::InsertInode(FileKind kind, const NewAttr& attr, uint64_t size,
                                              std::string_view target) {
  int64_t now = NowUnixNs();
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r,
      c_->Exec("INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns,"
               " nlink, target) VALUES (nextval('inode_seq'), $1, $2, $3, $4, $5, $6, $7,"
               " $8, $9) RETURNING ino",
               {I(static_cast<int16_t>(kind)), I(attr.mode & 07777), I(attr.uid), I(attr.gid),
                I(static_cast<int64_t>(size)), I(attr.mtime_ns ? attr.mtime_ns : now), I(now),
                I(kind == FileKind::kDir ? 2 : 1),
                kind == FileKind::kSymlink ? Param::Bytes(target) : Param::Null()}));
  uint64_t ino = static_cast<uint64_t>(r.GetInt(0, 0));
  log_.TouchInode(ino);
  return ino;
}

Status NamespaceWriter::Link(uint64_t parent, std::string_view name, uint64_t ino, FileKind kind) {
  log_.TouchDentry(parent, std::string(name));
  log_.TouchInode(parent);
  // The entry and its parent's times and link count in one round trip (each
  // round trip under the write lock delays every other writer).
  return c_->Run(
      "WITH d AS (INSERT INTO dentries (parent, name, ino, kind) VALUES ($1, $2, $3, $4))"
      " UPDATE inodes SET mtime_ns = $5, ctime_ns = $5, nlink = nlink + $6 WHERE ino = $1",
      {I(parent), Param::Bytes(name), I(ino), I(static_cast<int16_t>(kind)), I(NowUnixNs()),
       I(kind == FileKind::kDir ? 1 : 0)});
}

Status NamespaceWriter::FreeInode(const Attr& a) {
  log_.TouchInode(a.ino);
  if (a.kind != FileKind::kDir && a.nlink > 1) {
    return c_->Run("UPDATE inodes SET nlink = nlink - 1, ctime_ns = $2 WHERE ino = $1",
                   {I(a.ino), I(NowUnixNs())});
  }
  MERIDIAN_ASSIGN_OR_RETURN(
      auto freed, c_->Exec("INSERT INTO deleted_blocks (id, stored_len, freed_pos)"
                           " SELECT id, stored_len, 0"  // the entry's position, at append
                           " FROM blocks WHERE ino = $1 ON CONFLICT DO NOTHING RETURNING id",
                           {I(a.ino)}));
  std::vector<uint64_t> ids(freed.rows());
  for (int i = 0; i < freed.rows(); ++i) ids[i] = freed.GetInt(i, 0);
  log_.FreeBlocks(ids);
  return c_->Run("DELETE FROM inodes WHERE ino = $1", {I(a.ino)});  // blocks cascade
}

Status NamespaceWriter::Detach(uint64_t parent, std::string_view name, const Attr& victim) {
  log_.TouchDentry(parent, std::string(name));
  log_.TouchInode(parent);
  return c_->Run(
      "WITH d AS (DELETE FROM dentries WHERE parent = $1 AND name = $2)"
      " UPDATE inodes SET mtime_ns = $3, ctime_ns = $3, nlink = nlink - $4 WHERE ino = $1",
      {I(parent), Param::Bytes(name), I(NowUnixNs()), I(victim.kind == FileKind::kDir ? 1 : 0)});
}

Status NamespaceWriter::Unlink(uint64_t parent, std::string_view name, const Attr& victim) {
  MERIDIAN_RETURN_IF_ERROR(Detach(parent, name, victim));
  return FreeInode(victim);
}

Result<uint64_t> NamespaceWriter::PrepareSlot(const std::vector<std::string>& parent,
                                              const std::string& name, std::string_view path,
                                              bool replace) {
  meta::Catalog cat(c_);
  MERIDIAN_ASSIGN_OR_RETURN(Attr dir, cat.Resolve(JoinPath(parent)));
  if (dir.kind != FileKind::kDir) {
    return Status::NotDirectory(JoinPath(parent) + " is not a directory");
  }
  auto old = cat.Lookup(dir.ino, name);
  if (old.status().IsNotFound()) return dir.ino;
  if (!old.ok()) return old.status();
  if (!replace) return Status::AlreadyExists(std::string(path) + " already exists");
  if (old->kind == FileKind::kDir) {
    return Status::IsDirectory(std::string(path) + " is a directory");
  }
  MERIDIAN_RETURN_IF_ERROR(Unlink(dir.ino, name, *old));
  return dir.ino;
}

Result<uint64_t> NamespaceWriter::Mkdir(std::string_view path, const NewAttr& attr, bool parents) {
  last_committed_ = false;
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) {
    if (parents) return meta::kRootIno;
    return Status::AlreadyExists("/ already exists");
  }
  // A missing top-level directory is a change to the root's log, the rest a
  // change to the tenant's: two transactions (as `mkdir -p` is several
  // mkdir(2) calls). The first only when the tenant is missing, so a site
  // that owns the tenant but not the root can still write inside it (one
  // created meanwhile makes the first a no-op).
  if (parts.size() > 1 && parents &&
      meta::Catalog(c_).Lookup(meta::kRootIno, parts[0]).status().IsNotFound()) {
    MERIDIAN_RETURN_IF_ERROR(
        MkdirWalk({parts[0]}, NewAttr{0755, attr.uid, attr.gid, 0}, true).status());
  }
  return MkdirWalk(parts, attr, parents);
}

Result<uint64_t> NamespaceWriter::MkdirWalk(const std::vector<std::string>& parts,
                                            const NewAttr& attr, bool parents) {
  uint64_t ino = 0;
  Status st = Mutate(parts[0], LogScope{parts.size() == 1, parts[0]}, [&]() -> Status {
    meta::Catalog cat(c_);
    uint64_t cur = meta::kRootIno;
    std::vector<std::string> walked;
    for (size_t i = 0; i < parts.size(); ++i) {
      walked.push_back(parts[i]);
      bool last = i + 1 == parts.size();
      auto found = cat.Lookup(cur, parts[i]);
      if (found.ok()) {
        if (found->kind != FileKind::kDir) {
          return Status::NotDirectory(JoinPath(walked) + " exists and is not a directory");
        }
        if (last && !parents) return Status::AlreadyExists(JoinPath(walked) + " already exists");
        cur = found->ino;
        continue;
      }
      if (!found.status().IsNotFound()) return found.status();
      if (!last && !parents) {
        return Status::NotFound(JoinPath(walked) + ": no such directory (use -p to create it)");
      }
      NewAttr a = last ? attr : NewAttr{0755, attr.uid, attr.gid, 0};
      MERIDIAN_ASSIGN_OR_RETURN(uint64_t made, InsertInode(FileKind::kDir, a, 0, {}));
      MERIDIAN_RETURN_IF_ERROR(Link(cur, parts[i], made, FileKind::kDir));
      cur = made;
    }
    ino = cur;
    return Status::OK();
  });
  if (!st.ok()) return st;
  return ino;
}

Result<std::vector<uint64_t>> NamespaceWriter::AllocateBlockIds(size_t n) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c_->Exec("SELECT nextval('block_seq') FROM generate_series(1, $1)",
                                     {I(static_cast<int64_t>(n))}));
  std::vector<uint64_t> ids(r.rows());
  for (int i = 0; i < r.rows(); ++i) ids[i] = r.GetInt(i, 0);
  return ids;
}

Result<uint64_t> NamespaceWriter::CommitFile(std::string_view path, const NewAttr& attr,
                                             uint64_t size, const std::vector<BlockRef>& blocks,
                                             uint32_t block_size) {
  last_committed_ = false;
  MERIDIAN_RETURN_IF_ERROR(CheckTiling(size, blocks, block_size));
  std::vector<std::string> parent;
  std::string name;
  MERIDIAN_RETURN_IF_ERROR(SplitParent(path, &parent, &name));
  uint64_t ino = 0;
  Status st = Mutate(parent.empty() ? name : parent[0], ScopeOf(parent), [&]() -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t dir, PrepareSlot(parent, name, path, /*replace=*/true));
    MERIDIAN_ASSIGN_OR_RETURN(ino, InsertInode(FileKind::kFile, attr, size, {}));
    std::vector<meta::BlockRow> rows;  // all of them in one round trip
    for (const BlockRef& b : blocks) rows.push_back({ino, &b});
    MERIDIAN_RETURN_IF_ERROR(meta::InsertBlocks(c_, rows, 0, rows.size()));
    log_.SetBlocks(ino, blocks);
    return Link(dir, name, ino, FileKind::kFile);
  });
  if (!st.ok()) return st;
  return ino;
}

Result<std::vector<uint64_t>> NamespaceWriter::CommitFiles(const std::vector<FileCommit>& files,
                                                           uint32_t block_size) {
  last_committed_ = false;
  const size_t n = files.size();
  std::vector<uint64_t> inos(n);
  if (n == 0) return inos;
  std::vector<std::vector<std::string>> parents(n);
  std::vector<std::optional<std::string>> names(n);
  std::string tenant;
  std::set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    const FileCommit& f = files[i];
    MERIDIAN_RETURN_IF_ERROR(CheckTiling(f.size, f.blocks, block_size).With(f.path));
    std::string name;
    MERIDIAN_RETURN_IF_ERROR(SplitParent(f.path, &parents[i], &name));
    const std::string t = parents[i].empty() ? name : parents[i][0];
    if (i == 0) tenant = t;
    if (t != tenant || parents[i].empty() != parents[0].empty()) {
      return Status::InvalidArgument("a batch of files must be in one top-level directory: " +
                                     f.path + " is not under /" + tenant);
    }
    if (!seen.insert(JoinPath(parents[i]) + "/" + name).second) {
      return Status::InvalidArgument(f.path + " is twice in one batch");
    }
    names[i] = std::move(name);
  }
  Status st = Mutate(tenant, ScopeOf(parents[0]), [&]() -> Status {
    meta::Catalog cat(c_);
    // Each parent directory resolved once.
    std::map<std::string, uint64_t> dirs;
    std::vector<int64_t> parent_ino(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string p = JoinPath(parents[i]);
      auto it = dirs.find(p);
      if (it == dirs.end()) {
        auto d = cat.Resolve(p);
        if (!d.ok()) return d.status().With("committing " + files[i].path);
        if (d->kind != FileKind::kDir) {
          return Status::NotDirectory(p + " is not a directory (committing " + files[i].path + ")");
        }
        it = dirs.emplace(p, d->ino).first;
        log_.TouchInode(d->ino);
      }
      parent_ino[i] = static_cast<int64_t>(it->second);
    }
    // What is in the way is replaced, as CommitFile does: never a directory.
    MERIDIAN_ASSIGN_OR_RETURN(
        auto taken, c_->Exec("SELECT x.i FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY"
                             " AS x(parent, name, i) JOIN dentries d"
                             " ON d.parent = x.parent AND d.name = x.name",
                             {Param::IntArray(parent_ino), Param::BytesArray(names)}));
    for (int r = 0; r < taken.rows(); ++r) {
      const size_t i = static_cast<size_t>(taken.GetInt(r, 0) - 1);
      MERIDIAN_ASSIGN_OR_RETURN(Attr old, cat.Lookup(parent_ino[i], *names[i]));
      if (old.kind == FileKind::kDir) {
        return Status::IsDirectory(files[i].path + " is a directory");
      }
      MERIDIAN_RETURN_IF_ERROR(Unlink(parent_ino[i], *names[i], old));
    }
    // New inodes, numbered first so that each file knows its own.
    MERIDIAN_ASSIGN_OR_RETURN(auto seq,
                              c_->Exec("SELECT nextval('inode_seq') FROM generate_series(1, $1)",
                                       {I(static_cast<int64_t>(n))}));
    const int64_t now = NowUnixNs();
    std::vector<int64_t> ino(n), mode(n), uid(n), gid(n), size(n), mtime(n), kind(n);
    std::vector<meta::BlockRow> rows;
    for (size_t i = 0; i < n; ++i) {
      const FileCommit& f = files[i];
      inos[i] = static_cast<uint64_t>(seq.GetInt(static_cast<int>(i), 0));
      ino[i] = static_cast<int64_t>(inos[i]);
      mode[i] = f.attr.mode & 07777;
      uid[i] = f.attr.uid;
      gid[i] = f.attr.gid;
      size[i] = static_cast<int64_t>(f.size);
      mtime[i] = f.attr.mtime_ns ? f.attr.mtime_ns : now;
      kind[i] = static_cast<int16_t>(FileKind::kFile);
      for (const BlockRef& b : f.blocks) rows.push_back({inos[i], &b});
      log_.TouchInode(inos[i]);
      log_.TouchDentry(static_cast<uint64_t>(parent_ino[i]), *names[i]);
      log_.SetBlocks(inos[i], f.blocks);
    }
    MERIDIAN_RETURN_IF_ERROR(
        c_->Run("INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink)"
                " SELECT ino, $1, mode, uid, gid, size, mtime, $2, 1 FROM unnest($3::bigint[],"
                " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])"
                " AS x(ino, mode, uid, gid, size, mtime)",
                {I(static_cast<int16_t>(FileKind::kFile)), I(now), Param::IntArray(ino),
                 Param::IntArray(mode), Param::IntArray(uid), Param::IntArray(gid),
                 Param::IntArray(size), Param::IntArray(mtime)}));
    MERIDIAN_RETURN_IF_ERROR(meta::InsertBlocks(c_, rows, 0, rows.size()));
    // The entries and their parents' times in one round trip (files do not
    // change a directory's link count).
    std::vector<int64_t> touched;
    for (const auto& [path, d] : dirs) touched.push_back(static_cast<int64_t>(d));
    return c_->Run(
        "WITH d AS (INSERT INTO dentries (parent, name, ino, kind)"
        " SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[]))"
        " UPDATE inodes SET mtime_ns = $5, ctime_ns = $5 WHERE ino = ANY($6::bigint[])",
        {Param::IntArray(parent_ino), Param::BytesArray(names), Param::IntArray(ino),
         Param::IntArray(kind), I(now), Param::IntArray(touched)});
  });
  if (!st.ok()) return st;
  return inos;
}

Result<uint64_t> NamespaceWriter::Symlink(std::string_view path, std::string_view target,
                                          const NewAttr& attr, bool replace) {
  last_committed_ = false;
  if (target.empty() || target.size() > 4095 || target.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("symlink target must be 1..4095 bytes without NUL");
  }
  std::vector<std::string> parent;
  std::string name;
  MERIDIAN_RETURN_IF_ERROR(SplitParent(path, &parent, &name));
  uint64_t ino = 0;
  Status st = Mutate(parent.empty() ? name : parent[0], ScopeOf(parent), [&]() -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t dir, PrepareSlot(parent, name, path, replace));
    MERIDIAN_ASSIGN_OR_RETURN(ino, InsertInode(FileKind::kSymlink, attr, target.size(), target));
    return Link(dir, name, ino, FileKind::kSymlink);
  });
  if (!st.ok()) return st;
  return ino;
}

Status NamespaceWriter::Rename(std::string_view from, std::string_view to) {
  last_committed_ = false;
  MERIDIAN_ASSIGN_OR_RETURN(auto src, SplitPath(from));
  MERIDIAN_ASSIGN_OR_RETURN(auto dst, SplitPath(to));
  if (src.empty() || dst.empty()) return Status::InvalidArgument("the volume root cannot move");
  if (src.size() == 1 || dst.size() == 1 || src[0] != dst[0]) {
    if (src != dst) {
      return Status::CrossDevice(
          "cannot move " + JoinPath(src) + " to " + JoinPath(dst) +
          ": top-level directories are separate tenants (copy, then remove instead)");
    }
  }
  if (src == dst) return Status::OK();
  if (dst.size() > src.size() && std::equal(src.begin(), src.end(), dst.begin())) {
    return Status::InvalidArgument("cannot move " + JoinPath(src) + " into itself");
  }
  const std::string tenant = src[0];
  std::string src_name = src.back(), dst_name = dst.back();
  src.pop_back();
  dst.pop_back();
  return Mutate(tenant, LogScope{false, tenant}, [&]() -> Status {
    meta::Catalog cat(c_);
    MERIDIAN_ASSIGN_OR_RETURN(Attr sdir, cat.Resolve(JoinPath(src)));
    MERIDIAN_ASSIGN_OR_RETURN(Attr ddir, cat.Resolve(JoinPath(dst)));
    if (ddir.kind != FileKind::kDir) {
      return Status::NotDirectory(JoinPath(dst) + " is not a directory");
    }
    auto moving = cat.Lookup(sdir.ino, src_name);
    if (!moving.ok()) return moving.status().With(std::string(from));
    auto old = cat.Lookup(ddir.ino, dst_name);
    if (old.ok()) {
      if (old->ino == moving->ino) return Status::OK();
      if (moving->kind == FileKind::kDir && old->kind != FileKind::kDir) {
        return Status::NotDirectory(std::string(to) + " exists and is not a directory");
      }
      if (moving->kind != FileKind::kDir && old->kind == FileKind::kDir) {
        return Status::IsDirectory(std::string(to) + " is a directory");
      }
      if (old->kind == FileKind::kDir) {
        MERIDIAN_ASSIGN_OR_RETURN(auto kids, cat.ReadDir(old->ino));
        if (!kids.empty()) return Status::NotEmpty(std::string(to) + " is not empty");
      }
      MERIDIAN_RETURN_IF_ERROR(Unlink(ddir.ino, dst_name, *old));
    } else if (!old.status().IsNotFound()) {
      return old.status();
    }
    // Detach from the old parent without freeing, then attach under the new name.
    MERIDIAN_RETURN_IF_ERROR(Detach(sdir.ino, src_name, *moving));
    log_.TouchInode(moving->ino);
    MERIDIAN_RETURN_IF_ERROR(c_->Run("UPDATE inodes SET ctime_ns = $2 WHERE ino = $1",
                                     {I(moving->ino), I(NowUnixNs())}));
    return Link(ddir.ino, dst_name, moving->ino, moving->kind);
  });
}

Result<uint64_t> NamespaceWriter::RemoveTree(const Attr& dir) {
  meta::Catalog cat(c_);
  MERIDIAN_ASSIGN_OR_RETURN(auto kids, cat.ReadDir(dir.ino));
  uint64_t removed = 0;
  for (const auto& kid : kids) {
    MERIDIAN_ASSIGN_OR_RETURN(Attr a, cat.GetAttr(kid.ino));
    if (a.kind == FileKind::kDir) {
      MERIDIAN_ASSIGN_OR_RETURN(uint64_t n, RemoveTree(a));
      removed += n;
      MERIDIAN_ASSIGN_OR_RETURN(a, cat.GetAttr(kid.ino));  // nlink changed
    }
    MERIDIAN_RETURN_IF_ERROR(Unlink(dir.ino, kid.name, a));
    ++removed;
  }
  return removed;
}

Result<uint64_t> NamespaceWriter::Remove(std::string_view path, bool recursive) {
  last_committed_ = false;
  std::vector<std::string> parent;
  std::string name;
  MERIDIAN_RETURN_IF_ERROR(SplitParent(path, &parent, &name));
  uint64_t removed = 0;
  Status st = Mutate(parent.empty() ? name : parent[0], ScopeOf(parent), [&]() -> Status {
    removed = 0;
    meta::Catalog cat(c_);
    MERIDIAN_ASSIGN_OR_RETURN(Attr dir, cat.Resolve(JoinPath(parent)));
    auto victim = cat.Lookup(dir.ino, name);
    if (!victim.ok()) {
      return victim.status().IsNotFound()
                 ? Status::NotFound(std::string(path) + ": no such file or directory")
                 : victim.status();
    }
    Attr a = *victim;
    // Removing a tenant's directory ends its log: this site must own it too.
    if (parent.empty() && a.kind == FileKind::kDir) {
      MERIDIAN_RETURN_IF_ERROR(CheckOwnsTenant(c_, a.ino));
    }
    if (a.kind == FileKind::kDir) {
      MERIDIAN_ASSIGN_OR_RETURN(auto kids, cat.ReadDir(a.ino));
      if (!kids.empty() && !recursive) {
        return Status::NotEmpty(std::string(path) + " is not empty (use rm -r)");
      }
      MERIDIAN_ASSIGN_OR_RETURN(removed, RemoveTree(a));
      MERIDIAN_ASSIGN_OR_RETURN(a, cat.GetAttr(a.ino));
    }
    MERIDIAN_RETURN_IF_ERROR(Unlink(dir.ino, name, a));
    ++removed;
    return Status::OK();
  });
  if (!st.ok()) return st;
  return removed;
}

}  // namespace meridian::primary
