#include "site/volume.h"

#include <cstdlib>

#include "meta/schema.h"
#include "replicator/replicator.h"

namespace meridian::site {

objstore::Options BucketAccess::For(const std::string& recorded_endpoint) const {
  objstore::Options o;
  o.endpoint = !endpoint.empty() ? endpoint : recorded_endpoint;
  o.region = region;
  o.path_style = path_style;
  return o;  // credentials come from AWS_* in the environment
}

Result<std::unique_ptr<objstore::ObjectStore>> OpenPrimaryBucket(const meta::VolumeConfig& v,
                                                                 const BucketAccess& access,
                                                                 const std::string& url) {
  objstore::Options o = access.For(v.endpoint);
  if (v.role == "mirror") {
    auto env = [](const char* name) -> std::string {
      const char* s = std::getenv(name);
      return s ? s : "";
    };
    o.access_key = env("MERIDIAN_PRIMARY_AWS_ACCESS_KEY_ID");
    o.secret_key = env("MERIDIAN_PRIMARY_AWS_SECRET_ACCESS_KEY");
    o.session_token = env("MERIDIAN_PRIMARY_AWS_SESSION_TOKEN");
  }
  return objstore::Open(url.empty() ? v.bucket : url, o);
}

namespace {

// A comma-separated list without its empty items.
std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A site's cache group as a Reader's data source.
class CacheGroupSource : public vfs::BlockSource {
 public:
  explicit CacheGroupSource(cache::CacheGroup* group) : group_(group) {}
  Result<std::string> Fetch(const BlockRef& ref, const std::string&) override {
    return group_->Get(ref);
  }
  std::string Describe() const override { return group_->Describe(); }

 private:
  cache::CacheGroup* group_;
};

// The primary's bucket, claimed before the first write. A formatted volume
// has a marker; one without is a volume from before markers, which its first
// writer upgrades.
Status OpenAtPrimary(const VolumeOptions& options, Volume* v) {
  MERIDIAN_ASSIGN_OR_RETURN(auto store, OpenPrimaryBucket(v->config, options.access));
  objstore::ClaimOptions claim;
  claim.owner = {v->config.name, v->config.uuid, objstore::kRolePrimary, ""};
  claim.adopt_unmarked = true;
  auto claimed = objstore::ClaimBeforeWrites(std::move(store), claim);
  v->writable = claimed.get();
  v->store = std::move(claimed);
  return Status::OK();
}

// A mirror's sources, from its recorded data settings.
Status OpenAtMirror(const VolumeOptions& options, Volume* v) {
  MERIDIAN_ASSIGN_OR_RETURN(meta::SiteData site, meta::LoadSiteData(v->conn.get()));
  MERIDIAN_ASSIGN_OR_RETURN(v->store,
                            OpenPrimaryBucket(v->config, options.access, site.primary_bucket));
  if (site.mode == "replicate" && !site.bucket.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(auto local, objstore::Open(site.bucket, options.access.For("")));
    MERIDIAN_ASSIGN_OR_RETURN(
        auto claim, replicator::SiteBucketClaim(v->conn.get(), v->config, "", v->store.get(),
                                                options.force_nonempty));
    auto claimed = objstore::ClaimBeforeWrites(std::move(local), claim);
    v->writable = claimed.get();
    v->local = std::move(claimed);
    v->fill_on_read = site.fill_on_read;
  }
  if (site.mode == "cache" && options.cache_keys) {
    auto keys = options.cache_keys();
    Result<std::unique_ptr<cache::CacheGroup>> group =
        keys.ok() ? OpenCacheGroup(site, *keys) : keys.status();
    if (group.ok()) {
      v->cache = std::move(group).value();
    } else {
      v->cache_error = group.status();
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<cache::CacheGroup>> OpenCacheGroup(const meta::SiteData& site,
                                                          const sitelink::CurveKeyPair& keys) {
  cache::CacheGroupOptions o;
  o.nodes = SplitList(site.cache_group);
  o.server_public_key = site.cache_key;
  o.public_key = keys.public_key;
  o.secret_key = keys.secret_key;
  return cache::CacheGroup::Open(o);
}

Result<Volume> OpenVolume(const VolumeOptions& options) {
  Volume v;
  v.conninfo = options.conninfo;
  MERIDIAN_ASSIGN_OR_RETURN(v.conn, meta::PgConn::Connect(v.conninfo));
  MERIDIAN_ASSIGN_OR_RETURN(v.config, meta::LoadVolume(v.conn.get()));
  MERIDIAN_ASSIGN_OR_RETURN(const int version, meta::SchemaVersion(v.conn.get()));
  if (version < meta::CurrentSchemaVersion() && options.upgrade) {
    MERIDIAN_RETURN_IF_ERROR(meta::Migrate(v.conn.get()).With("upgrading the metadata schema"));
  } else if (version < meta::CurrentSchemaVersion()) {
    return Status::FailedPrecondition(
        "metadata database " + v.conn->target() + " has schema version " + std::to_string(version) +
        ", older than this binary's " + std::to_string(meta::CurrentSchemaVersion()) +
        ": start this site's daemon (`meridian primary` or `meridian mirror`, which upgrade it "
        "in place; mirrors first) and try again");
  }
  if (!options.with_store) return v;
  MERIDIAN_RETURN_IF_ERROR(v.config.role != "mirror" ? OpenAtPrimary(options, &v)
                                                     : OpenAtMirror(options, &v));
  return v;
}

std::vector<vfs::BlockSource*> Volume::Sources() {
  if (owned_sources.empty()) {
    if (cache) owned_sources.push_back(std::make_unique<CacheGroupSource>(cache.get()));
    if (local) owned_sources.push_back(std::make_unique<vfs::StoreSource>(local.get()));
    if (store) owned_sources.push_back(std::make_unique<vfs::StoreSource>(store.get()));
  }
  std::vector<vfs::BlockSource*> out;
  for (auto& s : owned_sources) out.push_back(s.get());
  return out;
}

}  // namespace meridian::site
