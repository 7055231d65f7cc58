#include "meta/site_status.h"

namespace meridian::meta {

Result<MirrorPosition> ReadMirrorPosition(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r, c->Exec("SELECT applied_pos, applied_time_ns, applied_changes, snapshot_pos,"
                      " (extract(epoch FROM now()) * 1e9)::bigint FROM site_state"));
  MirrorPosition p;
  p.applied_pos = r.GetInt(0, 0);
  p.applied_time_ns = r.GetInt(0, 1);
  p.applied_changes = r.GetInt(0, 2);
  p.snapshot_pos = r.GetInt(0, 3);
  p.now_ns = r.GetInt(0, 4);
  return p;
}

Result<int64_t> CountReplicatedBlocks(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(auto n, c->Exec("SELECT count(*) FROM replicated_blocks"));
  return n.GetInt(0, 0);
}

Result<std::optional<SiteLinkRow>> ReadSiteLink(PgConn* c) {
  auto l = c->Exec(
      "SELECT site_name, primary_addr, connected, primary_head,"
      " extract(epoch FROM now() - updated_at) FROM site_link");
  if (!l.ok() && !l.status().IsNotFound()) return l.status();
  if (!l.ok() || l->rows() == 0) return std::optional<SiteLinkRow>();
  SiteLinkRow row;
  row.site_name = std::string(l->Get(0, 0));
  row.primary_addr = std::string(l->Get(0, 1));
  row.connected = l->Get(0, 2) == "t";
  row.primary_head = l->GetInt(0, 3);
  row.age_seconds = std::stod(std::string(l->Get(0, 4)));
  return std::optional<SiteLinkRow>(std::move(row));
}

Result<PrimaryLog> ReadPrimaryLog(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto r,
      c->Exec("SELECT head, (SELECT coalesce(min(pos), head + 1) FROM changelog) FROM write_lock"));
  return PrimaryLog{static_cast<uint64_t>(r.GetInt(0, 0)), r.GetInt(0, 1)};
}

Result<std::optional<SiteDaemonRow>> ReadSiteDaemon(PgConn* c) {
  auto d = c->Exec("SELECT endpoint, extract(epoch FROM now() - updated_at) FROM site_daemon");
  if (!d.ok() && !d.status().IsNotFound()) return d.status();
  if (!d.ok() || d->rows() == 0) return std::optional<SiteDaemonRow>();
  return std::optional<SiteDaemonRow>(
      SiteDaemonRow{std::string(d->Get(0, 0)), std::stod(std::string(d->Get(0, 1)))});
}

Result<std::vector<SiteMirrorRow>> ReadSiteMirrors(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(
      auto m,
      c->Exec("SELECT name, public_key, acked_pos, connected, extract(epoch FROM now() - last_seen)"
              " FROM site_mirrors ORDER BY name"));
  std::vector<SiteMirrorRow> out(m.rows());
  for (int i = 0; i < m.rows(); ++i) {
    out[i].name = std::string(m.Get(i, 0));
    out[i].public_key = std::string(m.Get(i, 1));
    out[i].acked_pos = m.GetInt(i, 2);
    out[i].connected = m.Get(i, 3) == "t";
    out[i].last_seen_seconds = std::stod(std::string(m.Get(i, 4)));
  }
  return out;
}

}  // namespace meridian::meta
