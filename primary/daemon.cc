#include "primary/daemon.h"

#include <glog/logging.h>
#include <poll.h>

#include <limits>
#include <thread>

#include "meta/catalog.h"
#include "meta/pg.h"
#include "meta/schema.h"
#include "primary/pg_log_source.h"

namespace meridian::primary {
namespace {

// How often the loops below look at the stop flag: a stopped daemon lets go
// of its port within about this long, so it can be restarted at once.
constexpr std::chrono::milliseconds kStopCheck{50};

// Wakes the server on every NOTIFY meridian_changelog; reconnects as needed.
void ListenLoop(const std::string& conninfo, sitelink::StreamServer* server,
                const std::atomic<bool>* stop, Clock* clock) {
  while (!stop->load()) {
    auto conn = meta::PgConn::Connect(conninfo);
    if (!conn.ok() || !(*conn)->Run("LISTEN meridian_changelog").ok()) {
      LOG_EVERY_N(WARNING, 10) << "LISTEN connection failed, retrying: "
                               << (conn.ok() ? "LISTEN failed" : conn.status().ToString());
      clock->SleepFor(std::chrono::milliseconds(500), stop);
      continue;
    }
    server->Notify();  // anything committed while we were not listening
    PGconn* raw = (*conn)->raw();
    while (!stop->load()) {
      pollfd p{PQsocket(raw), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(kStopCheck.count())) < 0 && errno != EINTR) break;
      if (!PQconsumeInput(raw)) break;  // lost: reconnect
      bool any = false;
      while (PGnotify* n = PQnotifies(raw)) {
        any = true;
        PQfreemem(n);
      }
      if (any) server->Notify();
    }
  }
}

// Writes each mirror's row of site_mirrors. A row that cannot be written
// (the server validated it, so this is a bug or a broken database) is logged
// and skipped: it never stops the others. Returns the first error.
Status RecordMirrors(meta::PgConn* c, const std::vector<sitelink::MirrorState>& mirrors) {
  Status first;
  for (const auto& m : mirrors) {
    Status st;
    if (m.acked > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      st = Status::InvalidArgument("acknowledged position out of range");
    } else {
      st = c->Run(
          "INSERT INTO site_mirrors (public_key, name, acked_pos, connected, last_seen)"
          " VALUES ($1, $2, $3, $4, to_timestamp($5::double precision))"
          " ON CONFLICT (public_key) DO UPDATE SET name = $2, acked_pos = $3, connected = $4,"
          " last_seen = to_timestamp($5::double precision)",
          {meta::Param::Text(m.public_key), meta::Param::Text(m.name),
           meta::Param::Int(static_cast<int64_t>(m.acked)),
           meta::Param::Text(m.connected ? "true" : "false"),
           meta::Param::Text(std::to_string(
               std::chrono::duration<double>(m.last_seen.time_since_epoch()).count()))});
    }
    if (!st.ok()) {
      LOG_EVERY_N(WARNING, 60) << "recording mirror key " << m.public_key
                               << " in site_mirrors: " << st.ToString();
      if (first.ok()) first = st;
    }
  }
  return first;
}

// Rows no real mirror can have written (a position past the head, or one
// that overflowed before positions were checked) would hold block GC back
// for everyone: they go, and the mirror's next acknowledgement writes its
// row again.
void DropImpossibleMirrorRows(meta::PgConn* c, uint64_t head) {
  auto r =
      c->Exec("DELETE FROM site_mirrors WHERE acked_pos < 0 OR acked_pos > $1 RETURNING public_key",
              {meta::Param::Int(static_cast<int64_t>(head))});
  if (!r.ok()) {
    LOG(WARNING) << "checking site_mirrors: " << r.status().ToString();
    return;
  }
  for (int i = 0; i < r->rows(); ++i) {
    LOG(WARNING) << "site_mirrors: removed the row of mirror key " << r->Get(i, 0)
                 << ", whose acknowledged position is not in the log (0.." << head << ")";
  }
}

// The daemon's liveness row (site_daemon): `meridian status` calls a
// daemon whose row is older than a few seconds not running.
Status RecordDaemon(meta::PgConn* c, const std::string& endpoint) {
  return c->Run(
      "INSERT INTO site_daemon (role, endpoint) VALUES ('primary', $1) ON CONFLICT (singleton)"
      " DO UPDATE SET role = 'primary', endpoint = $1, updated_at = now()",
      {meta::Param::Text(endpoint)});
}

}  // namespace

Status RunPrimary(const PrimaryDaemonOptions& o) {
  Clock* const clock = OrRealClock(o.clock);
  MERIDIAN_ASSIGN_OR_RETURN(auto source, PgLogSource::Open(o.conninfo));
  MERIDIAN_ASSIGN_OR_RETURN(auto maint_source, PgLogSource::Open(o.conninfo));
  MERIDIAN_ASSIGN_OR_RETURN(auto maint, meta::PgConn::Connect(o.conninfo));
  // An older schema is upgraded in place (mirrors are upgraded first: they
  // read the frames of both versions; docs/changelog-format.md).
  MERIDIAN_RETURN_IF_ERROR(meta::Migrate(maint.get()).With("upgrading the metadata schema"));
  MERIDIAN_ASSIGN_OR_RETURN(auto head, source->Head());
  MERIDIAN_ASSIGN_OR_RETURN(auto volume, meta::LoadVolume(maint.get()));
  DropImpossibleMirrorRows(maint.get(), head);
  sitelink::StreamServer::Options server_options = o.server;
  server_options.volume_uuid = volume.uuid;  // mirrors of another volume are refused
  server_options.snapshot_source = PgLogSource::Opener(o.conninfo);  // bounded, off-thread
  MERIDIAN_ASSIGN_OR_RETURN(
      auto server, o.start_server ? o.start_server(server_options, source.get())
                                  : sitelink::StreamServer::Start(server_options, source.get()));
  LOG(INFO) << "primary serving the change log (head " << head << ") on " << server->endpoint()
            << " to " << o.server.allowed_client_keys.size() << " allowed mirror key(s)";
  if (o.on_listening) o.on_listening(server->endpoint());
  std::thread listener(ListenLoop, o.conninfo, server.get(), o.stop, clock);
  auto next_gc = clock->Now() + o.gc_interval;
  // Without it `status` says "not running" for a second or so.
  if (Status st = RecordDaemon(maint.get(), server->endpoint()); !st.ok()) {
    LOG(WARNING) << "recording the daemon in site_daemon: " << st.ToString();
  }

  while (!o.stop->load()) {
    clock->SleepFor(std::chrono::seconds(1), o.stop);
    if (o.stop->load()) break;
    const auto mirrors = server->Mirrors();
    Status s = meta::RetryTransaction([&] {  // upserts: safe to run again after a deadlock
      Status r = RecordDaemon(maint.get(), server->endpoint());
      return r.ok() ? RecordMirrors(maint.get(), mirrors) : r;
    });
    if (!s.ok() && s.code() == Code::kUnavailable) {
      auto c = meta::PgConn::Connect(o.conninfo);
      if (c.ok()) maint = std::move(c).value();
    }
    auto h = maint_source->Head();
    if (h.ok() && o.on_tick) o.on_tick(*h, mirrors);
    if (o.log_retention > 0) {
      if (h.ok() && *h > o.log_retention) {
        // Never past a snapshot being sent (or sent, not yet acknowledged):
        // its mirror continues from the entries after it.
        uint64_t upto = *h - o.log_retention;
        for (const auto& m : mirrors) {
          if (m.snapshot_pos > 0) upto = std::min(upto, m.snapshot_pos);
        }
        auto n = maint_source->Truncate(upto);
        if (n.ok() && *n > 0) VLOG(1) << "log retention removed " << *n << " entries";
      }
    }
    if (o.gc.store != nullptr && o.gc_interval.count() > 0 && clock->Now() >= next_gc) {
      next_gc = clock->Now() + o.gc_interval;
      auto r = CollectGarbage(maint.get(), o.gc);
      if (!r.ok()) {
        LOG(WARNING) << "gc: " << r.status().ToString();
      } else if (r->deleted + r->failed > 0) {
        LOG(INFO) << "gc: deleted " << r->deleted << " freed block(s) (" << r->forced
                  << " past --max-wait), " << r->failed << " failed, " << r->waiting
                  << " waiting for mirror " << r->slowest_mirror;
      }
    }
  }
  listener.join();
  // Stopped: no mirror is connected to this daemon any more.
  auto mirrors = server->Mirrors();
  for (auto& m : mirrors) m.connected = false;
  (void)RecordMirrors(maint.get(), mirrors);
  (void)maint->Run("DELETE FROM site_daemon");
  server.reset();
  LOG(INFO) << "primary stopped";
  return Status::OK();
}

}  // namespace meridian::primary
