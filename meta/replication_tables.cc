#include "meta/replication_tables.h"

#include "meta/catalog.h"

namespace meridian::meta {
namespace {

constexpr const char* kBlockCols = "b.idx, b.id, b.len, b.stored_len, b.comp, b.sha256";

}  // namespace

std::string RecordedSiteName(PgConn* c) {
  auto r = c->Exec("SELECT site_name FROM site_link");
  if (r.ok() && r->rows() > 0) return std::string(r->Get(0, 0));
  return "";
}

Result<bool> AnyReplicatedBlocks(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec("SELECT EXISTS (SELECT 1 FROM replicated_blocks)"));
  return r.Get(0, 0) == "t";
}

Status RecordReplicatedBlocks(PgConn* c, const std::vector<int64_t>& ids,
                              const std::vector<int64_t>& stored_lens,
                              const std::vector<int64_t>& copies, bool referenced_only) {
  // A block no file references any more (freed, or a snapshot replaced
  // the namespace, while it was being copied) goes to the bucket's GC
  // instead of counting as replicated, so it is not left behind.
  const std::string referenced =
      referenced_only ? " WHERE EXISTS (SELECT 1 FROM blocks b WHERE b.id = x.id)" : "";
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("INSERT INTO replicated_blocks AS r (id, stored_len, copies)"
             " SELECT x.id, x.len, x.copies FROM unnest($1::bigint[], $2::integer[],"
             " $3::integer[]) x(id, len, copies)" +
                 referenced +
                 " ON CONFLICT (id) DO UPDATE SET copies = r.copies + EXCLUDED.copies,"
                 " replicated_at = now()",
             {Param::IntArray(ids), Param::IntArray(stored_lens), Param::IntArray(copies)}));
  if (referenced_only) {
    MERIDIAN_RETURN_IF_ERROR(c->Run(
        "INSERT INTO deleted_blocks (id, stored_len)"
        " SELECT x.id, x.len FROM unnest($1::bigint[], $2::integer[]) x(id, len)"
        " WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.id = x.id) ON CONFLICT DO NOTHING",
        {Param::IntArray(ids), Param::IntArray(stored_lens)}));
  }
  return DequeueBlocks(c, ids);
}

Status RequeueFailedBlocks(PgConn* c, const std::vector<int64_t>& ids,
                           const std::vector<std::string>& errors, int64_t retry_base_ms,
                           int64_t retry_max_ms) {
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("INSERT INTO replication_queue (id, pos)"
             " SELECT unnest($1::bigint[]), (SELECT applied_pos FROM site_state)"
             " ON CONFLICT DO NOTHING",
             {Param::IntArray(ids)}));
  return c->Run(
      "UPDATE replication_queue q SET attempts = q.attempts + 1, last_error = x.err,"
      " next_attempt_at = now() + least($4::float8, $3::float8 *"
      " power(2, least(q.attempts, 20))) * interval '1 millisecond'"
      " FROM unnest($1::bigint[], $2::text[]) AS x(id, err) WHERE q.id = x.id",
      {Param::IntArray(ids), Param::TextArray(errors), Param::Int(retry_base_ms),
       Param::Int(retry_max_ms)});
}

Result<uint64_t> QueueUnreplicatedBlocks(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("WITH ins AS (INSERT INTO replication_queue (id, pos)"
                      " SELECT b.id, (SELECT applied_pos FROM site_state) FROM blocks b"
                      " WHERE NOT EXISTS"
                      " (SELECT 1 FROM replicated_blocks r WHERE r.id = b.id)"
                      " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins"));
  return static_cast<uint64_t>(r.GetInt(0, 0));
}

Result<std::vector<QueuedBlock>> DueQueuedBlocks(PgConn* c, int limit) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec(std::string("SELECT q.id, b.id IS NULL, ") + kBlockCols +
                          " FROM replication_queue q LEFT JOIN blocks b ON b.id = q.id"
                          " WHERE q.next_attempt_at <= now()"
                          " ORDER BY q.next_attempt_at, q.id LIMIT $1",
                      {Param::Int(limit)}));
  std::vector<QueuedBlock> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    out[i].id = static_cast<uint64_t>(r.GetInt(i, 0));
    out[i].gone = r.Get(i, 1) == "t";
    out[i].ref.id = out[i].id;
    if (!out[i].gone) {
      MERIDIAN_ASSIGN_OR_RETURN(out[i].ref, BlockFromRow(r, i, 2));
    }
  }
  return out;
}

Status DequeueBlocks(PgConn* c, const std::vector<int64_t>& ids) {
  return c->Run("DELETE FROM replication_queue WHERE id = ANY($1::bigint[])",
                {Param::IntArray(ids)});
}

Result<std::vector<uint64_t>> FreedBlocksOlderThan(PgConn* c, int64_t grace_seconds, int limit) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c->Exec("SELECT id FROM deleted_blocks"
                                    " WHERE deleted_at <= now() - $1::float8 * interval '1 second'"
                                    " ORDER BY id LIMIT $2",
                                    {Param::Int(grace_seconds), Param::Int(limit)}));
  std::vector<uint64_t> ids(r.rows());
  for (int i = 0; i < r.rows(); ++i) ids[i] = static_cast<uint64_t>(r.GetInt(i, 0));
  return ids;
}

Status ForgetCollectedBlocks(PgConn* c, const std::vector<int64_t>& ids) {
  for (const char* table : {"replicated_blocks", "replication_queue", "deleted_blocks"}) {
    MERIDIAN_RETURN_IF_ERROR(
        c->Run(std::string("DELETE FROM ") + table + " WHERE id = ANY($1::bigint[])",
               {Param::IntArray(ids)}));
  }
  return Status::OK();
}

Result<uint64_t> CountBlocks(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec("SELECT count(*) FROM blocks"));
  return static_cast<uint64_t>(r.GetInt(0, 0));
}

Result<std::vector<BlockRef>> BlocksAfter(PgConn* c, int64_t after, int limit) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c->Exec(std::string("SELECT ") + kBlockCols +
                                        " FROM blocks b WHERE b.id > $1 ORDER BY b.id LIMIT $2",
                                    {Param::Int(after), Param::Int(limit)}));
  std::vector<BlockRef> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, BlockFromRow(r, i, 0));
    out.push_back(ref);
  }
  return out;
}

Result<ReplicationBacklog> ReadReplicationBacklog(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("SELECT count(*), coalesce(sum(b.stored_len), 0),"
                      " coalesce(extract(epoch FROM now() - min(q.enqueued_at)), 0),"
                      " (SELECT least(s.applied_pos, coalesce(min(q.pos) - 1, s.applied_pos))"
                      "  FROM site_state s)"
                      " FROM replication_queue q LEFT JOIN blocks b ON b.id = q.id"
                      " WHERE b.id IS NOT NULL"));
  ReplicationBacklog b;
  b.blocks = static_cast<uint64_t>(r.GetInt(0, 0));
  b.bytes = static_cast<uint64_t>(r.GetInt(0, 1));
  b.oldest_age_seconds = std::stod(std::string(r.Get(0, 2)));
  b.data_complete_pos = static_cast<uint64_t>(r.GetInt(0, 3));
  return b;
}

}  // namespace meridian::meta
