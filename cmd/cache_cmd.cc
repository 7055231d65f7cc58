// meridian cache: one node of a site's cache group (cache/cache_service.h):
// blocks on local disks (cache/disk_cache.h), served over CURVE to the
// allow-listed readers of the site, misses filled from the primary's bucket.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cache/cache_service.h"
#include "cache/disk_cache.h"
#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "common/rate_limiter.h"
#include "sitelink/keys.h"

DECLARE_string(listen);
DECLARE_string(key);
DECLARE_string(allow);
DECLARE_string(metrics);
DECLARE_int32(threads);
DEFINE_string(cache_dir, "",
              "cache: directories for cached blocks, comma-separated "
              "(e.g. /nvme0/meridian,/nvme1/meridian)");
DEFINE_string(cache_size, "0",
              "cache: most bytes to keep, e.g. 500G; 0 = bounded by --free-ratio only");
DEFINE_double(free_ratio, 0.1, "cache: keep at least this fraction of each cache disk free");
DECLARE_string(bwlimit);  // mirror.cc

namespace meridian::cli {
namespace {}  // namespace

int RunCache(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("cache", "takes no arguments");
  if (FLAGS_cache_dir.empty()) return Usage("cache", "--cache-dir is required");
  if (FLAGS_key.empty() || FLAGS_allow.empty()) {
    return Usage("cache",
                 "--key (this node's key pair) and --allow (the readers' public keys) are "
                 "required; make keys with `meridian keygen`");
  }
  auto size = ParseSize(FLAGS_cache_size);
  if (!size.ok()) return Usage("cache", "--cache-size: " + size.status().message());
  auto bwlimit = ParseSize(FLAGS_bwlimit);
  if (!bwlimit.ok()) return Usage("cache", "--bwlimit: " + bwlimit.status().message());
  auto keys = LoadKeyFile(FLAGS_key);
  if (!keys.ok()) return Fail("cache", keys.status().With("--key"));
  auto allow = sitelink::LoadAllowList(FLAGS_allow);
  if (!allow.ok()) return Fail("cache", allow.status().With("--allow"));
  // The site's replica says which volume this is and how to reach its bucket.
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("cache", vol.status());
  if (vol->config.role != "mirror") {
    return Fail("cache", Status::FailedPrecondition(
                             "a cache node serves a mirror site: --meta must be the site's "
                             "replica, not the primary's database"));
  }
  auto site = LoadSiteData(vol->conn.get());
  if (!site.ok()) return Fail("cache", site.status());
  auto origin = OpenPrimaryBucket(vol->config, site->primary_bucket);
  if (!origin.ok()) return Fail("cache", origin.status().With("the primary's bucket"));

  cache::DiskCacheOptions co;
  co.dirs = SplitList(FLAGS_cache_dir);
  co.max_bytes = *size;
  co.min_free_ratio = FLAGS_free_ratio;
  auto cache = cache::DiskCache::Open(co);
  if (!cache.ok()) return Fail("cache", cache.status().With("--cache-dir"));
  cache::CacheServerOptions so;
  so.bind =
      gflags::GetCommandLineFlagInfoOrDie("listen").is_default ? kCacheListenDefault : FLAGS_listen;
  so.public_key = keys->public_key;
  so.secret_key = keys->secret_key;
  so.allowed_keys = *allow;
  so.cache = cache->get();
  objstore::ObjectStore* bucket = origin->get();
  const std::string volume = vol->config.name;
  auto cap = std::make_shared<RateLimiter>(*bwlimit);  // over all of this node's fetches
  so.fetch = [bucket, volume, cap](const BlockRef& ref) {
    cap->Acquire(ref.stored_length);
    return bucket->Get(BlockKey(volume, ref.id));
  };
  so.threads = std::max(4, FLAGS_threads * 2);
  auto server = cache::CacheServer::Start(so);
  if (!server.ok()) return Fail("cache", server.status());
  std::printf("listening on %s\n", (*server)->endpoint().c_str());
  std::fflush(stdout);
  auto started = MetricsServer::StartIfAsked(FLAGS_metrics);
  if (!started.ok()) return Fail("cache", started.status());
  std::unique_ptr<MetricsServer> metrics = std::move(started).value();
  std::atomic<bool>* stop = StopOnSignals();
  // The stop flag is looked at every 50 ms: a stopped node lets go of its
  // port and cache directories at once, so it can be restarted at once.
  for (auto next = std::chrono::steady_clock::now(); !stop->load();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Status st = (*server)->status(); !st.ok()) return Fail("cache", st);
    if (!metrics || std::chrono::steady_clock::now() < next) continue;
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    const auto c = (*cache)->stats();
    const auto s = (*server)->stats();
    metrics->Set("meridian_cache_bytes", "stored bytes cached", c.bytes);
    metrics->Set("meridian_cache_items", "blocks cached", c.items);
    metrics->Set("meridian_cache_hits", "reads served from the cache", c.hits);
    metrics->Set("meridian_cache_misses", "reads that missed", c.misses);
    metrics->Set("meridian_cache_evictions", "blocks evicted to stay in the limits", c.evictions);
    metrics->Set("meridian_cache_fetched_bytes", "bytes fetched from the primary's bucket",
                 s.fetched_bytes);
  }
  server->reset();
  return kExitOk;
}

}  // namespace meridian::cli
