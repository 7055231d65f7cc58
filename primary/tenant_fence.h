// Fencing at write (docs/tenants.md, invariant T1): a mutation of a tenant
// commits only at the site that owns the tenant, in its current epoch, while
// the tenant is not frozen.
//
// The check is the first statement of the mutation's own transaction: it
// increments the tenant's `head` (the entry's position in the tenant's log)
// only where `owner` is this site and `state` is 'active'. The row lock it
// takes serializes the tenant's writers (and no other tenant's), and is the
// one a freeze must wait for. No row means "refused": FenceError says why,
// in the same transaction.
//
// Which log: a mutation that changes the root directory's own entries
// (creating, removing or replacing a top-level entry) belongs to the root
// tenant's log (id 1), owned by the volume's home site; every other mutation
// belongs to the log of the top-level directory it is under.
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::primary {

// Where a mutation's entry goes: the root log, or the log of the top-level
// directory `top`.
struct LogScope {
  bool root = true;
  std::string top;
};

// The statement (no parameters, for a simple-query script) that fences and
// takes the tenant's next position, returning one row: (tenant_id, tenant
// head, epoch), all NULL when refused. REQUIRES: first in the mutation's
// transaction (before the write lock: tenant row, then write lock, always).
std::string FenceSql(const LogScope& scope);

// Why the fence refused `scope`, in the refused transaction: NotOwner naming
// the owner and its address, Unavailable (retryable) when the tenant is
// frozen for a move, or NotFound when `scope.top` is no tenant here (the
// caller then reports its own error about the path).
Status FenceError(meta::PgConn* c, const LogScope& scope);

// For a mutation that removes the tenant whose directory is `tenant_ino`
// (a root-log change that ends a tenant's log): OK if this site owns that
// tenant too, else FenceError's NotOwner/Unavailable. Locks its row.
Status CheckOwnsTenant(meta::PgConn* c, uint64_t tenant_ino);

}  // namespace meridian::primary
