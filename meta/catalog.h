// Catalog: the PostgreSQL CatalogReader (meta/catalog_reader.h has the
// contract), read-only queries over a volume's namespace on a primary or a
// mirror's replica alike: both hold the same schema. Writers
// (primary/namespace_writer.h) use it inside their own transactions.
// PgCatalogSource lends Catalogs over a PgPool to concurrent readers.
// Thread-safety: a Catalog uses one PgConn, so one thread at a time;
// PgCatalogSource is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/block.h"
#include "common/status.h"
#include "meta/catalog_reader.h"
#include "meta/pg.h"

namespace meridian::meta {

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

class PgPool;

class Catalog : public CatalogReader {
 public:
  explicit Catalog(PgConn* c) : c_(c) {}
  // A snapshot ends its transaction (a rollback: it only read).
  ~Catalog() override;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  PgConn* conn() const { return c_; }

  Result<Attr> GetAttr(uint64_t ino) override;
  Result<Attr> Lookup(uint64_t parent, std::string_view name) override;
  Result<Attr> Resolve(std::string_view path) override;
  Result<std::vector<DirEntry>> ReadDir(uint64_t ino) override;
  Result<std::vector<std::pair<std::string, Attr>>> ReadDirPlus(uint64_t ino) override;
  Result<std::vector<BlockRef>> Blocks(uint64_t ino) override;
  using Usage = meta::Usage;
  Result<Usage> GetUsage() override;
  Result<SubtreeBlocks> Subtree(uint64_t ino) override;
  // A REPEATABLE READ, READ ONLY transaction on this connection, its
  // snapshot taken before this returns. REQUIRES: not inside a transaction
  // already (unless this is a snapshot: then a view of the same one).
  Result<std::unique_ptr<CatalogReader>> Snapshot() override;

 private:
  Catalog(PgConn* c, bool owns_txn, bool in_snapshot)
      : c_(c), owns_txn_(owns_txn), in_snapshot_(in_snapshot) {}

  PgConn* c_;
  bool owns_txn_ = false;     // began the snapshot transaction: ends it
  bool in_snapshot_ = false;  // reads inside a snapshot transaction
};

// A CatalogSource over a pool of connections: each Read() borrows one. A
// connection the server dropped (restart, failover, idle cut) stays broken
// (libpq does not reconnect): it is dropped and `read` runs once more on a
// fresh one. `pool` outlives the source.
class PgCatalogSource : public CatalogSource {
 public:
  explicit PgCatalogSource(PgPool* pool) : pool_(pool) {}
  Status Read(const std::function<Status(CatalogReader&)>& read) override;

 private:
  PgPool* pool_;
};

}  // namespace meridian::meta
