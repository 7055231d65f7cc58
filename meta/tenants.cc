#include "meta/tenants.h"

namespace meridian::meta {
namespace {

constexpr const char* kTenantColumns =
    "SELECT t.tenant_id, coalesce(d.name, ''::bytea), t.owner, t.epoch, t.state, t.head"
    " FROM tenants t LEFT JOIN dentries d"
    " ON d.parent = 1 AND d.ino = t.tenant_id AND t.tenant_id <> 1";

TenantRow RowAt(const PgResult& r, int i) {
  return TenantRow{static_cast<uint64_t>(r.GetInt(i, 0)),
                   r.GetBytes(i, 1),
                   std::string(r.Get(i, 2)),
                   static_cast<uint64_t>(r.GetInt(i, 3)),
                   std::string(r.Get(i, 4)),
                   static_cast<uint64_t>(r.GetInt(i, 5))};
}

}  // namespace

Result<std::vector<TenantRow>> ListTenants(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec(std::string(kTenantColumns) + " ORDER BY t.tenant_id <> 1, d.name"));
  std::vector<TenantRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(RowAt(r, i));
  return out;
}

Result<std::optional<TenantRow>> GetTenant(PgConn* c, uint64_t tenant_id) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec(std::string(kTenantColumns) + " WHERE t.tenant_id = $1",
                                            {Param::Int(static_cast<int64_t>(tenant_id))}));
  if (r.rows() == 0) return std::optional<TenantRow>();
  return std::optional<TenantRow>(RowAt(r, 0));
}

Result<std::string> SiteSelf(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec("SELECT name FROM site_self"));
  if (r.rows() != 1) return Status::FailedPrecondition("the database has no site_self row");
  return std::string(r.Get(0, 0));
}

Status SetSiteSelf(PgConn* c, const std::string& name) {
  return c->Run("UPDATE site_self SET name = $1", {Param::Text(name)});
}

std::string OwnerAddress(PgConn* c, const std::string& owner) {
  auto self = SiteSelf(c);
  if (self.ok() && *self == owner) {
    auto d = c->Exec("SELECT endpoint FROM site_daemon");
    return d.ok() && d->rows() == 1 ? std::string(d->Get(0, 0)) : "";
  }
  auto l = c->Exec("SELECT primary_addr FROM site_link");
  return l.ok() && l->rows() == 1 ? std::string(l->Get(0, 0)) : "";
}

Status NotOwnerError(PgConn* c, const TenantRow& t, const std::string& self) {
  const std::string what =
      t.id == kRootTenantId ? "the volume root (top-level entries)" : "tenant /" + t.name;
  const std::string addr = OwnerAddress(c, t.owner);
  return Status::NotOwner(what + " is owned by site '" + t.owner + "'" +
                          (addr.empty() ? "" : " (" + addr + ")") + " at epoch " +
                          std::to_string(t.epoch) + ", not by this site ('" + self +
                          "'): make the change there");
}

Result<std::vector<FollowerPosition>> ListFollowerPositions(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("SELECT t.tenant_id, m.name, greatest(0, t.head - (SELECT count(*)"
                      " FROM changelog l WHERE l.tenant_id = t.tenant_id AND l.pos > m.acked_pos)),"
                      " m.connected FROM tenants t JOIN site_self s ON t.owner = s.name"
                      " CROSS JOIN site_mirrors m ORDER BY t.tenant_id, m.name"));
  std::vector<FollowerPosition> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(FollowerPosition{static_cast<uint64_t>(r.GetInt(i, 0)), std::string(r.Get(i, 1)),
                                   static_cast<uint64_t>(r.GetInt(i, 2)), r.Get(i, 3) == "t"});
  }
  return out;
}

}  // namespace meridian::meta
