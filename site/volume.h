// A site assembled for reading and writing: a volume's metadata connection,
// its bucket(s) and, at a mirror, the read sources in the site's order
// (cache group or the site's own bucket first, then the primary's bucket).
//
// Every CLI verb opens one (cmd/cli.h OpenVolume turns flags into
// VolumeOptions). The site's data settings come from the replica
// (meta/site_settings.h); credentials only from the environment: at a mirror
// the primary's bucket is read with MERIDIAN_PRIMARY_AWS_ACCESS_KEY_ID /
// _SECRET_ACCESS_KEY / _SESSION_TOKEN when set (e.g. read-only credentials),
// else with the AWS_* ones; the site's own bucket always with AWS_*.
// Thread-safety: a Volume is used by one thread at a time (its PgConn); the
// stores and the cache group it holds are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache_service.h"
#include "common/status.h"
#include "meta/catalog.h"
#include "meta/pg.h"
#include "meta/site_settings.h"
#include "objstore/marker.h"
#include "objstore/object_store.h"
#include "sitelink/stream.h"
#include "vfs/reader.h"

namespace meridian::site {

// How this process reaches buckets (--endpoint, --region, --path-style).
struct BucketAccess {
  std::string endpoint;  // overrides the endpoint a volume records; "" = that one
  std::string region;
  bool path_style = true;
  // Options for a bucket whose recorded endpoint is `recorded_endpoint`.
  // Credentials come from AWS_* in the environment (objstore), never from here.
  objstore::Options For(const std::string& recorded_endpoint) const;
};

// Opens the primary's bucket as a site reads it (see the header comment).
// `url`: where this site reaches that bucket (mirror --primary-bucket); ""
// = the URL the volume records.
Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v,
                                                                 const BucketAccess& access,
                                                                 const std::string& url = "");

// The site's cache group, as a client with `keys` (on the nodes' --allow list).
Result<std::unique_ptr<cache::CacheGroup>> OpenCacheGroup(const meta::SiteData& site,
                                                          const sitelink::CurveKeyPair& keys);

// An opened volume: metadata connection, its config, and its bucket(s).
struct Volume {
  std::string conninfo;
  std::unique_ptr<meta::PgConn> conn;
  meta::VolumeConfig config;
  std::unique_ptr<objstore::ObjectStore> store;  // the primary's bucket; null unless asked for
  // At a mirror with --data replicate: the site's own bucket (site_data).
  std::unique_ptr<objstore::ObjectStore> local;
  // The bucket this process may write: `store` at the primary, `local` at a
  // replicating mirror (null otherwise). It is claimed (objstore/marker.h)
  // before its first write; writers call writable->Claim() up front to fail
  // before doing any work.
  objstore::ClaimedStore* writable = nullptr;
  bool fill_on_read = false;  // store blocks read from the primary's bucket in `local`
  // At a mirror with --data cache, when this process has a key pair.
  std::unique_ptr<cache::CacheGroup> cache;
  // At a cache-mode mirror without `cache`: why (reads then go to the
  // primary's bucket: correct, only slower).
  Status cache_error;
  // Where reads look, in order: the site's cache group or own bucket first,
  // then the primary's bucket.
  std::vector<vfs::BlockSource*> Sources();
  std::vector<std::unique_ptr<vfs::BlockSource>> owned_sources;  // behind Sources()
  // The store a Reader fills on read (null: none).
  objstore::ObjectStore* Fill() const { return fill_on_read ? local.get() : nullptr; }
};

struct VolumeOptions {
  std::string conninfo;     // the volume's database (a primary's or a mirror's replica)
  bool with_store = false;  // also open the bucket(s) and, at a cache-mode mirror, the group
  BucketAccess access;
  // Lets a mirror site's claim adopt an unmarked bucket that holds objects.
  bool force_nonempty = false;
  // A daemon that serves this site (`meridian primary`): brings an older
  // metadata schema up to date (meta::Migrate) instead of refusing it.
  bool upgrade = false;
  // The key pair presented to a cache-mode site's group; its error (e.g. no
  // key given) becomes Volume::cache_error. Empty: no group.
  std::function<Result<sitelink::CurveKeyPair>()> cache_keys;
};

// Opens the volume; with_store also opens its bucket(s), the one this
// process may write behind a claim (Volume::writable).
Result<Volume> OpenVolume(const VolumeOptions& options);

}  // namespace meridian::site
