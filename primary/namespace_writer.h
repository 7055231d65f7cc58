// NamespaceWriter: every mutation of a primary site's namespace.
//
// Each public method is one PostgreSQL transaction that first locks its
// tenant's row (primary/tenant_fence.h: one tenant's writers go one at a
// time), and last, for its final two round trips, the `write_lock` row, so
// mutations commit one at a time in global position order; the change log
// (written in that same transaction) relies on this to be gapless and in
// commit order. Paths are volume paths ("/tenant/dir/file"), validated with
// common/path.h. Semantics follow POSIX: Rename is rename(2) (not mv), Remove
// of a non-empty directory needs `recursive`. A rename across top-level
// directories (tenants) fails with CrossDevice (EXDEV), as between file
// systems. Freed blocks go to `deleted_blocks` for later garbage collection;
// no object is deleted here. Every mutation appends exactly one change-log
// entry in its own transaction (primary/change_recorder.h). A method returns
// success only once its commit is durable: the transaction commits without
// waiting for the WAL flush (so the lock is not held through it), and the
// flush follows, outside the lock (docs/metadata.md, "Write path and
// durability").
// Thread-safety: one NamespaceWriter per thread (it owns no lock; the database
// serializes concurrent writers, in this or other processes).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "primary/change_recorder.h"
#include "primary/tenant_fence.h"

namespace meridian::primary {

struct NewAttr {
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;  // 0 = now
};

// One file of a CommitFiles batch: what CommitFile takes.
struct FileCommit {
  std::string path;
  NewAttr attr;
  uint64_t size = 0;
  std::vector<BlockRef> blocks;
};

class NamespaceWriter {
 public:
  explicit NamespaceWriter(meta::PgConn* c) : c_(c) {}

  // Creates a directory. With `parents`, creates missing ancestors and
  // succeeds if the directory exists (mkdir -p). Returns its inode.
  Result<uint64_t> Mkdir(std::string_view path, const NewAttr& attr, bool parents);

  // Reserves `n` block ids (never handed out again) for a file being uploaded.
  Result<std::vector<uint64_t>> AllocateBlockIds(size_t n);

  // Makes `path` a regular file of `size` bytes made of `blocks` (uploaded
  // already). Replaces an existing file or symlink there atomically; the parent
  // directory must exist. `blocks` must cover [0, size) in order. Always a
  // new inode: a file's bytes never change under one inode number (mounts
  // keep a file's pages across changes on that promise, fuse/mount.h).
  Result<uint64_t> CommitFile(std::string_view path, const NewAttr& attr, uint64_t size,
                              const std::vector<BlockRef>& blocks, uint32_t block_size);

  // CommitFile for many files at once: one transaction and one change-log
  // entry, with set-based statements, so a batch costs about the round trips
  // of a single file (importing many small files: tokenizers, configs,
  // datasets). Returns the new inodes in `files` order. The paths must be
  // distinct and in one top-level directory (a change-log entry belongs to
  // one tenant), else InvalidArgument. All or nothing: one file's error (a
  // missing parent, a directory in the way) fails the whole batch, naming
  // the file; commit the files one by one to find out which.
  Result<std::vector<uint64_t>> CommitFiles(const std::vector<FileCommit>& files,
                                            uint32_t block_size);

  // Creates a symlink. With `replace`, replaces an existing file or symlink.
  Result<uint64_t> Symlink(std::string_view path, std::string_view target, const NewAttr& attr,
                           bool replace);

  // rename(2): replaces a file by a file, an empty directory by a directory.
  Status Rename(std::string_view from, std::string_view to);

  // Whether the last call's transaction committed, even if the call then
  // failed (its WAL flush): such a mutation must not be run again. Every
  // mutating call resets it first, also one refused before its transaction.
  bool last_committed() const { return last_committed_; }

  // Test hook: runs inside every mutation's transaction, holding the write
  // lock, after its change-log entry is built and just before the round trip
  // that inserts it and COMMITs (to delay commits in ordering tests).
  void SetBeforeCommitHookForTest(std::function<void()> hook) { before_commit_ = std::move(hook); }
  // Test hook: runs after a mutation's COMMIT, before its WAL flush.
  void SetAfterCommitHookForTest(std::function<void()> hook) { after_commit_ = std::move(hook); }

  // Removes a file, symlink, or (with `recursive`, or if empty) a directory.
  // Returns the number of entries removed.
  Result<uint64_t> Remove(std::string_view path, bool recursive);

 private:
  // Runs `body` in a transaction that takes the write lock, then appends the
  // change-log entry (for `tenant`) of what `body` touched.
  // `tenant` names the entry for --include filters; `scope` is the log it
  // goes to, fenced (primary/tenant_fence.h).
  template <typename F>
  Status Mutate(const std::string& tenant, const LogScope& scope, F&& body);
  // Mkdir in one transaction: the last of `parts` and, with `parents`, any
  // missing ancestor below the top level.
  Result<uint64_t> MkdirWalk(const std::vector<std::string>& parts, const NewAttr& attr,
                             bool parents);
  // Resolves the parent directory of a new entry `name` and removes what is
  // there already if `replace` allows (never a directory). Returns the parent.
  Result<uint64_t> PrepareSlot(const std::vector<std::string>& parent, const std::string& name,
                               std::string_view path, bool replace);
  // Removes the entry (parent, name) -> victim without freeing victim.
  Status Detach(uint64_t parent, std::string_view name, const meta::Attr& victim);
  Status FreeInode(const meta::Attr& a);
  Result<uint64_t> RemoveTree(const meta::Attr& dir);
  Status Unlink(uint64_t parent, std::string_view name, const meta::Attr& victim);
  Result<uint64_t> InsertInode(meta::FileKind kind, const NewAttr& attr, uint64_t size,
                               std::string_view target);
  Status Link(uint64_t parent, std::string_view name, uint64_t ino, meta::FileKind kind);

  meta::PgConn* c_;
  ChangeRecorder log_;
  std::function<void()> before_commit_, after_commit_;
  bool last_committed_ = false;
};

}  // namespace meridian::primary
