// A mirror site's data settings (the site_data row): how the site keeps and
// reads file data. `meridian mirror` records them at start; every reader at
// the site (cat, mount, warmup, cache nodes, status) loads them to find its
// sources. Never holds credentials.
// Thread-safety: the functions use the caller's PgConn (one thread at a time).
#pragma once

#include <string>

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

struct SiteData {
  std::string mode = "metadata";  // --data: metadata | replicate | cache
  std::string bucket;             // this site's bucket ("" unless replicate)
  std::string visibility = "metadata";
  bool fill_on_read = false;
  std::string primary_bucket;  // --primary-bucket ("" = the volume's URL)
  std::string cache_group;     // --data cache: node endpoints, comma-separated
  std::string cache_key;       // --data cache: the nodes' public key (Z85)
};

// The recorded settings; the defaults when none are recorded (or the schema
// predates site_data).
Result<SiteData> LoadSiteData(PgConn* replica);
// Migrates the replica's schema and records `d`.
Status RecordSiteData(PgConn* replica, const SiteData& d);

}  // namespace meridian::meta
