// Catalog: read-only queries over a volume's namespace in PostgreSQL.
//
// Used by every reader (CLI, later the mount and the mirror's read path) on a
// primary or a mirror's replica alike: both hold the same schema. Lookups do
// not follow symlinks (lstat semantics); the caller decides.
// Thread-safety: a Catalog uses one PgConn, so one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "meta/pg.h"

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

struct VolumeConfig {
  std::string name;
  std::string uuid;
  std::string bucket;    // URL, no credentials
  std::string endpoint;  // S3 endpoint for s3:// buckets, else ""
  uint32_t block_size = 0;
  Compression compression = Compression::kNone;
  std::string role;  // "primary" or "mirror"
};

// Row parsers shared by every reader of these tables. `first_col` is where
// the columns start: for AttrFromRow "ino, kind, mode, uid, gid, size,
// mtime_ns, ctime_ns, nlink, target"; for BlockFromRow "idx, id, len,
// stored_len, comp, sha256" (Corruption if the checksum is not 32 bytes).
Attr AttrFromRow(const PgResult& r, int row, int first_col);
Result<BlockRef> BlockFromRow(const PgResult& r, int row, int first_col);

// Block rows to write: file `ino`, block `ref` (which outlives the call).
struct BlockRow {
  uint64_t ino;
  const BlockRef* ref;
};
// Inserts rows[begin, end) into `blocks` in one statement (unnest arrays).
Status InsertBlocks(PgConn* c, const std::vector<BlockRow>& rows, size_t begin, size_t end);

// Reads the volume record. FailedPrecondition (with "run meridian format") if
// the database holds no formatted volume.
Result<VolumeConfig> LoadVolume(PgConn* c);

class Catalog {
 public:
  explicit Catalog(PgConn* c) : c_(c) {}
  PgConn* conn() const { return c_; }

  Result<Attr> GetAttr(uint64_t ino);
  Result<Attr> Lookup(uint64_t parent, std::string_view name);
  // Resolves a volume path ("/a/b"); NotFound names the missing component,
  // NotDirectory the component that is not a directory.
  Result<Attr> Resolve(std::string_view path);
  // Entries sorted bytewise by name, without "." and "..".
  Result<std::vector<DirEntry>> ReadDir(uint64_t ino);
  // ReadDir with each entry's attributes, in one round trip (readdirplus).
  Result<std::vector<std::pair<std::string, Attr>>> ReadDirPlus(uint64_t ino);
  // The file's blocks in index order.
  Result<std::vector<BlockRef>> Blocks(uint64_t ino);
  // Logical bytes in files and the number of inodes (statfs).
  struct Usage {
    uint64_t bytes = 0;
    uint64_t inodes = 0;
  };
  Result<Usage> GetUsage();

 private:
  PgConn* c_;
};

}  // namespace meridian::meta
