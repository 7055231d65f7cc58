// MemCatalog: an in-memory CatalogReader (and CatalogSource), for tests of
// readers (the VFS, warm-up, the CLI's read verbs) without PostgreSQL. It
// keeps the contract of meta/catalog_reader.h, checked by the same
// conformance suite as the PostgreSQL Catalog.
//
// Population: Mkdir/AddFile/AddSymlink/Remove, with the namespace rules the
// primary's writer keeps that readers can see: a new directory has nlink 2
// and adds one to its parent's; files and symlinks have nlink 1; a symlink's
// size is its target's length; a file's blocks are stored as given. It does
// not model time: an inode's mtime and ctime are the `mtime_ns` it was
// given, and adding an entry leaves its directory's times alone. Inodes are
// numbered 2, 3, ... in creation order (the root is kRootIno), so a test is
// deterministic.
//
// Every write replaces the whole state (copy on write: O(size) per write,
// fine for tests); a Snapshot keeps the state it began with.
// Thread-safety: thread-safe; readers and snapshots never block writers for
// longer than a pointer copy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "meta/catalog_reader.h"

namespace meridian::meta {

class MemCatalog : public CatalogReader, public CatalogSource {
 public:
  struct NewEntry {
    uint32_t mode = 0644;  // permission bits (masked to 07777)
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t mtime_ns = 0;
  };

  // An empty volume: the root directory only (mode 0755, nlink 2).
  MemCatalog();

  // Each creates `path`, whose parent directory must exist, and returns the
  // new inode. AlreadyExists if the name is taken (nothing is replaced).
  Result<uint64_t> Mkdir(std::string_view path, const NewEntry& e);
  // `blocks` cover the file in index order (not checked).
  Result<uint64_t> AddFile(std::string_view path, const NewEntry& e, uint64_t size,
                           std::vector<BlockRef> blocks);
  Result<uint64_t> AddSymlink(std::string_view path, std::string_view target, const NewEntry& e);
  // Removes a file, a symlink or an empty directory (NotEmpty if not
  // empty), and its blocks.
  Status Remove(std::string_view path);

  Result<Attr> GetAttr(uint64_t ino) override;
  Result<Attr> Lookup(uint64_t parent, std::string_view name) override;
  Result<Attr> Resolve(std::string_view path) override;
  Result<std::vector<DirEntry>> ReadDir(uint64_t ino) override;
  Result<std::vector<std::pair<std::string, Attr>>> ReadDirPlus(uint64_t ino) override;
  Result<std::vector<BlockRef>> Blocks(uint64_t ino) override;
  Result<Usage> GetUsage() override;
  Result<SubtreeBlocks> Subtree(uint64_t ino) override;
  // Unlike Catalog's, this reader stays usable while snapshots live.
  Result<std::unique_ptr<CatalogReader>> Snapshot() override;

  // CatalogSource: runs `read` on a snapshot of the current state.
  Status Read(const std::function<Status(CatalogReader&)>& read) override;

  // One immutable state (public so that the snapshot type in the .cc sees it).
  struct State {
    std::map<uint64_t, Attr> inodes;
    std::map<uint64_t, std::map<std::string, uint64_t>> children;  // dir -> name -> ino
    std::map<uint64_t, std::vector<BlockRef>> blocks;              // file -> blocks
    uint64_t next_ino = kRootIno + 1;
  };

 private:
  std::shared_ptr<const State> Current() const;
  // Creates `a` (its ino assigned here) at `path`.
  Result<uint64_t> Add(std::string_view path, Attr a, std::vector<BlockRef> blocks);

  mutable Mutex mu_;
  std::shared_ptr<const State> state_ GUARDED_BY(mu_);
};

}  // namespace meridian::meta
