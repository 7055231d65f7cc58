#include "vfs/change_watch.h"

#include <glog/logging.h>
#include <poll.h>

#include <cstring>

#include "meta/change_listen.h"
#include "meta/notify.h"
#include "meta/pg.h"

namespace meridian::vfs {
namespace {

// How long a silent notification link may be before it is checked.
constexpr int kDeadPeerSeconds = 10;

}  // namespace

void ChangeWatch::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ChangeWatch::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ChangeWatch::Loop() {
  bool warned = false;
  while (!stop_.load()) {
    auto conn = meta::PgConn::Connect(conninfo_, kDeadPeerSeconds);
    Status st = conn.ok() ? meta::ListenForChanges(conn->get()) : conn.status();
    if (!st.ok()) {
      if (!warned) {
        LOG(WARNING) << "change notifications: " << st.ToString()
                     << " (retrying; until then the mount may be stale by up to --attr-timeout)";
      }
      warned = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    warned = false;
    cb_({}, true);  // whatever changed while we were not listening
    PGconn* raw = (*conn)->raw();
    auto last_heard = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      pollfd p{PQsocket(raw), POLLIN, 0};
      const int ready = ::poll(&p, 1, 200);
      if (ready < 0 && errno != EINTR) break;
      // A silent connection may be a dead one (a failover, a NAT drop):
      // ask the server now and then; keepalives bound how long that takes.
      const auto now = std::chrono::steady_clock::now();
      if (ready == 0 && now - last_heard > std::chrono::seconds(kDeadPeerSeconds)) {
        if (!meta::CheckAlive(conn->get()).ok()) {
          LOG(WARNING) << "change notifications: the database does not answer, reconnecting "
                          "(until then the mount may be stale by up to --attr-timeout)";
          break;
        }
        last_heard = now;
      }
      if (ready > 0) last_heard = now;
      if (!PQconsumeInput(raw)) {
        LOG(WARNING) << "change notifications: lost the database connection, reconnecting "
                        "(until then the mount may be stale by up to --attr-timeout)";
        break;
      }
      // Drain everything queued into one callback.
      std::vector<uint64_t> inos, one;
      bool all = false, any = false;
      while (PGnotify* n = PQnotifies(raw)) {
        any = true;
        uint64_t pos = 0;
        bool star = false;
        if (std::strcmp(n->relname, meta::kAppliedChannel) != 0 ||
            !meta::ParseAppliedPayload(n->extra, &pos, &one, &star)) {
          star = true;
        }
        all = all || star;
        if (!all) inos.insert(inos.end(), one.begin(), one.end());
        PQfreemem(n);
      }
      if (!any) continue;
      if (all) inos.clear();
      cb_(inos, all);
      delivered_.fetch_add(1);
    }
  }
}

}  // namespace meridian::vfs
