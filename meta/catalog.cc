#include "meta/catalog.h"

#include <cstring>

#include "common/path.h"
#include "meta/pool.h"

namespace meridian::meta {
namespace {

constexpr const char* kAttrCols =
    "i.ino, i.kind, i.mode, i.uid, i.gid, i.size, i.mtime_ns, i.ctime_ns, i.nlink, i.target";

}  // namespace

Attr AttrFromRow(const PgResult& r, int row, int c) {
  Attr a;
  a.ino = r.GetInt(row, c);
  a.kind = static_cast<FileKind>(r.GetInt(row, c + 1));
  a.mode = static_cast<uint32_t>(r.GetInt(row, c + 2));
  a.uid = static_cast<uint32_t>(r.GetInt(row, c + 3));
  a.gid = static_cast<uint32_t>(r.GetInt(row, c + 4));
  a.size = r.GetInt(row, c + 5);
  a.mtime_ns = r.GetInt(row, c + 6);
  a.ctime_ns = r.GetInt(row, c + 7);
  a.nlink = static_cast<uint32_t>(r.GetInt(row, c + 8));
  if (!r.IsNull(row, c + 9)) a.target = r.GetBytes(row, c + 9);
  return a;
}

Result<BlockRef> BlockFromRow(const PgResult& r, int row, int c) {
  BlockRef b;
  b.index = static_cast<uint32_t>(r.GetInt(row, c));
  b.id = r.GetInt(row, c + 1);
  b.length = static_cast<uint32_t>(r.GetInt(row, c + 2));
  b.stored_length = static_cast<uint32_t>(r.GetInt(row, c + 3));
  b.compression = static_cast<Compression>(r.GetInt(row, c + 4));
  std::string sum = r.GetBytes(row, c + 5);
  if (sum.size() != b.checksum.size()) {
    return Status::Corruption("block " + std::to_string(b.id) + " has a malformed checksum");
  }
  std::memcpy(b.checksum.data(), sum.data(), sum.size());
  return b;
}

const char* KindName(FileKind k) {
  switch (k) {
    case FileKind::kFile:
      return "file";
    case FileKind::kDir:
      return "directory";
    case FileKind::kSymlink:
      return "symlink";
  }
  return "unknown";
}

Status InsertBlocks(PgConn* c, const std::vector<BlockRow>& rows, size_t begin, size_t end) {
  if (begin >= end) return Status::OK();
  std::vector<int64_t> ino, idx, id, len, stored, comp;
  std::vector<std::optional<std::string>> sha;
  for (size_t i = begin; i < end; ++i) {
    const BlockRef& r = *rows[i].ref;
    ino.push_back(static_cast<int64_t>(rows[i].ino));
    idx.push_back(r.index);
    id.push_back(static_cast<int64_t>(r.id));
    len.push_back(r.length);
    stored.push_back(r.stored_length);
    comp.push_back(static_cast<int>(r.compression));
    sha.push_back(std::string(reinterpret_cast<const char*>(r.checksum.data()), r.checksum.size()));
  }
  return c->Run(
      "INSERT INTO blocks (ino, idx, id, len, stored_len, comp, sha256)"
      " SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::integer[],"
      " $5::integer[], $6::smallint[], $7::bytea[])",
      {Param::IntArray(ino), Param::IntArray(idx), Param::IntArray(id), Param::IntArray(len),
       Param::IntArray(stored), Param::IntArray(comp), Param::BytesArray(sha)});
}

Result<VolumeConfig> LoadVolume(PgConn* c) {
  auto r =
      c->Exec("SELECT name, uuid, bucket, endpoint, block_size, compression, role FROM volume");
  bool no_table = !r.ok() && r.status().IsNotFound();
  if (!r.ok() && !no_table) return r.status().With("reading the volume record");
  if (no_table || r->rows() == 0) {
    return Status::FailedPrecondition("metadata database " + c->target() +
                                      " holds no Meridian volume: run `meridian format` first");
  }
  VolumeConfig v;
  v.name = r->Get(0, 0);
  v.uuid = r->Get(0, 1);
  v.bucket = r->Get(0, 2);
  v.endpoint = r->Get(0, 3);
  v.block_size = static_cast<uint32_t>(r->GetInt(0, 4));
  MERIDIAN_ASSIGN_OR_RETURN(v.compression, ParseCompression(r->Get(0, 5)));
  v.role = r->Get(0, 6);
  if (v.block_size < kMinBlockSize || v.block_size > kMaxBlockSize ||
      (v.block_size & (v.block_size - 1)) != 0) {
    return Status::Corruption("volume record has block size " + std::to_string(v.block_size) +
                              ", not a power of two in 64K..64M");
  }
  return v;
}

Catalog::~Catalog() {
  if (owns_txn_) c_->Rollback();
}

Result<std::unique_ptr<CatalogReader>> Catalog::Snapshot() {
  if (in_snapshot_) return std::unique_ptr<CatalogReader>(new Catalog(c_, false, true));
  // REPEATABLE READ takes its snapshot at the first statement, not at BEGIN:
  // the SELECT fixes it now, so writes committed after this returns stay
  // invisible to every read through the snapshot.
  MERIDIAN_RETURN_IF_ERROR(
      c_->RunScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1"));
  return std::unique_ptr<CatalogReader>(new Catalog(c_, true, true));
}

Result<Attr> Catalog::GetAttr(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec(std::string("SELECT ") + kAttrCols + " FROM inodes i WHERE ino = $1",
                       {Param::Int(static_cast<int64_t>(ino))}));
  if (r.rows() == 0) return Status::NotFound("inode " + std::to_string(ino) + " not found");
  return AttrFromRow(r, 0, 0);
}

Result<Attr> Catalog::Lookup(uint64_t parent, std::string_view name) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec(std::string("SELECT ") + kAttrCols +
                           " FROM dentries d JOIN inodes i ON i.ino = d.ino"
                           " WHERE d.parent = $1 AND d.name = $2",
                       {Param::Int(static_cast<int64_t>(parent)), Param::Bytes(name)}));
  if (r.rows() == 0) return Status::NotFound("'" + std::string(name) + "' not found");
  return AttrFromRow(r, 0, 0);
}

Result<Attr> Catalog::Resolve(std::string_view path) {
  MERIDIAN_ASSIGN_OR_RETURN(auto parts, SplitPath(path));
  if (parts.empty()) return GetAttr(kRootIno);
  // One round trip: walk the components server-side; row k is the inode that
  // the first k components name, as far as they resolve.
  std::vector<std::optional<std::string>> names(parts.begin(), parts.end());
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec(std::string("WITH RECURSIVE walk (depth, ino) AS ("
                                   " SELECT 0, $2::bigint UNION ALL"
                                   " SELECT w.depth + 1, d.ino FROM walk w JOIN dentries d"
                                   " ON d.parent = w.ino AND d.name = ($1::bytea[])[w.depth + 1]"
                                   " WHERE w.depth < cardinality($1::bytea[]))"
                                   " SELECT ") +
                           kAttrCols + " FROM walk JOIN inodes i USING (ino) ORDER BY depth",
                       {Param::BytesArray(names), Param::Int(kRootIno)}));
  if (r.rows() == 0) return Status::NotFound("inode 1 (the root) not found");
  for (size_t k = 1; k <= parts.size(); ++k) {
    const std::string walked = JoinPath({parts.begin(), parts.begin() + k - 1});
    if (AttrFromRow(r, static_cast<int>(k - 1), 0).kind != FileKind::kDir) {
      return Status::NotDirectory(walked + " is not a directory");
    }
    if (static_cast<int>(k) >= r.rows()) {
      return Status::NotFound(JoinPath({parts.begin(), parts.begin() + k}) +
                              ": no such file or directory");
    }
  }
  return AttrFromRow(r, static_cast<int>(parts.size()), 0);
}

Result<std::vector<DirEntry>> Catalog::ReadDir(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec("SELECT name, ino, kind FROM dentries WHERE parent = $1 ORDER BY name",
                       {Param::Int(static_cast<int64_t>(ino))}));
  std::vector<DirEntry> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    out[i].name = r.GetBytes(i, 0);
    out[i].ino = r.GetInt(i, 1);
    out[i].kind = static_cast<FileKind>(r.GetInt(i, 2));
  }
  return out;
}

Result<std::vector<std::pair<std::string, Attr>>> Catalog::ReadDirPlus(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c_->Exec(std::string("SELECT d.name, ") + kAttrCols +
                                                 " FROM dentries d JOIN inodes i ON i.ino = d.ino"
                                                 " WHERE d.parent = $1 ORDER BY d.name",
                                             {Param::Int(static_cast<int64_t>(ino))}));
  std::vector<std::pair<std::string, Attr>> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.GetBytes(i, 0), AttrFromRow(r, i, 1));
  return out;
}

Result<Usage> Catalog::GetUsage() {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c_->Exec("SELECT coalesce(sum(size) FILTER (WHERE kind = 1), 0),"
                                     " count(*) FROM inodes"));
  return Usage{static_cast<uint64_t>(r.GetInt(0, 0)), static_cast<uint64_t>(r.GetInt(0, 1))};
}

Result<std::vector<BlockRef>> Catalog::Blocks(uint64_t ino) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c_->Exec("SELECT idx, id, len, stored_len, comp, sha256 FROM blocks"
                                     " WHERE ino = $1 ORDER BY idx",
                                     {Param::Int(static_cast<int64_t>(ino))}));
  std::vector<BlockRef> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    auto b = BlockFromRow(r, i, 0);
    if (!b.ok()) return b.status().With("inode " + std::to_string(ino));
    out.push_back(*b);
  }
  return out;
}

Result<SubtreeBlocks> Catalog::Subtree(uint64_t ino) {
  SubtreeBlocks out;
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c_->Exec("WITH RECURSIVE sub(ino) AS (SELECT $1::bigint UNION"
                       " SELECT d.ino FROM dentries d JOIN sub ON d.parent = sub.ino)"
                       " SELECT DISTINCT ON (b.id) b.idx, b.id, b.len, b.stored_len, b.comp,"
                       " b.sha256, b.ino FROM blocks b JOIN sub USING (ino) ORDER BY b.id",
                       {Param::Int(static_cast<int64_t>(ino))}));
  for (int i = 0; i < r.rows(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, BlockFromRow(r, i, 0));
    out.blocks.push_back(ref);
    out.block_inos.push_back(static_cast<uint64_t>(r.GetInt(i, 6)));
  }
  MERIDIAN_ASSIGN_OR_RETURN(
      auto f, c_->Exec("WITH RECURSIVE sub(ino) AS (SELECT $1::bigint UNION"
                       " SELECT d.ino FROM dentries d JOIN sub ON d.parent = sub.ino)"
                       " SELECT count(*) FROM inodes i JOIN sub USING (ino) WHERE i.kind = 1",
                       {Param::Int(static_cast<int64_t>(ino))}));
  out.files = static_cast<uint64_t>(f.GetInt(0, 0));
  return out;
}

Status PgCatalogSource::Read(const std::function<Status(CatalogReader&)>& read) {
  // Every call here only reads, so running it again is safe.
  for (int attempt = 0;; ++attempt) {
    MERIDIAN_ASSIGN_OR_RETURN(auto lease, pool_->Acquire());
    Status st;
    {
      Catalog cat(lease.get());
      st = read(cat);
    }
    if (!lease->broken()) return st;
    lease.Broken();
    if (st.ok() || attempt == 1) return st;
  }
}

}  // namespace meridian::meta
