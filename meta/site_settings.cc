#include "meta/site_settings.h"

#include "meta/schema.h"

namespace meridian::meta {

Result<SiteData> LoadSiteData(PgConn* replica) {
  auto r = replica->Exec(
      "SELECT mode, bucket, visibility, fill_on_read, primary_bucket, cache_group, cache_key"
      " FROM site_data");
  SiteData d;
  if (!r.ok() && r.status().IsNotFound()) return d;  // schema before v3
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return d;
  d.mode = r->Get(0, 0);
  d.bucket = r->Get(0, 1);
  d.visibility = r->Get(0, 2);
  d.fill_on_read = r->Get(0, 3) == "t";
  d.primary_bucket = r->Get(0, 4);
  d.cache_group = r->Get(0, 5);
  d.cache_key = r->Get(0, 6);
  return d;
}

Status RecordSiteData(PgConn* replica, const SiteData& d) {
  MERIDIAN_RETURN_IF_ERROR(Migrate(replica));
  return replica->Run(
      "INSERT INTO site_data (mode, bucket, visibility, fill_on_read, primary_bucket,"
      " cache_group, cache_key) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (singleton)"
      " DO UPDATE SET mode = $1, bucket = $2, visibility = $3, fill_on_read = $4,"
      " primary_bucket = $5, cache_group = $6, cache_key = $7, updated_at = now()",
      {Param::Text(d.mode), Param::Text(d.bucket), Param::Text(d.visibility),
       Param::Text(d.fill_on_read ? "true" : "false"), Param::Text(d.primary_bucket),
       Param::Text(d.cache_group), Param::Text(d.cache_key)});
}

}  // namespace meridian::meta
