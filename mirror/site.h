// MirrorSite: the core of the `meridian mirror` daemon. It keeps a mirror
// site's PostgreSQL replica a prefix of the primary's namespace (docs/architecture.md
// invariant 3) by following the primary's change log over the site link.
//
// Run() migrates the replica's schema, refuses a database whose volume role is
// "primary", reads the applied position from the replica (site_state) and asks
// the primary for everything after it. Each batch is decoded and checked
// (changelog/codec.h) BEFORE anything touches the replica: a frame that does
// not decode is logged, never applied nor acknowledged, and the stream is
// re-requested from the applied position (docs/architecture.md invariant 7). A good batch is
// applied in one replica transaction together with the cursor
// (mirror/applier.h), then acknowledged. When the primary no longer holds the
// log after our position it sends a snapshot at some position s; its chunks
// are collected and installed in one transaction (readers see the old
// namespace until the new one is complete), then the stream continues after s.
//
// Memory: a snapshot is held in memory, decoded, until its end arrives (chunks
// of tenants this site does not carry are dropped on arrival). That is roughly
// a few hundred bytes per inode and directory entry, fine for millions of
// entries; a streaming install (chunks applied inside one open transaction)
// would remove the bound and needs an Applier API for it.
//
// Failure model: reconnection to the primary is the StreamClient's job and is
// invisible here. A lost replica connection ends Run() with the error: the
// process supervisor restarts the daemon, and the cursor in the replica makes
// the restart resume exactly once. A permanent refusal by the primary (wrong
// protocol version, invalid request) ends Run() too. An unauthenticated
// client (key not on the primary's allow-list) hears nothing: it stays
// disconnected and keeps retrying, visible as "connected": false.
//
// Link state in the replica: about once a second (and at exit) the daemon
// writes its link state (connected, the primary's announced head) into the
// replica's `site_link` row, so `meridian status --meta REPLICA` can show the
// lag in entries and whether the daemon is alive (docs/metadata.md).
//
// Status file: if `status_file` is set, about once a second and at exit the
// counters are written to it as one JSON object, atomically (tmp + rename):
//   {"site", "primary", "connected", "caught_up", "primary_head",
//    "lag_entries", "applied_pos",
//    "applied_time_ns", "lag_seconds" (null if unknown), "applied_changes",
//    "snapshot_pos", "entries_applied", "entries_skipped", "entries_filtered",
//    "batches", "snapshots", "rejected_frames", "rejected_entries", "last_apply_unix_ns",
//    "updated_unix_ns"}
// applied_pos / applied_changes / snapshot_pos are the replica's site_state;
// the entries_* / batches / snapshots counters are this run's.
//
// Thread-safety: Run() is called once, from one thread. stats() may be called
// from any thread at any time; the stop flag may be set from any thread or a
// signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "changelog/entry.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "sitelink/stream.h"

namespace meridian::mirror {

struct MirrorSiteOptions {
  std::string replica_conninfo;    // this site's own database (never the primary's)
  std::string primary;             // the primary's site-link address, "tcp://HOST:PORT"
  std::string primary_public_key;  // Z85 (40 characters)
  sitelink::CurveKeyPair keys;     // this mirror's key pair (its public key on the allow-list)
  std::string site_name;           // shown at the primary (`meridian status`)
  std::set<std::string> include;   // tenants to carry (names without '/'); empty = all
  bool enqueue_blocks = false;     // --data replicate: queue new blocks for the replicator
  // --visibility data: called with the carried changes of each batch (or
  // each chunk of a snapshot) before they are applied; they are applied only once it
  // returns OK (replicator/gate.h). Empty: apply at once.
  std::function<Status(const std::vector<changelog::Change>&)> before_apply;
  uint32_t credit = 8;  // batches in flight
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds peer_timeout{5000};
  std::string status_file;  // optional JSON status, rewritten about once a second
  std::chrono::milliseconds status_interval{1000};
  std::atomic<bool>* stop = nullptr;  // REQUIRED: Run() returns OK soon after *stop
  // Seams for tests (sitelink/fake_stream.h, common/clock.h FakeClock).
  sitelink::StreamClientFactory connect;  // empty: StreamClient::Connect
  // The status interval, the pauses before re-requesting the log and the
  // status file's times. Null: RealClock(). Must outlive Run().
  Clock* clock = nullptr;
};

struct MirrorSiteStats {
  bool connected = false;     // the site link is up
  bool caught_up = false;     // connected and the primary had nothing more to send
  uint64_t primary_head = 0;  // newest position the primary announced (0: not heard yet)
  // The replica's cursor (site_state).
  uint64_t applied_pos = 0;
  int64_t applied_time_ns = 0;  // primary commit time of applied_pos; 0 after a snapshot
  uint64_t applied_changes = 0;
  uint64_t snapshot_pos = 0;
  // This run.
  uint64_t entries_applied = 0;
  uint64_t entries_skipped = 0;   // duplicates (already applied)
  uint64_t entries_filtered = 0;  // other tenants
  uint64_t batches = 0;
  uint64_t snapshots = 0;
  uint64_t rejected_frames = 0;   // batches or snapshot chunks that did not decode
  uint64_t rejected_entries = 0;  // entries refused by fencing at apply (mirror/apply_fence.h)
  int64_t last_apply_unix_ns = 0;
};

class MirrorSite {
 public:
  explicit MirrorSite(MirrorSiteOptions options) : o_(std::move(options)) {}
  MirrorSite(const MirrorSite&) = delete;
  MirrorSite& operator=(const MirrorSite&) = delete;

  // Follows the primary until *options.stop (then OK) or a fatal error.
  Status Run();

  MirrorSiteStats stats() const {
    MutexLock l(&mu_);
    return stats_;
  }

 private:
  class Session;  // the state of one Run(), in site.cc

  void Publish(const MirrorSiteStats& s) {
    MutexLock l(&mu_);
    stats_ = s;
  }

  const MirrorSiteOptions o_;
  mutable Mutex mu_;
  MirrorSiteStats stats_ GUARDED_BY(mu_);
};

// The status-file JSON for `stats` (see the header comment), one line.
std::string StatusJson(const MirrorSiteOptions& options, const MirrorSiteStats& stats);

}  // namespace meridian::mirror
