#include "bench/changelog_bench_sites.h"

#include <glog/logging.h>

#include <cstdio>

#include "changelog/codec.h"
#include "changelog/entry.h"
#include "mirror/site.h"
#include "primary/daemon.h"
#include "primary/format.h"

namespace meridian::bench {

using meta::Param;
using meta::PgConn;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status FormatPrimary(const std::string& conninfo, const std::string& name) {
  MERIDIAN_ASSIGN_OR_RETURN(auto c, PgConn::Connect(conninfo));
  bool created = false;
  return primary::Format(c.get(),
                         {name, "file:///var/tmp/bench-bucket", "", 1 << 20, Compression::kNone},
                         &created)
      .status();
}

// ---- PrimaryRunner ----

Result<std::unique_ptr<PrimaryRunner>> PrimaryRunner::Start(const std::string& conninfo,
                                                            const sitelink::CurveKeyPair& keys,
                                                            const std::string& allowed_key) {
  std::unique_ptr<PrimaryRunner> p(new PrimaryRunner());
  auto endpoint = std::make_shared<std::string>();
  auto done = std::make_shared<std::atomic<int>>(0);  // 1 listening, 2 failed
  primary::PrimaryDaemonOptions o;
  o.conninfo = conninfo;
  o.server.bind = "tcp://127.0.0.1:0";
  o.server.server_keys = keys;
  o.server.allowed_client_keys = {allowed_key};
  o.stop = &p->stop_;
  o.on_listening = [endpoint, done](const std::string& e) {
    *endpoint = e;
    done->store(1);
  };
  p->thread_ = std::thread([o, done] {
    Status s = primary::RunPrimary(o);
    if (!s.ok()) LOG(ERROR) << "primary: " << s.ToString();
    if (done->load() == 0) done->store(2);
  });
  for (auto until = Clock::now() + std::chrono::seconds(20);
       done->load() == 0 && Clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (done->load() != 1) return Status::Internal("the primary daemon did not start");
  p->endpoint_ = *endpoint;
  return p;
}

PrimaryRunner::~PrimaryRunner() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

int PrimaryRunner::port() const { return std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)); }

// ---- MirrorRunner ----

std::unique_ptr<MirrorRunner> MirrorRunner::Start(const std::string& replica_conninfo,
                                                  const std::string& primary_endpoint,
                                                  const std::string& primary_key,
                                                  const sitelink::CurveKeyPair& keys,
                                                  milliseconds peer_timeout) {
  std::unique_ptr<MirrorRunner> m(new MirrorRunner());
  mirror::MirrorSiteOptions o;
  o.replica_conninfo = replica_conninfo;
  o.primary = primary_endpoint;
  o.primary_public_key = primary_key;
  o.keys = keys;
  o.site_name = "bench";
  o.peer_timeout = peer_timeout;
  o.stop = &m->stop_;
  m->thread_ = std::thread([o, raw = m.get()] {
    mirror::MirrorSite site(o);
    raw->result_ = site.Run();
    if (!raw->result_.ok()) LOG(ERROR) << "mirror: " << raw->result_.ToString();
  });
  return m;
}

Status MirrorRunner::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return result_;
}

MirrorRunner::~MirrorRunner() { (void)Stop(); }

// ---- Positions ----

Result<uint64_t> AppliedPos(PgConn* replica) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, replica->Exec("SELECT applied_pos FROM site_state"));
  if (r.rows() != 1) return Status::FailedPrecondition("replica has no site_state");
  return static_cast<uint64_t>(r.GetInt(0, 0));
}

Result<uint64_t> Head(PgConn* primary) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, primary->Exec("SELECT head FROM write_lock"));
  return static_cast<uint64_t>(r.GetInt(0, 0));
}

Result<double> WaitApplied(const std::string& replica_conninfo, uint64_t pos,
                           std::chrono::seconds limit, milliseconds every) {
  const auto t0 = Clock::now();
  std::unique_ptr<PgConn> c;
  while (Clock::now() - t0 < limit) {
    if (!c) {  // the mirror creates the schema: the table may not exist yet
      auto cc = PgConn::Connect(replica_conninfo);
      if (cc.ok()) c = std::move(cc).value();
    }
    if (c) {
      auto p = AppliedPos(c.get());
      if (p.ok() && *p >= pos) return std::chrono::duration<double>(Clock::now() - t0).count();
    }
    std::this_thread::sleep_for(every);
  }
  return Status::Unavailable("replica did not reach position " + std::to_string(pos) + " in " +
                             std::to_string(limit.count()) + " s");
}

// ---- VisibilityPoller ----

Result<std::unique_ptr<VisibilityPoller>> VisibilityPoller::Start(
    const std::string& replica_conninfo) {
  std::unique_ptr<VisibilityPoller> p(new VisibilityPoller());
  MERIDIAN_ASSIGN_OR_RETURN(p->c_, PgConn::Connect(replica_conninfo));
  MERIDIAN_RETURN_IF_ERROR(p->c_->Run("PREPARE pos AS SELECT applied_pos FROM site_state"));
  p->thread_ = std::thread([raw = p.get()] {
    uint64_t last = 0;
    auto next = Clock::now();
    while (!raw->stop_.load()) {
      auto r = raw->c_->Exec("EXECUTE pos");
      const int64_t t = UnixNowNs();
      if (!r.ok()) {
        raw->error_ = r.status();
        return;
      }
      const uint64_t pos = static_cast<uint64_t>(r->GetInt(0, 0));
      if (pos > last) {
        raw->seen_.emplace_back(pos, t);
        last = pos;
      }
      next += milliseconds(1);
      const auto now = Clock::now();
      if (next < now) next = now;
      std::this_thread::sleep_until(next);
    }
  });
  return p;
}

std::vector<std::pair<uint64_t, int64_t>> VisibilityPoller::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (!error_.ok()) LOG(ERROR) << "poller: " << error_.ToString();
  return std::move(seen_);
}

VisibilityPoller::~VisibilityPoller() { (void)Stop(); }

// ---- Bulk loaders ----

namespace {

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char ch : bytes) {
    out.push_back(kDigits[ch >> 4]);
    out.push_back(kDigits[ch & 15]);
  }
  return out;
}

// Reserves `n` consecutive values of `seq`; returns the first.
Result<uint64_t> Reserve(PgConn* c, const std::string& seq, uint64_t n) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c->Exec("SELECT setval('" + seq + "', nextval('" + seq + "') + $1 - 1)",
                                    {Param::Int(static_cast<int64_t>(n))}));
  return static_cast<uint64_t>(r.GetInt(0, 0)) - n + 1;
}

Status PutCopy(PgConn* c, std::string* buf) {
  if (PQputCopyData(c->raw(), buf->data(), static_cast<int>(buf->size())) != 1) {
    return Status::Internal(std::string("COPY: ") + PQerrorMessage(c->raw()));
  }
  buf->clear();
  return Status::OK();
}

}  // namespace

Result<uint64_t> AppendSyntheticMkdirs(const std::string& primary_conninfo, uint64_t parent,
                                       const std::string& tenant, uint64_t n) {
  MERIDIAN_ASSIGN_OR_RETURN(auto c, PgConn::Connect(primary_conninfo));
  MERIDIAN_RETURN_IF_ERROR(c->Begin());
  // The write lock, as every mutation takes it: nothing else commits meanwhile.
  MERIDIAN_ASSIGN_OR_RETURN(auto h, c->Exec("SELECT head FROM write_lock FOR UPDATE"));
  const uint64_t head0 = static_cast<uint64_t>(h.GetInt(0, 0));
  // `parent` is a top-level directory: the entries are its tenant's log.
  MERIDIAN_ASSIGN_OR_RETURN(auto th, c->Exec("SELECT head, epoch FROM tenants WHERE tenant_id = $1",
                                             {Param::Int(static_cast<int64_t>(parent))}));
  if (th.rows() != 1) return Status::NotFound("inode " + std::to_string(parent) + " is no tenant");
  const uint64_t tenant_head0 = static_cast<uint64_t>(th.GetInt(0, 0));
  const uint64_t epoch = static_cast<uint64_t>(th.GetInt(0, 1));
  MERIDIAN_ASSIGN_OR_RETURN(auto pr,
                            c->Exec("SELECT mode, uid, gid, nlink FROM inodes WHERE ino = $1",
                                    {Param::Int(static_cast<int64_t>(parent))}));
  if (pr.rows() != 1) return Status::NotFound("no parent inode " + std::to_string(parent));
  const uint32_t pmode = pr.GetInt(0, 0), puid = pr.GetInt(0, 1), pgid = pr.GetInt(0, 2);
  const uint32_t pnlink = pr.GetInt(0, 3);
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t first, Reserve(c.get(), "inode_seq", n));
  const int64_t t0 = UnixNowNs();
  constexpr int64_t kStepNs = 1000;  // entry i committed "at" t0 + i us

  {  // PgConn::Run expects a finished command; COPY IN is driven by hand.
    PGresult* r =
        PQexec(c->raw(),
               "COPY changelog (pos, commit_time_ns, tenant, body, tenant_id, tenant_pos, epoch)"
               " FROM STDIN");
    const bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok) return Status::Internal(std::string("COPY: ") + PQerrorMessage(c->raw()));
  }
  const std::string tenant_hex = "\\\\x" + Hex(tenant);
  std::string buf;
  char name[24];
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t t = t0 + static_cast<int64_t>(i) * kStepNs;
    std::snprintf(name, sizeof(name), "d%08llu", static_cast<unsigned long long>(i));
    changelog::Change ch;
    ch.pos = head0 + 1 + i;
    ch.commit_time_ns = t;
    ch.tenant = tenant;
    ch.tenant_id = parent;
    ch.tenant_pos = tenant_head0 + 1 + i;
    ch.epoch = epoch;
    changelog::UpsertInode up;  // the parent: one more subdirectory, new mtime
    up.ino = parent;
    up.kind = 2;
    up.mode = pmode;
    up.uid = puid;
    up.gid = pgid;
    up.mtime_ns = up.ctime_ns = t;
    up.nlink = pnlink + i + 1;
    changelog::UpsertInode dir;
    dir.ino = first + i;
    dir.kind = 2;
    dir.mode = 0755;
    dir.mtime_ns = dir.ctime_ns = t;
    dir.nlink = 2;
    ch.ops = {up, dir, changelog::UpsertDentry{parent, name, first + i, 2}};
    buf += std::to_string(ch.pos) + '\t' + std::to_string(t) + '\t' + tenant_hex + "\t\\\\x" +
           Hex(changelog::EncodeChange(ch)) + '\t' + std::to_string(parent) + '\t' +
           std::to_string(ch.tenant_pos) + '\t' + std::to_string(epoch) + '\n';
    if (buf.size() > (1 << 20)) MERIDIAN_RETURN_IF_ERROR(PutCopy(c.get(), &buf));
  }
  if (!buf.empty()) MERIDIAN_RETURN_IF_ERROR(PutCopy(c.get(), &buf));
  if (PQputCopyEnd(c->raw(), nullptr) != 1) {
    return Status::Internal(std::string("COPY end: ") + PQerrorMessage(c->raw()));
  }
  for (PGresult* r; (r = PQgetResult(c->raw())) != nullptr;) {
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    const std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) return Status::Internal("COPY changelog: " + msg);
  }
  // The namespace the log describes.
  const Param first_p = Param::Int(static_cast<int64_t>(first));
  const Param n_p = Param::Int(static_cast<int64_t>(n));
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink)"
             " SELECT $1::bigint + g, 2, 493, 0, 0, 0, $2::bigint + g * 1000,"
             " $2::bigint + g * 1000, 2 FROM generate_series(0, $3::bigint - 1) g",
             {first_p, Param::Int(t0), n_p}));
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("INSERT INTO dentries (parent, name, ino, kind)"
             " SELECT $1::bigint, convert_to('d' || lpad(g::text, 8, '0'), 'UTF8'),"
             " $2::bigint + g, 2 FROM generate_series(0, $3::bigint - 1) g",
             {Param::Int(static_cast<int64_t>(parent)), first_p, n_p}));
  const int64_t tl = t0 + static_cast<int64_t>(n - 1) * kStepNs;
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("UPDATE inodes SET nlink = nlink + $2, mtime_ns = $3, ctime_ns = $3 WHERE ino = $1",
             {Param::Int(static_cast<int64_t>(parent)), Param::Int(static_cast<int64_t>(n)),
              Param::Int(tl)}));
  MERIDIAN_RETURN_IF_ERROR(
      c->Run("UPDATE write_lock SET head = $1", {Param::Int(static_cast<int64_t>(head0 + n))}));
  MERIDIAN_RETURN_IF_ERROR(c->Run("UPDATE tenants SET head = $2 WHERE tenant_id = $1",
                                  {Param::Int(static_cast<int64_t>(parent)),
                                   Param::Int(static_cast<int64_t>(tenant_head0 + n))}));
  MERIDIAN_RETURN_IF_ERROR(c->Commit());
  MERIDIAN_RETURN_IF_ERROR(c->Run("ANALYZE"));
  return head0 + n;
}

Status PopulateFilesAndTruncateLog(const std::string& primary_conninfo, uint64_t parent,
                                   uint64_t n) {
  MERIDIAN_ASSIGN_OR_RETURN(auto c, PgConn::Connect(primary_conninfo));
  const uint64_t dirs = (n + 999) / 1000;
  MERIDIAN_RETURN_IF_ERROR(c->Begin());
  MERIDIAN_RETURN_IF_ERROR(c->Run("SELECT head FROM write_lock FOR UPDATE"));
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t first, Reserve(c.get(), "inode_seq", dirs + n));
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t first_block, Reserve(c.get(), "block_seq", n));
  const Param first_p = Param::Int(static_cast<int64_t>(first));
  const Param dirs_p = Param::Int(static_cast<int64_t>(dirs));
  const Param n_p = Param::Int(static_cast<int64_t>(n));
  const Param t_p = Param::Int(UnixNowNs());
  const Param parent_p = Param::Int(static_cast<int64_t>(parent));
  const std::vector<std::pair<const char*, std::vector<Param>>> steps = {
      // Directories p00000.. under `parent`, 1000 files each.
      {"INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink)"
       " SELECT $1::bigint + j, 2, 493, 0, 0, 0, $3::bigint, $3::bigint, 2"
       " FROM generate_series(0, $2::bigint - 1) j",
       {first_p, dirs_p, t_p}},
      {"INSERT INTO dentries (parent, name, ino, kind)"
       " SELECT $3::bigint, convert_to('p' || lpad(j::text, 5, '0'), 'UTF8'), $1::bigint + j, 2"
       " FROM generate_series(0, $2::bigint - 1) j",
       {first_p, dirs_p, parent_p}},
      {"UPDATE inodes SET nlink = nlink + $1::bigint WHERE ino = $2::bigint", {dirs_p, parent_p}},
      // Files f0000000.. of 4 KiB, one block each.
      {"INSERT INTO inodes (ino, kind, mode, uid, gid, size, mtime_ns, ctime_ns, nlink)"
       " SELECT $1::bigint + $2::bigint + g, 1, 420, 0, 0, 4096, $4::bigint, $4::bigint, 1"
       " FROM generate_series(0, $3::bigint - 1) g",
       {first_p, dirs_p, n_p, t_p}},
      {"INSERT INTO dentries (parent, name, ino, kind)"
       " SELECT $1::bigint + g / 1000, convert_to('f' || lpad(g::text, 7, '0'), 'UTF8'),"
       " $1::bigint + $2::bigint + g, 1 FROM generate_series(0, $3::bigint - 1) g",
       {first_p, dirs_p, n_p}},
      {"INSERT INTO blocks (ino, idx, id, len, stored_len, comp, sha256)"
       " SELECT $1::bigint + $2::bigint + g, 0, $4::bigint + g, 4096, 4096, 0,"
       " sha256(int8send(g)) FROM generate_series(0, $3::bigint - 1) g",
       {first_p, dirs_p, n_p, Param::Int(static_cast<int64_t>(first_block))}},
      // Log retention took everything: a new mirror must bootstrap.
      {"DELETE FROM changelog", {}},
  };
  for (const auto& [sql, params] : steps) MERIDIAN_RETURN_IF_ERROR(c->Run(sql, params));
  MERIDIAN_RETURN_IF_ERROR(c->Commit());
  return c->Run("VACUUM ANALYZE");
}

}  // namespace meridian::bench
