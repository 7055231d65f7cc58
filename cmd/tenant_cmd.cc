// meridian tenant list: who owns each tenant (top-level directory), in which
// epoch, how far its log is here and, at its owner, at each follower
// (docs/tenants.md, docs/cli.md); and the daemons' per-tenant gauges.
#include <iostream>
#include <map>

#include <glog/logging.h>

#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "meta/tenants.h"

namespace meridian::cli {
namespace {

Result<nlohmann::json> TenantsJson(meta::PgConn* c) {
  nlohmann::json out = nlohmann::json::object();
  MERIDIAN_ASSIGN_OR_RETURN(const std::string self, meta::SiteSelf(c));
  MERIDIAN_ASSIGN_OR_RETURN(const auto tenants, meta::ListTenants(c));
  MERIDIAN_ASSIGN_OR_RETURN(const auto followers, meta::ListFollowerPositions(c));
  MERIDIAN_ASSIGN_OR_RETURN(const auto daemon, meta::ReadSiteDaemon(c));
  MERIDIAN_ASSIGN_OR_RETURN(const auto mirrors, meta::ReadSiteMirrors(c));
  std::map<std::string, bool> link_up;  // by follower name, as `status` says it
  for (const auto& row : mirrors) link_up[row.name] = LinkUp(DaemonRunning(daemon), row);
  std::map<uint64_t, nlohmann::json> by_tenant;
  for (const auto& f : followers) {
    nlohmann::json fj;
    PutName(fj, "site", f.site);
    fj["position"] = f.position;
    fj["connected"] = link_up[f.site];
    by_tenant[f.tenant_id].push_back(fj);
  }
  PutName(out, "site", self);
  out["tenants"] = nlohmann::json::array();
  for (const auto& t : tenants) {
    nlohmann::json tj;
    PutName(tj, "tenant", "/" + t.name);
    tj["id"] = t.id;
    PutName(tj, "owner", t.owner);
    tj["owned_here"] = t.owner == self;
    tj["epoch"] = t.epoch;
    tj["state"] = t.state;
    tj["head"] = t.head;
    nlohmann::json fs = nlohmann::json::array();
    for (auto& f : by_tenant[t.id]) {
      f["lag_entries"] = t.head - std::min<uint64_t>(t.head, f["position"].get<uint64_t>());
      fs.push_back(f);
    }
    tj["followers"] = fs;
    out["tenants"].push_back(tj);
  }
  return out;
}

void PrintTenants(const nlohmann::json& j) {
  // The exact bytes (GetName), quoted as listings quote them.
  std::cout << "site " << ListName(GetName(j, "site")) << "\n";
  for (const auto& t : j["tenants"]) {
    const std::string name = GetName(t, "tenant");
    std::cout << "  " << (name == "/" ? std::string("/ (root)") : ListName(name)) << "  owner "
              << ListName(GetName(t, "owner"))
              << (t["owned_here"].get<bool>() ? " (this site)" : "") << "  epoch " << t["epoch"]
              << "  " << t["state"].get<std::string>() << "  head " << t["head"] << "\n";
    for (const auto& f : t["followers"]) {
      std::cout << "    follower " << ListName(GetName(f, "site")) << ": at " << f["position"]
                << ", " << f["lag_entries"] << " behind, "
                << (f["connected"].get<bool>() ? "connected" : "disconnected") << "\n";
    }
  }
}

}  // namespace

int RunTenant(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "move") {
    return Fail("tenant", Status::NotSupported(
                              "tenant move is not built yet (docs/tenants.md says what is): "
                              "today every tenant stays with the site that formatted the volume"));
  }
  if (args.empty() || args[0] != "list") {
    return Usage("tenant", args.empty() ? "expected a subcommand: list"
                                        : "unknown subcommand '" + args[0] + "' (expected: list)");
  }
  if (args.size() != 1) return Usage("tenant", "list takes no arguments");
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("tenant", vol.status());
  auto j = TenantsJson(vol->conn.get());
  if (!j.ok()) return Fail("tenant", j.status().With("reading the tenants"));
  if (FLAGS_json) {
    PrintJson(*j);
  } else {
    PrintTenants(*j);
  }
  return kExitOk;
}

void SetTenantMetrics(MetricsServer* metrics, const std::string& conninfo,
                      std::unique_ptr<meta::PgConn>* conn) {
  if (*conn == nullptr) {
    auto c = meta::PgConn::Connect(conninfo);
    if (!c.ok()) {
      LOG_EVERY_N(WARNING, 60) << "tenant metrics: " << c.status().ToString();
      return;
    }
    *conn = std::move(c).value();
  }
  auto tenants = meta::ListTenants(conn->get());
  auto self = tenants.ok() ? meta::SiteSelf(conn->get()) : Result<std::string>(tenants.status());
  if (!self.ok()) {
    LOG_EVERY_N(WARNING, 60) << "tenant metrics: " << self.status().ToString();
    conn->reset();  // a lost connection: connect again next time
    return;
  }
  for (const auto& t : *tenants) {
    const std::string label = ListName("/" + t.name);  // printable, as in listings
    metrics->Set("meridian_tenant_head_position",
                 "newest position of the tenant's log in this site's database", t.head, "tenant",
                 label);
    metrics->Set("meridian_tenant_epoch", "the tenant's ownership epoch as this site knows it",
                 t.epoch, "tenant", label);
    metrics->Set("meridian_tenant_owned_here", "1 if this site owns the tenant", t.owner == *self,
                 "tenant", label);
  }
}

}  // namespace meridian::cli
