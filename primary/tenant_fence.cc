#include "primary/tenant_fence.h"

#include "common/hash.h"
#include "meta/tenants.h"

namespace meridian::primary {
namespace {

std::string TenantIdSql(const LogScope& scope) {
  if (scope.root) return "1";
  // E'\\x...' reads the same whatever standard_conforming_strings says.
  return "(SELECT ino FROM dentries WHERE parent = 1 AND kind = 2 AND name = E'\\\\x" +
         ToHex(scope.top) + "'::bytea)";
}

Status Refusal(meta::PgConn* c, const meta::TenantRow& t) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string self, meta::SiteSelf(c));
  if (t.owner != self) return meta::NotOwnerError(c, t, self);
  if (t.state != "active") {
    return Status::Unavailable("tenant /" + t.name + " is " + t.state +
                               " while it moves to another site: retry in a moment");
  }
  return Status::Internal("tenant /" + t.name + " is owned here but its fence refused");
}

}  // namespace

std::string FenceSql(const LogScope& scope) {
  return "WITH t AS (UPDATE tenants t SET head = t.head + 1 FROM site_self s"
         " WHERE t.tenant_id = " +
         TenantIdSql(scope) +
         " AND t.owner = s.name AND t.state = 'active' RETURNING t.tenant_id, t.head, t.epoch)"
         " SELECT t.tenant_id, t.head, t.epoch FROM (SELECT 1) one LEFT JOIN t ON true";
}

Status FenceError(meta::PgConn* c, const LogScope& scope) {
  MERIDIAN_ASSIGN_OR_RETURN(auto id, c->Exec("SELECT " + TenantIdSql(scope)));
  if (id.IsNull(0, 0)) return Status::NotFound("/" + scope.top + " is not a tenant here");
  MERIDIAN_ASSIGN_OR_RETURN(auto t, meta::GetTenant(c, static_cast<uint64_t>(id.GetInt(0, 0))));
  if (!t) return Status::NotFound("/" + scope.top + " is not a tenant here");
  return Refusal(c, *t);
}

Status CheckOwnsTenant(meta::PgConn* c, uint64_t tenant_ino) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r,
                            c->Exec("SELECT 1 FROM tenants t, site_self s WHERE t.tenant_id = $1"
                                    " AND t.owner = s.name AND t.state = 'active' FOR UPDATE OF t",
                                    {meta::Param::Int(static_cast<int64_t>(tenant_ino))}));
  if (r.rows() == 1) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(auto t, meta::GetTenant(c, tenant_ino));
  if (!t) return Status::OK();  // not a tenant (cannot happen for a top-level directory)
  return Refusal(c, *t);
}

}  // namespace meridian::primary
