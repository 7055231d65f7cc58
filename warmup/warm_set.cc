#include "warmup/warm_set.h"

#include "meta/catalog.h"

namespace meridian::warmup {

Result<PathSet> ResolveWarmSet(meta::PgConn* c, const std::string& path) {
  meta::Catalog cat(c);
  MERIDIAN_ASSIGN_OR_RETURN(meta::Attr root, cat.Resolve(path));
  PathSet out;
  out.path = path;
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("WITH RECURSIVE sub(ino) AS (SELECT $1::bigint UNION"
                      " SELECT d.ino FROM dentries d JOIN sub ON d.parent = sub.ino)"
                      " SELECT DISTINCT ON (b.id) b.idx, b.id, b.len, b.stored_len, b.comp,"
                      " b.sha256 FROM blocks b JOIN sub USING (ino) ORDER BY b.id",
                      {meta::Param::Int(static_cast<int64_t>(root.ino))}));
  for (int i = 0; i < r.rows(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, meta::BlockFromRow(r, i, 0));
    out.bytes += ref.stored_length;
    out.blocks.push_back(ref);
  }
  MERIDIAN_ASSIGN_OR_RETURN(
      auto f, c->Exec("WITH RECURSIVE sub(ino) AS (SELECT $1::bigint UNION"
                      " SELECT d.ino FROM dentries d JOIN sub ON d.parent = sub.ino)"
                      " SELECT count(*) FROM inodes i JOIN sub USING (ino) WHERE i.kind = 1",
                      {meta::Param::Int(static_cast<int64_t>(root.ino))}));
  out.files = static_cast<uint64_t>(f.GetInt(0, 0));
  return out;
}

}  // namespace meridian::warmup
