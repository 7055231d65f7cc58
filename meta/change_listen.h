// Listening for changes at a site: the notification channels a reader (a
// mount's change watch, vfs/change_watch.h) LISTENs on. A mirror's applier
// sends `meridian_applied` (payload: meta/notify.h) with every applied
// batch; a primary's writers send `meridian_changelog` with every commit.
// Kept apart from meta/notify.h, whose payload code is pure (and fuzzed
// without libpq).
// Thread-safety: free functions over one connection (one thread at a time).
#pragma once

#include "common/status.h"
#include "meta/notify.h"
#include "meta/pg.h"

namespace meridian::meta {

inline constexpr const char* kChangelogChannel = "meridian_changelog";

// LISTENs on `c` to both channels: what a reader at the site needs to hear
// of every change, at a mirror or at a primary.
Status ListenForChanges(PgConn* c);

// One trivial round trip: fails if the server no longer answers (a silent
// listening connection may be a dead one).
Status CheckAlive(PgConn* c);

}  // namespace meridian::meta
