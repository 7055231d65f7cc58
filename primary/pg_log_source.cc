#include "primary/pg_log_source.h"

#include <glog/logging.h>

#include <cstring>
#include <map>

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "meta/catalog.h"
#include "meta/tenants.h"
#include "primary/change_recorder.h"

namespace meridian::primary {

using meta::Param;

Result<std::unique_ptr<PgLogSource>> PgLogSource::Open(const std::string& conninfo,
                                                       size_t chunk_ops) {
  MERIDIAN_ASSIGN_OR_RETURN(auto c, meta::PgConn::Connect(conninfo));
  std::unique_ptr<PgLogSource> s(new PgLogSource(std::move(c), chunk_ops));
  s->conninfo_ = conninfo;
  return s;
}

Status PgLogSource::Reconnect() {
  MERIDIAN_ASSIGN_OR_RETURN(c_, meta::PgConn::Connect(conninfo_));
  LOG(INFO) << "reconnected to the primary's database " << c_->target();
  return Status::OK();
}

std::function<Result<std::unique_ptr<sitelink::LogSource>>()> PgLogSource::Opener(
    std::string conninfo, size_t chunk_ops) {
  return [conninfo = std::move(conninfo),
          chunk_ops]() -> Result<std::unique_ptr<sitelink::LogSource>> {
    MERIDIAN_ASSIGN_OR_RETURN(auto source, Open(conninfo, chunk_ops));
    return std::unique_ptr<sitelink::LogSource>(std::move(source));
  };
}

Result<uint64_t> PgLogSource::Head() {
  // The head and a WAL flush in one round trip (one implicit transaction):
  // every position up to the head committed before this statement's
  // snapshot, so once it returns they are all durable (meta/pg.h).
  auto r = Retry([&] {
    return c_->Exec(std::string("SELECT head, ") + meta::kFlushWalColumns + " FROM write_lock");
  });
  if (!r.ok()) return r.status();
  durable_head_ = static_cast<uint64_t>(r->GetInt(0, 0));
  return durable_head_;
}

Result<uint64_t> PgLogSource::Oldest() {
  auto r = Retry([&] {
    return c_->Exec("SELECT coalesce(min(pos), (SELECT head + 1 FROM write_lock)) FROM changelog");
  });
  if (!r.ok()) return r.status();
  return static_cast<uint64_t>(r->GetInt(0, 0));
}

Result<std::string> PgLogSource::ReadBatch(uint64_t after, size_t max_entries, size_t max_bytes) {
  // Never past the durable head: an entry above it may be committed and
  // visible but not yet flushed, and the primary could still lose it.
  if (after >= durable_head_) MERIDIAN_RETURN_IF_ERROR(Head().status());
  if (after >= durable_head_) return std::string();
  auto r = Retry([&] {
    return c_->Exec(
        "SELECT pos, body, tenant_id, tenant_pos, epoch FROM changelog"
        " WHERE pos > $1 AND pos <= $3 ORDER BY pos LIMIT $2",
        {Param::Int(static_cast<int64_t>(after)),
         Param::Int(static_cast<int64_t>(std::max<size_t>(1, max_entries))),
         Param::Int(static_cast<int64_t>(durable_head_))});
  });
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return std::string();
  // Bodies are stored in wire form: frame them as they are, with their
  // tenant's log, position and epoch (the mirror decodes and checks every one).
  std::vector<changelog::StoredEntry> entries;
  size_t bytes = 0;
  for (int i = 0; i < r->rows(); ++i) {
    if (static_cast<uint64_t>(r->GetInt(i, 0)) != after + 1 + entries.size()) {
      return Status::Corruption("change log row " + std::string(r->Get(i, 0)) + " found where " +
                                std::to_string(after + 1 + entries.size()) + " was expected");
    }
    std::string body = r->GetBytes(i, 1);
    if (!entries.empty() && bytes + body.size() > max_bytes) break;
    bytes += body.size();
    entries.push_back(changelog::StoredEntry{
        static_cast<uint64_t>(r->GetInt(i, 2)), static_cast<uint64_t>(r->GetInt(i, 3)),
        static_cast<uint64_t>(r->GetInt(i, 4)), std::move(body)});
  }
  return changelog::EncodeBatchOfEntries(after + 1, entries, /*compress=*/true);
}

Result<uint64_t> PgLogSource::Truncate(uint64_t upto) {
  auto r = Retry([&] {
    return c_->Exec("DELETE FROM changelog WHERE pos <= $1",
                    {Param::Int(static_cast<int64_t>(upto))});
  });
  if (!r.ok()) return r.status();
  return static_cast<uint64_t>(std::strtoull(PQcmdTuples(r->raw()), nullptr, 10));
}

namespace {

// Emits ops as chunks of at most `limit`, never mixing tenants in one chunk.
class ChunkWriter {
 public:
  ChunkWriter(uint64_t pos, size_t limit, const std::function<Status(std::string)>& sink)
      : pos_(pos), limit_(limit), sink_(sink) {}
  Status Add(const std::string& tenant, changelog::Op op) {
    if (!cur_.ops.empty() && (cur_.tenant != tenant || cur_.ops.size() >= limit_)) {
      MERIDIAN_RETURN_IF_ERROR(Flush());
    }
    cur_.tenant = tenant;
    cur_.ops.push_back(std::move(op));
    return Status::OK();
  }
  Status Flush() {
    if (cur_.ops.empty()) return Status::OK();
    cur_.pos = pos_;
    Status s = sink_(changelog::EncodeChange(cur_));
    cur_.ops.clear();
    return s;
  }

 private:
  uint64_t pos_;
  size_t limit_;
  const std::function<Status(std::string)>& sink_;
  changelog::Change cur_;
};

constexpr const char* kTenantsCte =
    "WITH RECURSIVE t(ino, tenant) AS ("
    "  SELECT 1::bigint, ''::bytea"
    "  UNION ALL"
    "  SELECT d.ino, CASE WHEN t.ino = 1 THEN d.name ELSE t.tenant END"
    "  FROM dentries d JOIN t ON d.parent = t.ino) ";

}  // namespace

Status PgLogSource::Snapshot(const std::function<Status(uint64_t)>& begin,
                             const std::function<Status(std::string)>& chunk) {
  // One REPEATABLE READ transaction: every query below sees the database as
  // of the same instant, which is exactly log position `head`.
  Status st = c_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ");
  if (!st.ok() && st.code() == Code::kUnavailable && Reconnect().ok()) {
    st = c_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ");
  }
  MERIDIAN_RETURN_IF_ERROR(st);
  auto body = [&]() -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(auto h, c_->Exec("SELECT head FROM write_lock"));
    const uint64_t s = static_cast<uint64_t>(h.GetInt(0, 0));
    // The snapshot may include commits not flushed yet. A flush that starts
    // now covers every commit this snapshot sees; this connection is inside
    // the snapshot's transaction, so flush through a short-lived one.
    MERIDIAN_ASSIGN_OR_RETURN(auto flusher, meta::PgConn::Connect(conninfo_));
    MERIDIAN_RETURN_IF_ERROR(meta::FlushWal(flusher.get()).With("making the snapshot durable"));
    MERIDIAN_RETURN_IF_ERROR(begin(s));
    ChunkWriter out(s, chunk_ops_, chunk);
    MERIDIAN_ASSIGN_OR_RETURN(
        auto v,
        c_->Exec("SELECT name, uuid, bucket, endpoint, compression, block_size FROM volume"));
    if (v.rows() != 1) return Status::FailedPrecondition("the primary has no volume record");
    MERIDIAN_RETURN_IF_ERROR(out.Add(
        "", changelog::SetVolume{std::string(v.Get(0, 0)), std::string(v.Get(0, 1)),
                                 std::string(v.Get(0, 2)), std::string(v.Get(0, 3)),
                                 std::string(v.Get(0, 4)), static_cast<uint32_t>(v.GetInt(0, 5))}));
    MERIDIAN_RETURN_IF_ERROR(out.Flush());

    // Inodes, grouped by tenant, with their blocks.
    MERIDIAN_RETURN_IF_ERROR(c_->Run(
        std::string("DECLARE snap_inodes NO SCROLL CURSOR FOR ") + kTenantsCte +
        "SELECT i.ino, i.kind, i.mode, i.uid, i.gid, i.size, i.mtime_ns, i.ctime_ns, i.nlink,"
        " i.target, t.tenant FROM t JOIN inodes i ON i.ino = t.ino ORDER BY t.tenant, i.ino"));
    while (true) {
      MERIDIAN_ASSIGN_OR_RETURN(
          auto r, c_->Exec("FETCH FORWARD " + std::to_string(chunk_ops_) + " FROM snap_inodes"));
      if (r.rows() == 0) break;
      std::vector<changelog::UpsertInode> inodes(r.rows());
      std::vector<std::string> tenants(r.rows());
      std::string ids = "{";
      for (int i = 0; i < r.rows(); ++i) {
        auto& u = inodes[i];
        u = ToUpsert(meta::AttrFromRow(r, i, 0));
        tenants[i] = r.GetBytes(i, 10);
        u.has_blocks = u.kind == static_cast<int16_t>(meta::FileKind::kFile);
        ids += (i ? "," : "") + std::to_string(u.ino);
      }
      ids += "}";
      MERIDIAN_ASSIGN_OR_RETURN(
          auto b, c_->Exec("SELECT ino, idx, id, len, stored_len, comp, sha256 FROM blocks"
                           " WHERE ino = ANY($1::bigint[]) ORDER BY ino, idx",
                           {Param::Text(ids)}));
      std::map<uint64_t, std::vector<BlockRef>> blocks;
      for (int i = 0; i < b.rows(); ++i) {
        MERIDIAN_ASSIGN_OR_RETURN(BlockRef ref, meta::BlockFromRow(b, i, 1));
        blocks[static_cast<uint64_t>(b.GetInt(i, 0))].push_back(ref);
      }
      for (size_t i = 0; i < inodes.size(); ++i) {
        if (auto it = blocks.find(inodes[i].ino); it != blocks.end()) {
          inodes[i].blocks = std::move(it->second);
        }
        MERIDIAN_RETURN_IF_ERROR(out.Add(tenants[i], std::move(inodes[i])));
      }
    }
    MERIDIAN_RETURN_IF_ERROR(c_->Run("CLOSE snap_inodes"));

    // Directory entries, each in the tenant of the inode it names.
    MERIDIAN_RETURN_IF_ERROR(
        c_->Run(std::string("DECLARE snap_dentries NO SCROLL CURSOR FOR ") + kTenantsCte +
                "SELECT d.parent, d.name, d.ino, d.kind, t.tenant FROM dentries d"
                " JOIN t ON t.ino = d.ino ORDER BY t.tenant, d.parent, d.name"));
    while (true) {
      MERIDIAN_ASSIGN_OR_RETURN(
          auto r, c_->Exec("FETCH FORWARD " + std::to_string(chunk_ops_) + " FROM snap_dentries"));
      if (r.rows() == 0) break;
      for (int i = 0; i < r.rows(); ++i) {
        MERIDIAN_RETURN_IF_ERROR(
            out.Add(r.GetBytes(i, 4),
                    changelog::UpsertDentry{static_cast<uint64_t>(r.GetInt(i, 0)), r.GetBytes(i, 1),
                                            static_cast<uint64_t>(r.GetInt(i, 2)),
                                            static_cast<int16_t>(r.GetInt(i, 3))}));
      }
    }
    MERIDIAN_RETURN_IF_ERROR(c_->Run("CLOSE snap_dentries"));
    // Every tenant's ownership record and head, after the entries that make
    // the rows at the mirror (docs/tenants.md), each with its tenant.
    MERIDIAN_ASSIGN_OR_RETURN(auto tenants, meta::ListTenants(c_.get()));
    for (const meta::TenantRow& t : tenants) {
      MERIDIAN_RETURN_IF_ERROR(out.Add(
          t.name,
          changelog::SetTenant{
              t.id, t.owner, t.epoch,
              t.state == "frozen" ? changelog::kTenantFrozen : changelog::kTenantActive, t.head}));
    }
    return out.Flush();
  };
  st = body();
  if (st.ok()) return c_->Commit();
  c_->Rollback();
  return st.With("taking a snapshot");
}

}  // namespace meridian::primary
