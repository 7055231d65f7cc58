// meridian mirror: the mirror-site daemon. Flags -> mirror::MirrorSiteOptions
// -> MirrorSite::Run() (mirror/site.h). --meta is the mirror's OWN replica
// database; --key is shared with `meridian primary` (defined in site_cmds.cc).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "changelog/keys.h"
#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "common/path.h"
#include "mirror/site.h"

DECLARE_string(key);
DECLARE_string(metrics);
DEFINE_string(primary, "", "mirror: the primary's site-link address, e.g. tcp://10.0.0.5:7000");
DEFINE_string(primary_key, "",
              "mirror: the primary's public key: 40 Z85 characters or the path of its .pub file");
DEFINE_string(name, "", "mirror: this site's name as the primary shows it (default: hostname)");
DEFINE_string(include, "",
              "mirror: comma-separated top-level directories (tenants) to carry, e.g. "
              "\"/models,/datasets\"; empty carries everything");
DEFINE_string(status_file, "",
              "mirror: write the site's position, lag and counters as JSON to this file "
              "about once a second (atomically replaced)");

namespace meridian::cli {
namespace {

std::atomic<bool> g_mirror_stop{false};
void OnMirrorSignal(int) { g_mirror_stop = true; }

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

}  // namespace

int RunMirror(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("mirror", "takes no arguments");
  if (FLAGS_primary.empty()) {
    return Usage("mirror",
                 "--primary is required: the primary's site-link address, e.g. "
                 "tcp://10.0.0.5:7000");
  }
  if (FLAGS_primary.rfind("tcp://", 0) != 0) {
    return Usage("mirror", "--primary must look like tcp://HOST:PORT, not '" + FLAGS_primary + "'");
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
  auto include = ParseInclude(FLAGS_include);
  if (!include.ok()) return Usage("mirror", include.status().message());
  auto url = MetaUrl();
  if (!url.ok()) return Fail("mirror", url.status());
  auto server_key = changelog::LoadPublicKey(FLAGS_primary_key);
  if (!server_key.ok()) return Fail("mirror", server_key.status().With("--primary-key"));
  auto keys = changelog::LoadKeyPair(FLAGS_key);
  if (!keys.ok()) return Fail("mirror", keys.status().With("--key"));

  mirror::MirrorSiteOptions o;
  o.replica_conninfo = *url;
  o.primary = FLAGS_primary;
  o.primary_public_key = *server_key;
  o.keys = *keys;
  o.site_name = FLAGS_name.empty() ? HostName() : FLAGS_name;
  o.include = *include;
  o.status_file = FLAGS_status_file;
  o.stop = &g_mirror_stop;
  signal(SIGTERM, OnMirrorSignal);
  signal(SIGINT, OnMirrorSignal);
  if (!FLAGS_json) {
    std::cerr << "mirror " << o.site_name << ": following " << o.primary << " into "
              << meta::RedactConninfo(o.replica_conninfo) << "\n";
  }
  mirror::MirrorSite site(o);
  std::unique_ptr<MetricsServer> metrics;
  std::thread exporter;
  if (!FLAGS_metrics.empty()) {
    auto m = MetricsServer::Start(FLAGS_metrics);
    if (!m.ok()) return Fail("mirror", m.status());
    metrics = std::move(m).value();
    std::cerr << "metrics on " << metrics->url() << "\n";
    exporter = std::thread([&] {
      while (!g_mirror_stop) {
        mirror::MirrorSiteStats st = site.stats();
        double now =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        double lag = st.caught_up || st.applied_time_ns == 0 ? 0 : now - st.applied_time_ns / 1e9;
        metrics->Set("meridian_mirror_applied_position", "last change-log position applied",
                     st.applied_pos);
        metrics->Set("meridian_mirror_applied_entries", "entries applied, ever",
                     st.applied_changes);
        metrics->Set("meridian_mirror_lag_seconds",
                     "age of the last applied commit while behind, 0 when caught up",
                     std::max(0.0, lag));
        metrics->Set("meridian_mirror_connected", "1 while the site link is up", st.connected);
        metrics->Set("meridian_mirror_primary_head_position",
                     "newest position the primary announced", st.primary_head);
        metrics->Set("meridian_mirror_lag_entries", "entries behind the primary's announced head",
                     st.primary_head > st.applied_pos ? st.primary_head - st.applied_pos : 0);
        metrics->Set("meridian_mirror_snapshots", "snapshots installed by this process",
                     st.snapshots);
        metrics->Set("meridian_mirror_rejected_frames", "frames that failed to decode",
                     st.rejected_frames);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    });
  }
  Status s = site.Run();
  g_mirror_stop = true;
  if (exporter.joinable()) exporter.join();
  if (FLAGS_json) std::cout << mirror::StatusJson(o, site.stats()) << std::endl;
  return s.ok() ? kExitOk : Fail("mirror", s);
}

}  // namespace meridian::cli
