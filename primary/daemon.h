// The `meridian primary` daemon: serves the change log to mirror sites.
//
// Runs the site-link server (sitelink/stream.h) over the change log in
// PostgreSQL, woken by LISTEN/NOTIFY on every commit (no polling), and
// reconnects to PostgreSQL when it restarts. Once a second it records each
// mirror's acknowledged position in `site_mirrors` (for `meridian status`)
// and applies log retention: entries more than `log_retention` behind the
// head are deleted, and a mirror that falls further behind bootstraps from a
// snapshot. Every gc_interval it collects freed blocks that every mirror
// has acknowledged (primary/gc.h).
// Thread-safety: RunPrimary blocks until *stop; call it from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "primary/gc.h"
#include "sitelink/stream.h"

namespace meridian::primary {

struct PrimaryDaemonOptions {
  std::string conninfo;
  sitelink::StreamServer::Options server;
  uint64_t log_retention = 0;  // entries to keep behind the head; 0 = keep all
  // Block GC (primary/gc.h) every gc_interval when gc.store is set; 0 = never.
  GcOptions gc;
  std::chrono::seconds gc_interval{0};
  std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string& endpoint)> on_listening;  // once bound
  // Called about once a second with the head and every mirror's state (metrics).
  std::function<void(uint64_t head, const std::vector<sitelink::MirrorState>&)> on_tick;
  // Seams for tests (sitelink/fake_stream.h, common/clock.h FakeClock).
  sitelink::StreamServerFactory start_server;  // empty: StreamServer::Start
  // The once-a-second tick (site_mirrors, site_daemon, retention), the GC
  // interval and the LISTEN reconnect pause. Null: RealClock(). Must
  // outlive RunPrimary.
  Clock* clock = nullptr;
};

Status RunPrimary(const PrimaryDaemonOptions& options);

}  // namespace meridian::primary
