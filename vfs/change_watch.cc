#include "vfs/change_watch.h"

#include <glog/logging.h>
#include <poll.h>

#include <cstring>

#include "meta/notify.h"
#include "meta/pg.h"

namespace meridian::vfs {

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
    auto conn = meta::PgConn::Connect(conninfo_);
    Status st = conn.ok() ? (*conn)->RunScript("LISTEN meridian_applied; LISTEN meridian_changelog")
                          : conn.status();
    if (!st.ok()) {
      if (!warned) LOG(WARNING) << "change notifications: " << st.ToString() << " (retrying)";
      warned = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    warned = false;
    cb_({}, true);  // whatever changed while we were not listening
    PGconn* raw = (*conn)->raw();
    while (!stop_.load()) {
      pollfd p{PQsocket(raw), POLLIN, 0};
      if (::poll(&p, 1, 200) < 0 && errno != EINTR) break;
      if (!PQconsumeInput(raw)) {
        LOG(WARNING) << "change notifications: lost the database connection, reconnecting";
        break;
      }
      // Drain everything queued into one callback.
      std::vector<uint64_t> inos, one;
      bool all = false, any = false;
      while (PGnotify* n = PQnotifies(raw)) {
        any = true;
        uint64_t pos = 0;
        bool star = false;
        if (std::strcmp(n->relname, "meridian_applied") != 0 ||
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
