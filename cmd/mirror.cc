// meridian mirror: the mirror-site daemon. Flags -> site::MirrorDaemonOptions
// -> site::RunMirror() (site/mirror_daemon.h). --meta is the mirror's OWN replica
// database; --key is shared with `meridian primary` (defined in site_cmds.cc).
#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>

#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "common/path.h"
#include "common/site_name.h"
#include "mirror/site.h"
#include "site/mirror_daemon.h"
#include "sitelink/keys.h"

DECLARE_string(key);
DECLARE_string(metrics);
DEFINE_string(primary, "", "mirror: the primary's site-link address, e.g. tcp://10.0.0.5:7000");
DEFINE_string(primary_key, "",
              "mirror: the primary's public key: 40 Z85 characters or the path of its .pub file");
DEFINE_string(name, "",
              "mirror: this site's name as the primary shows it (default: hostname); format: "
              "the home site's name (default: home)");
DEFINE_string(include, "",
              "mirror: comma-separated top-level directories (tenants) to carry, e.g. "
              "\"/models,/datasets\"; empty carries everything");
DEFINE_string(data, "metadata",
              "mirror: metadata (read blocks from the primary's bucket), replicate (copy every "
              "block into this site's --bucket, read locally first) or cache (read through this "
              "site's --cache-group, filled from the primary's bucket)");
DEFINE_string(cache_group, "",
              "mirror --data cache: the site's cache nodes (`meridian cache`), comma-separated, "
              "e.g. tcp://10.0.0.5:7100,tcp://10.0.0.6:7100");
DEFINE_string(cache_key, "",
              "mirror --data cache: the cache nodes' public key (NAME.pub from keygen, or Z85)");
DECLARE_string(bucket);        // format.cc: here, this site's own bucket
DECLARE_bool(force_nonempty);  // format.cc
DEFINE_string(bwlimit, "0",
              "mirror, warmup (replicate mode), cache: cap on download bandwidth from the "
              "primary's bucket in bytes/s, "
              "e.g. 50M; 0 = no cap");
DEFINE_string(visibility, "metadata",
              "mirror, with --data replicate: metadata (a change is visible once applied; "
              "blocks follow) or data (a change becomes visible only once every block it adds "
              "is in this site's bucket)");
DEFINE_string(primary_bucket, "",
              "mirror: the primary's bucket as this site reaches it (e.g. through a private "
              "endpoint or a proxy); empty = the URL the volume records");
DEFINE_bool(fill_on_read, false,
            "mirror, with --data replicate: readers at this site store a block they had to "
            "read from the primary's bucket in this site's bucket");
DEFINE_int32(delete_grace, 3600,
             "mirror: seconds a block freed at the primary stays in this site's bucket");
DECLARE_int32(threads);
DEFINE_string(status_file, "",
              "mirror: write the site's position, lag and counters as JSON to this file "
              "about once a second (atomically replaced)");

namespace meridian::cli {
namespace {

// "/a,/b" or "a,b" -> {"a", "b"}; each item must be exactly one name.
Result<std::set<std::string>> ParseInclude(const std::string& flag) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= flag.size()) {
    size_t comma = flag.find(',', start);
    if (comma == std::string::npos) comma = flag.size();
    std::string item = flag.substr(start, comma - start);
    start = comma + 1;
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    auto parts = SplitPath(item);
    if (!parts.ok() || parts->size() != 1) {
      return Status::InvalidArgument(
          "--include takes top-level directories (tenants) such as /models, not '" + item + "'" +
          (parts.ok() ? "" : ": " + parts.status().message()));
    }
    out.insert(parts->front());
  }
  return out;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "mirror";
  return buf;
}

// The flags' checks that need no I/O; kExitOk or the usage error's exit code.
int CheckMirrorFlags(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("mirror", "takes no arguments");
  if (FLAGS_primary.empty()) {
    return Usage("mirror",
                 "--primary is required: the primary's site-link address, e.g. "
                 "tcp://10.0.0.5:7000");
  }
  if (FLAGS_primary.rfind("tcp://", 0) != 0) {
    return Usage("mirror", "--primary must look like tcp://HOST:PORT, not '" + FLAGS_primary + "'");
  }
  const std::string site_name = FLAGS_name.empty() ? HostName() : FLAGS_name;
  if (Status st = CheckSiteName(site_name); !st.ok()) {
    return Usage("mirror", (FLAGS_name.empty() ? "this host's name: " : "--name: ") + st.message());
  }
  if (FLAGS_primary_key.empty()) {
    return Usage("mirror",
                 "--primary-key is required: the primary's public key (its .pub file or the 40 "
                 "Z85 characters)");
  }
  if (FLAGS_key.empty()) {
    return Usage("mirror",
                 "--key is required: this mirror's key file (make one with `meridian keygen "
                 "--out NAME` and add NAME.pub to the primary's --allow file)");
  }
  if (FLAGS_data != "metadata" && FLAGS_data != "replicate" && FLAGS_data != "cache") {
    return Usage("mirror", "--data must be metadata, replicate or cache, not '" + FLAGS_data + "'");
  }
  return kExitOk;
}

// --data and the flags that go with it -> the site's data settings
// (kExitOk), or the exit code of the usage error or failure printed.
int MirrorDataFlags(meta::SiteData* d) {
  if (FLAGS_data == "cache") {
    if (FLAGS_cache_group.empty() || FLAGS_cache_key.empty()) {
      return Usage("mirror",
                   "--data cache needs --cache-group (the `meridian cache` nodes) and "
                   "--cache-key (their public key)");
    }
    auto k = sitelink::LoadPublicKey(FLAGS_cache_key);
    if (!k.ok()) return Fail("mirror", k.status().With("--cache-key"));
    d->cache_key = *k;
  } else if (!FLAGS_cache_group.empty()) {
    return Usage("mirror", "--cache-group is only used with --data cache");
  }
  const bool replicate = FLAGS_data == "replicate";
  if (replicate && FLAGS_bucket.empty()) {
    return Usage("mirror",
                 "--data replicate needs --bucket: this site's own bucket, e.g. "
                 "s3://models-eu or file:///srv/meridian/blocks");
  }
  if (!replicate && !FLAGS_bucket.empty()) {
    return Usage("mirror", "--bucket is only used with --data replicate");
  }
  if (FLAGS_visibility != "metadata" && FLAGS_visibility != "data") {
    return Usage("mirror", "--visibility must be metadata or data, not '" + FLAGS_visibility + "'");
  }
  if (!replicate && (FLAGS_visibility == "data" || FLAGS_fill_on_read)) {
    return Usage("mirror", "--visibility data and --fill-on-read need --data replicate --bucket");
  }
  d->mode = FLAGS_data;
  d->visibility = FLAGS_visibility;
  d->fill_on_read = FLAGS_fill_on_read;
  d->primary_bucket = FLAGS_primary_bucket;
  d->cache_group = FLAGS_cache_group;
  return kExitOk;
}

// The gauges of docs/metrics.md from the daemon's stats (once a tick).
void SetMirrorMetrics(MetricsServer* metrics, const mirror::MirrorSiteStats& st,
                      const replicator::ReplicatorStats* repl) {
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double lag = st.caught_up || st.applied_time_ns == 0 ? 0 : now - st.applied_time_ns / 1e9;
  metrics->Set("meridian_mirror_applied_position", "last change-log position applied",
               st.applied_pos);
  metrics->Set("meridian_mirror_applied_entries", "entries applied, ever", st.applied_changes);
  metrics->Set("meridian_mirror_lag_seconds",
               "age of the last applied commit while behind, 0 when caught up", std::max(0.0, lag));
  metrics->Set("meridian_mirror_connected", "1 while the site link is up", st.connected);
  metrics->Set("meridian_mirror_primary_head_position", "newest position the primary announced",
               st.primary_head);
  metrics->Set("meridian_mirror_lag_entries", "entries behind the primary's announced head",
               st.primary_head > st.applied_pos ? st.primary_head - st.applied_pos : 0);
  metrics->Set("meridian_mirror_snapshots", "snapshots installed by this process", st.snapshots);
  metrics->Set("meridian_mirror_rejected_frames", "frames that failed to decode",
               st.rejected_frames);
  metrics->Set("meridian_mirror_rejected_entries",
               "change-log entries refused by fencing (wrong tenant position or epoch)",
               st.rejected_entries);
  if (repl == nullptr) return;
  metrics->Set("meridian_replicator_copied_blocks", "blocks copied into this site's bucket",
               repl->copied);
  metrics->Set("meridian_replicator_copied_bytes", "stored bytes copied", repl->copied_bytes);
  metrics->Set("meridian_replicator_present_blocks",
               "blocks found intact in this site's bucket, not copied again",
               repl->already_present);
  metrics->Set("meridian_replicator_failed_attempts", "copies that failed (retried)", repl->failed);
  metrics->Set("meridian_replicator_gc_deleted_blocks",
               "freed blocks deleted from this site's bucket", repl->gc_deleted);
}

}  // namespace

int RunMirror(const std::vector<std::string>& args) {
  if (int rc = CheckMirrorFlags(args); rc != kExitOk) return rc;
  site::MirrorDaemonOptions o;
  if (int rc = MirrorDataFlags(&o.data); rc != kExitOk) return rc;
  auto bwlimit = ParseSize(FLAGS_bwlimit);
  if (!bwlimit.ok()) return Usage("mirror", "--bwlimit: " + bwlimit.status().message());
  auto include = ParseInclude(FLAGS_include);
  if (!include.ok()) return Usage("mirror", include.status().message());
  auto url = MetaUrl();
  if (!url.ok()) return Fail("mirror", url.status());
  auto server_key = sitelink::LoadPublicKey(FLAGS_primary_key);
  if (!server_key.ok()) return Fail("mirror", server_key.status().With("--primary-key"));
  auto keys = LoadKeyFile(FLAGS_key);
  if (!keys.ok()) return Fail("mirror", keys.status().With("--key"));
  if (o.data.mode == "replicate") {
    auto b = objstore::NormalizeBucketUrl(FLAGS_bucket);
    if (!b.ok()) return Fail("mirror", b.status().With("--bucket"));
    o.data.bucket = *b;
  }
  o.site.replica_conninfo = *url;
  o.site.primary = FLAGS_primary;
  o.site.primary_public_key = *server_key;
  o.site.keys = *keys;
  o.site.site_name = FLAGS_name.empty() ? HostName() : FLAGS_name;
  o.site.include = *include;
  o.site.status_file = FLAGS_status_file;
  o.site.stop = StopOnSignals();
  o.access = Access();
  o.force_nonempty = FLAGS_force_nonempty;
  o.threads = FLAGS_threads;
  o.bwlimit = *bwlimit;
  o.delete_grace = std::chrono::seconds(FLAGS_delete_grace);
  auto started = MetricsServer::StartIfAsked(FLAGS_metrics);
  if (!started.ok()) return Fail("mirror", started.status());
  std::unique_ptr<MetricsServer> metrics = std::move(started).value();
  if (metrics) {
    o.on_tick = [&metrics, url = o.site.replica_conninfo,
                 conn = std::shared_ptr<std::unique_ptr<meta::PgConn>>(
                     new std::unique_ptr<meta::PgConn>())](
                    const mirror::MirrorSiteStats& st, const replicator::ReplicatorStats* repl) {
      SetMirrorMetrics(metrics.get(), st, repl);
      SetTenantMetrics(metrics.get(), url, conn.get());
    };
  }
  if (FLAGS_json) {
    o.on_exit = [site = o.site](const mirror::MirrorSiteStats& st) {
      std::cout << mirror::StatusJson(site, st) << std::endl;
    };
  } else {
    std::cerr << MessageText("mirror " + o.site.site_name + ": following " + o.site.primary +
                             " into " + meta::RedactConninfo(o.site.replica_conninfo))
              << "\n";
  }
  Status s = site::RunMirror(std::move(o));
  return s.ok() ? kExitOk : Fail("mirror", s);
}
}  // namespace meridian::cli
