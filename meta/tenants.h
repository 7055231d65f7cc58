// Tenants in a site's database (docs/tenants.md): the `tenants` rows (who
// owns each top-level directory, in which epoch, how far its log is here)
// and `site_self` (this site's name). Reads for `meridian tenant list`, the
// writer's fencing error and the mirror daemon's start-up check.
//
// A tenant's row appears with its top-level directory and goes with it
// (triggers, meta/schema.cc v5), at the owner and at every follower alike;
// nothing here creates or deletes one.
// Thread-safety: free functions over one connection (one thread at a time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

inline constexpr uint64_t kRootTenantId = 1;  // the root directory's inode

struct TenantRow {
  uint64_t id = 0;
  std::string name;  // the top-level directory ("" for the root tenant)
  std::string owner;
  uint64_t epoch = 0;
  std::string state;  // "active" or "frozen"
  uint64_t head = 0;  // newest position of its log in this database
};

// Every tenant this database knows, root first, then by name.
Result<std::vector<TenantRow>> ListTenants(PgConn* c);

// The tenant whose log has id `tenant_id`, or nullopt.
Result<std::optional<TenantRow>> GetTenant(PgConn* c, uint64_t tenant_id);

// This site's name (site_self).
Result<std::string> SiteSelf(PgConn* c);
// Sets it (the mirror daemon, from --name; `format`, from --site).
Status SetSiteSelf(PgConn* c, const std::string& name);

// Where writes for a tenant owned by `owner` go, as this site knows it: this
// site's own daemon endpoint if it is the owner, else the address this site
// follows (site_link), else "". Best effort (for messages).
std::string OwnerAddress(PgConn* c, const std::string& owner);

// The NotOwner error for a write to `t` at site `self` (CLI exit 3): names
// the tenant, its owner and where to write instead.
Status NotOwnerError(PgConn* c, const TenantRow& t, const std::string& self);

}  // namespace meridian::meta

namespace meridian::meta {

// At an owner: how far each follower (site_mirrors) is in each tenant this
// site owns. `position` is the tenant's head less its entries after the
// follower's acknowledged global position (exact while the log holds them;
// GC and retention keep what a connected follower has not acknowledged).
struct FollowerPosition {
  uint64_t tenant_id = 0;
  std::string site;
  uint64_t position = 0;
  bool connected = false;
};
Result<std::vector<FollowerPosition>> ListFollowerPositions(PgConn* c);

}  // namespace meridian::meta
