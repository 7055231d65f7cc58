// CatalogReader: the read side of a volume's namespace, as every reader sees
// it (the CLI's ls/stat/cat, the VFS behind a mount, warm-up, verify).
//
// Two implementations keep the same contract, checked by one conformance
// suite (meta/catalog_conformance_test.cc):
//  - meta::Catalog (meta/catalog.h): PostgreSQL, on a primary or a mirror's
//    replica alike (both hold the same schema);
//  - meta::MemCatalog (meta/mem_catalog.h): in memory, for tests.
//
// Contract, for every implementation:
//  - Lookups do not follow symlinks (lstat semantics); the caller decides.
//  - Names are byte strings (any bytes but '/' and NUL; not UTF-8 checked);
//    listings are sorted bytewise (unsigned), without "." and "..".
//  - A missing inode or name is NotFound; Resolve's NotFound names the
//    missing component, its NotDirectory the component that is not a
//    directory; a malformed path is InvalidArgument (common/path.h).
//  - ReadDir/ReadDirPlus of an inode that is not a directory, and Blocks of
//    one that is not a file, are empty (not errors: the tables say so).
//  - Reads outside a Snapshot may each see a different state; all reads
//    through one Snapshot see the one state it began with.
//
// Thread-safety: each implementation says; a Catalog (one connection) is
// used by one thread at a time. CatalogSource lends readers to many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/block.h"
#include "common/status.h"

namespace meridian::meta {

inline constexpr uint64_t kRootIno = 1;

enum class FileKind : int16_t { kFile = 1, kDir = 2, kSymlink = 3 };
const char* KindName(FileKind k);

struct Attr {
  uint64_t ino = 0;
  FileKind kind = FileKind::kFile;
  uint32_t mode = 0;  // permission bits only (no S_IFMT)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t nlink = 0;
  std::string target;  // symlinks only
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  FileKind kind = FileKind::kFile;
};

// Logical bytes in files and the number of inodes, root included (statfs).
struct Usage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

// What lies under a directory (or a single file), for warm-up: each block
// that a file there references, once, ordered by block id, with the inode of
// a file referencing it (parallel vectors), and the number of files.
struct SubtreeBlocks {
  std::vector<BlockRef> blocks;
  std::vector<uint64_t> block_inos;
  uint64_t files = 0;
};

class CatalogReader {
 public:
  virtual ~CatalogReader() = default;

  virtual Result<Attr> GetAttr(uint64_t ino) = 0;
  virtual Result<Attr> Lookup(uint64_t parent, std::string_view name) = 0;
  // Resolves a volume path ("/a/b"; "/" is the root).
  virtual Result<Attr> Resolve(std::string_view path) = 0;
  // Entries sorted bytewise by name.
  virtual Result<std::vector<DirEntry>> ReadDir(uint64_t ino) = 0;
  // ReadDir with each entry's attributes, in one round trip (readdirplus).
  virtual Result<std::vector<std::pair<std::string, Attr>>> ReadDirPlus(uint64_t ino) = 0;
  // The file's blocks in index order.
  virtual Result<std::vector<BlockRef>> Blocks(uint64_t ino) = 0;
  virtual Result<Usage> GetUsage() = 0;
  // Everything under inode `ino` (inclusive), see SubtreeBlocks.
  virtual Result<SubtreeBlocks> Subtree(uint64_t ino) = 0;

  // A read-only view of one consistent state: every read through it sees
  // the catalog as it was when Snapshot() returned, whatever is written
  // meanwhile. It ends when destroyed. A snapshot's own Snapshot() is a view
  // of the same state.
  // REQUIRES: this reader is not used while the snapshot lives (Catalog: the
  // snapshot is a transaction on the same connection), and outlives it.
  virtual Result<std::unique_ptr<CatalogReader>> Snapshot() = 0;
};

// Lends readers to concurrent callers (the mount serves requests on many
// threads). Thread-safe.
class CatalogSource {
 public:
  virtual ~CatalogSource() = default;
  // Runs `read` with a reader used by this call only and returns its
  // status. `read` only reads, so a source may run it again (on a fresh
  // connection after a lost one); it returns what the last run returned.
  virtual Status Read(const std::function<Status(CatalogReader&)>& read) = 0;
};

}  // namespace meridian::meta
