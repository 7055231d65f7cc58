// Formatting a volume: creating (or checking) its metadata at a primary site.
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <string>

#include "common/block.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"

namespace meridian::primary {

struct FormatOptions {
  std::string name;      // [A-Za-z0-9._-]{1,63}; also the key prefix in the bucket
  std::string bucket;    // URL without credentials
  std::string endpoint;  // for s3:// buckets
  uint32_t block_size = kDefaultBlockSize;
  Compression compression = Compression::kNone;
  // The home site's name (common/site_name.h): it owns the root, so every
  // tenant made here, until one moves (docs/tenants.md).
  std::string site = "home";
};

// Migrates the schema and records the volume. Formatting a database that holds
// the same volume again is a no-op (returns the existing config); a different
// volume, bucket, block size or compression is refused: nothing stored is
// ever reinterpreted. `*created` says which happened.
Result<meta::VolumeConfig> Format(meta::PgConn* c, const FormatOptions& o, bool* created);

// The checks of Format without the insert: migrates the schema and returns the
// recorded volume if it matches `o`, nullopt if there is none yet, or the
// error Format would give. Lets a caller refuse before touching a bucket.
Result<std::optional<meta::VolumeConfig>> CheckFormat(meta::PgConn* c, const FormatOptions& o);

Status ValidateVolumeName(const std::string& name);

}  // namespace meridian::primary
