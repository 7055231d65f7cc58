// Session-level PostgreSQL advisory locks in the two-key (int4, int4) space,
// apart from the one-key schema lock: the claims of the site's in-flight set
// (replicator/in_flight.h; keys in docs/metadata.md). A lock is held by the
// session until released or until the session ends (the server drops a
// closed or dead session's locks). Locks are re-entrant within a session.
// Thread-safety: free functions over one connection (one thread at a time).
#pragma once

#include <cstdint>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

// pg_try_advisory_lock(k1, k2): true if this session now holds the lock,
// false if another session does. Never waits.
Result<bool> TryAdvisoryLock(PgConn* c, int32_t k1, int32_t k2);

// pg_advisory_unlock(k1, k2) (releases one hold of this session's).
Status AdvisoryUnlock(PgConn* c, int32_t k1, int32_t k2);

}  // namespace meridian::meta
