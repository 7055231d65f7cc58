// ApplyFence: fencing at apply (docs/tenants.md, invariant T2), for one
// Applier transaction.
//
// A follower applies entry (tenant T, position p, epoch e) only if p is
// exactly the next position of T here and e is T's current epoch in this
// follower's own database (its `tenants` row). Anything else is refused,
// whoever sent it: a stale or zombie owner, a replayed entry, a hostile peer
// with valid keys. The rows are read (and locked) once per transaction and
// advanced in memory; Flush() writes the new heads in the same transaction
// as the entries, so a crash resumes exactly once per tenant too.
// Thread-safety: one per transaction, one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "changelog/entry.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::mirror {

class ApplyFence {
 public:
  explicit ApplyFence(meta::PgConn* c) : c_(c) {}

  // Admits `ch`: OK (its tenant's cursor moves to ch.tenant_pos), NotFound
  // when this database has no row for its tenant, FailedPrecondition saying
  // what was expected instead (a refusal), or the database's error. A
  // SetTenant op is admitted only in the root's first entry, for the root;
  // an entry must change only its own tenant (CheckScope).
  // REQUIRES: inside the applier's transaction.
  Status Admit(const changelog::Change& ch);

  // Writes the advanced heads, then forgets every row read (the entries
  // applied since may have made or removed tenants). REQUIRES: after the
  // admitted entries are written, in the same transaction.
  Status Flush();

 private:
  struct Cursor {
    uint64_t head = 0, epoch = 0;
    bool dirty = false;
    std::string name;  // the tenant's top-level name here ("" for the root)
  };
  // An entry changes only its own tenant: a tenant's entry names that
  // tenant and leaves the root directory alone; the root's makes entries
  // only in the root directory (it may remove a whole tenant, `rm -r`).
  static Status CheckScope(const changelog::Change& ch, const std::string& name);
  meta::PgConn* c_;
  std::map<uint64_t, Cursor> rows_;
};

// True if `ch` makes or replaces a top-level directory's entry, and so may
// make a tenant row: entries after it must be admitted after it is applied.
bool MakesTenant(const changelog::Change& ch);

}  // namespace meridian::mirror
