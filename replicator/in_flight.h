// InFlight: the site's set of blocks being fetched from the primary's
// bucket right now, shared by every copier at the site, in any process: the
// mirror daemon's replicator and its --visibility data gate, `meridian
// warmup`, `meridian heal`. A copier claims a block after its bandwidth
// reservation and before it downloads, and releases it once the block is in
// the site's bucket (or the copy failed); a copier that finds the block
// claimed waits, then finds it in the site's bucket and does not fetch it.
// So each block crosses the link once however many copiers run.
//
// Mechanism: a session-level PostgreSQL advisory lock per block on the
// site's database (the replica every copier already uses), taken on a
// connection of the InFlight's own: pg_try_advisory_lock(int4, int4) with
// key (0x6d657231 + (id >> 32), id & 0xffffffff) wrapped to int4 (the
// two-key space, apart from the one-key schema lock). The database drops a
// session's locks when the session ends, so a claimant that crashes or is
// killed releases its claims at once (its socket closes); one whose host
// vanishes releases them when the server's TCP keepalives give up
// (tcp_keepalives_* in postgresql.conf). Nothing is written, so nothing is
// left behind. The connection must be a real session (not a pooler in
// transaction mode).
//
// Thread-safety: thread-safe (one mutex around the connection; each call is
// one short statement).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "common/mutex.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::replicator {

class InFlight {
 public:
  // Opens its own connection to the site's database `conninfo`.
  static Result<std::unique_ptr<InFlight>> Open(const std::string& conninfo);

  // Claims block `id`: true if this InFlight now holds it (until Release),
  // false if another copier does. A lost connection is reopened (its
  // claims are gone with it: at worst a block is fetched twice).
  Result<bool> TryClaim(uint64_t id);
  void Release(uint64_t id);

  // The advisory-lock key of block `id` (for tests and docs).
  static std::pair<int32_t, int32_t> Key(uint64_t id);

 private:
  explicit InFlight(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  Status ConnectLocked() REQUIRES(mu_);

  const std::string conninfo_;
  Mutex mu_;
  std::unique_ptr<meta::PgConn> c_ GUARDED_BY(mu_);
  // Claimed through this InFlight: advisory locks are re-entrant within a
  // session, so two threads here must not both get one.
  std::unordered_set<uint64_t> held_ GUARDED_BY(mu_);
};

}  // namespace meridian::replicator
