// Site verbs: keygen, primary (the daemon), status, verify.

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "cmd/cli.h"
#include "cmd/metrics.h"
#include "common/text.h"
#include "meta/site_status.h"
#include "meta/tree.h"
#include "primary/daemon.h"
#include "replicator/replicator.h"
#include "sitelink/keys.h"

DEFINE_string(out, "", "keygen: write OUT.key (secret, mode 0600) and OUT.pub");
DEFINE_string(listen, "tcp://0.0.0.0:7000",
              "primary: site-link address to bind (default tcp://0.0.0.0:7000); cache: the "
              "node's address (default tcp://0.0.0.0:7100)");
DEFINE_string(key, "", "this site's key file from `meridian keygen` (NAME.key)");
DEFINE_string(allow, "",
              "primary: allow-list file, one mirror public key per line; cache: one reader "
              "public key per line");
DEFINE_uint64(log_retention, 1000000,
              "primary: change-log entries kept behind the head (mirrors further behind "
              "bootstrap from a snapshot); 0 keeps everything");
DEFINE_string(snapshot_spool_dir, "",
              "primary: directory for the files a snapshot for a bootstrapping mirror waits in "
              "(~150-300 bytes per file of the namespace, deleted when sent); default $TMPDIR, "
              "else /var/tmp");
DEFINE_int32(max_snapshots, 4,
             "primary: snapshots for bootstrapping mirrors read from the database at once "
             "(each holds up to two PostgreSQL connections while it reads); more mirrors wait "
             "their turn");
DEFINE_int32(gc_interval, 60,
             "primary: seconds between runs of block GC (freed blocks every mirror has "
             "acknowledged leave the bucket); 0 = never (run `meridian gc` yourself)");
DEFINE_int64(max_wait, 7 * 24 * 3600,
             "gc, primary: seconds a freed block waits for every mirror's acknowledgement "
             "before it is deleted anyway (so a dead mirror cannot stop GC)");
DEFINE_int64(min_age, 300,
             "gc, primary: seconds a freed block stays in the bucket even once every mirror "
             "has acknowledged it (readers that looked it up just before can finish)");
DEFINE_string(replica, "", "verify: the mirror's replica database to compare with --meta");
DEFINE_string(metrics, "",
              "primary, mirror, cache, mount: serve Prometheus metrics on HOST:PORT (e.g. "
              "127.0.0.1:9400)");
DEFINE_int32(timeout, 60, "verify: seconds to wait for the mirror to reach the primary");

namespace meridian::cli {
namespace {}  // namespace

int RunKeygen(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("keygen", "takes no arguments; use --out NAME");
  if (FLAGS_out.empty()) return Usage("keygen", "--out NAME is required");
  auto kp = sitelink::WriteNewKeyPair(FLAGS_out);
  if (!kp.ok()) return Fail("keygen", kp.status());
  if (FLAGS_json) {
    nlohmann::json j = {{"public_key", kp->public_key}};
    PutName(j, "key_file", FLAGS_out + ".key");
    PutName(j, "pub_file", FLAGS_out + ".pub");
    PrintJson(j);
  } else {
    std::cout << kp->public_key << "\n";
    std::cerr << "wrote " << MessageText(FLAGS_out) << ".key (keep it secret) and "
              << MessageText(FLAGS_out) << ".pub (give it to the other site)\n";
  }
  return kExitOk;
}

int RunPrimaryDaemon(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("primary", "takes no arguments");
  if (FLAGS_key.empty()) return Usage("primary", "--key is required (make one with keygen)");
  if (FLAGS_allow.empty()) {
    return Usage("primary", "--allow is required: the file of mirror public keys to accept");
  }
  auto url = MetaUrl();
  if (!url.ok()) return Fail("primary", url.status());
  auto keys = LoadKeyFile(FLAGS_key);
  if (!keys.ok()) return Fail("primary", keys.status());
  auto allow = sitelink::LoadAllowList(FLAGS_allow);
  if (!allow.ok()) return Fail("primary", allow.status());
  if (!FLAGS_snapshot_spool_dir.empty() &&
      ::access(FLAGS_snapshot_spool_dir.c_str(), W_OK | X_OK) != 0) {
    return Usage("primary", "--snapshot-spool-dir " + FLAGS_snapshot_spool_dir +
                                ": not a writable directory (" + std::strerror(errno) + ")");
  }
  // A primary serves a formatted primary volume, nothing else.
  auto vol = OpenVolume(FLAGS_gc_interval > 0, /*upgrade=*/true);
  if (!vol.ok()) return Fail("primary", vol.status());
  if (vol->config.role != "primary") {
    return Fail("primary", Status::FailedPrecondition(
                               "this database is a mirror replica: run `meridian primary` "
                               "against the primary's database"));
  }
  primary::PrimaryDaemonOptions o;
  o.conninfo = *url;
  o.server.bind = FLAGS_listen;
  o.server.server_keys = *keys;
  o.server.allowed_client_keys = *allow;
  o.log_retention = FLAGS_log_retention;
  o.server.snapshot_spool_dir = FLAGS_snapshot_spool_dir;
  o.server.max_snapshots = static_cast<size_t>(FLAGS_max_snapshots);
  o.gc.store = vol->store.get();
  o.gc.volume = vol->config.name;
  o.gc.max_wait = std::chrono::seconds(FLAGS_max_wait);
  o.gc.min_age = std::chrono::seconds(FLAGS_min_age);
  o.gc_interval = std::chrono::seconds(FLAGS_gc_interval);
  o.stop = StopOnSignals();
  o.on_listening = [](const std::string& endpoint) {
    std::printf("listening on %s\n", endpoint.c_str());
    std::fflush(stdout);
  };
  auto started = MetricsServer::StartIfAsked(FLAGS_metrics);
  if (!started.ok()) return Fail("primary", started.status());
  std::unique_ptr<MetricsServer> metrics = std::move(started).value();
  if (metrics) {
    o.on_tick = [&metrics, url = *url,
                 conn = std::shared_ptr<std::unique_ptr<meta::PgConn>>(
                     new std::unique_ptr<meta::PgConn>())](
                    uint64_t head, const std::vector<sitelink::MirrorState>& mirrors) {
      metrics->Set("meridian_changelog_head_position", "newest change-log position", head);
      SetTenantMetrics(metrics.get(), url, conn.get());
      for (const auto& m : mirrors) {
        metrics->Set("meridian_mirror_acked_position", "position a mirror has applied", m.acked,
                     "mirror", m.name);
        metrics->Set("meridian_mirror_lag_entries", "entries a mirror is behind the head",
                     head > m.acked ? head - m.acked : 0, "mirror", m.name);
        metrics->Set("meridian_mirror_connected", "1 while the mirror's link is up", m.connected,
                     "mirror", m.name);
      }
    };
  }
  Status s = primary::RunPrimary(o);
  return s.ok() ? kExitOk : Fail("primary", s);
}

namespace {

// A mirror's position and link, from its replica: site_state (written with
// every applied batch) and site_link (written by the daemon about once a
// second). A site_link row older than kStaleLinkSeconds means the daemon is
// not running (or cannot reach its replica).

Result<nlohmann::json> MirrorStatus(meta::PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(meta::MirrorPosition r, meta::ReadMirrorPosition(c));
  const uint64_t applied = r.applied_pos;
  const int64_t applied_time_ns = r.applied_time_ns, now_ns = r.now_ns;
  nlohmann::json j = {{"applied_pos", applied},
                      {"applied_changes", r.applied_changes},
                      {"snapshot_pos", r.snapshot_pos}};
  MERIDIAN_ASSIGN_OR_RETURN(SiteData site, LoadSiteData(c));
  if (site.mode == "cache") {
    j["data"] = {{"mode", "cache"}, {"cache_group", site.cache_group}};
    // Each node's usage, when this process may talk to the group (--key).
    if (auto group = OpenCacheGroup(site); group.ok()) {
      auto nodes = nlohmann::json::parse((*group)->StatsJson(), nullptr, false);
      uint64_t hits = 0, misses = 0;
      for (const auto& [node, s] : nodes.items()) {
        hits += s.value("hits", uint64_t{0});
        misses += s.value("misses", uint64_t{0});
      }
      j["data"]["nodes"] = nodes;
      j["data"]["hit_ratio"] = hits + misses ? double(hits) / double(hits + misses) : 0.0;
    } else {
      j["data"]["nodes_error"] = JsonText(group.status().message());
    }
  } else if (site.mode != "replicate") {
    j["data"] = {{"mode", "metadata"}};
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(replicator::Backlog b, replicator::ReadBacklog(c));
    MERIDIAN_ASSIGN_OR_RETURN(const int64_t n, meta::CountReplicatedBlocks(c));
    j["data"] = {{"mode", "replicate"},
                 {"bucket", JsonText(site.bucket)},
                 {"visibility", site.visibility},
                 {"fill_on_read", site.fill_on_read},
                 {"data_complete_pos", b.data_complete_pos},
                 {"replicated_blocks", n},
                 {"backlog_blocks", b.blocks},
                 {"backlog_bytes", b.bytes},
                 {"oldest_pending_seconds", b.oldest_age_seconds}};
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<meta::SiteLinkRow> l, meta::ReadSiteLink(c));
  if (!l.has_value()) {  // no daemon of this version ran against this replica yet
    j["daemon_running"] = false;
    j["connected"] = false;
    j["primary_head"] = nullptr;
    j["lag_entries"] = nullptr;
    j["lag_seconds"] = nullptr;
    return j;
  }
  const double age = l->age_seconds;
  const uint64_t head = std::max<uint64_t>(l->primary_head, applied);
  const bool running = age < kStaleLinkSeconds;
  PutName(j, "site", l->site_name);
  j["primary"] = JsonText(l->primary_addr);
  j["daemon_running"] = running;
  j["connected"] = running && l->connected;
  j["link_updated_seconds_ago"] = age;
  j["primary_head"] = head;  // as last announced to the daemon
  j["lag_entries"] = head - applied;
  // Behind: the age of the newest applied commit (unknown right after a
  // snapshot); caught up: 0.
  if (head == applied) {
    j["lag_seconds"] = 0.0;
  } else if (applied_time_ns > 0) {
    j["lag_seconds"] = std::max(0.0, (now_ns - applied_time_ns) / 1e9);
  } else {
    j["lag_seconds"] = nullptr;
  }
  return j;
}

std::string Num(const nlohmann::json& v) { return v.is_null() ? "unknown" : v.dump(); }

void PrintStatus(const nlohmann::json& j) {
  std::cout << "volume " << j["volume"].get<std::string>() << " (" << j["role"].get<std::string>()
            << ")\n";
  if (j["role"] == "primary") {
    std::cout << "  head position     " << j["head"] << "\n"
              << "  oldest retained   " << j["oldest_retained"] << "\n"
              << "  daemon            "
              << (j["daemon_running"].get<bool>()
                      ? "running (" + j["listen"].get<std::string>() + ")"
                      : std::string("primary daemon not running"))
              << "\n";
    for (const auto& m : j["mirrors"]) {
      std::cout << "  mirror " << ListName(GetName(m, "name")) << ": acked " << m["acked_pos"]
                << ", " << m["lag_entries"] << " entries behind, "
                << (m["connected"].get<bool>() ? "connected" : "disconnected") << "\n";
    }
    return;
  }
  std::string link = !j["daemon_running"].get<bool>() ? "mirror daemon not running"
                     : j["connected"].get<bool>()     ? "connected"
                                                      : "disconnected, reconnecting";
  std::cout << "  applied position  " << j["applied_pos"] << " of " << Num(j["primary_head"])
            << "\n"
            << "  lag               " << Num(j["lag_entries"]) << " entries, "
            << Num(j["lag_seconds"]) << " s\n"
            << "  link              " << link;
  if (j.contains("primary"))
    std::cout << " (" << MessageText(j["primary"].get<std::string>()) << ")";
  std::cout << "\n";
  const auto& d = j["data"];
  if (d["mode"] == "replicate") {
    std::cout << "  data              replicated into " << d["bucket"].get<std::string>() << ": "
              << d["replicated_blocks"] << " blocks; backlog " << d["backlog_blocks"] << " blocks, "
              << HumanBytes(d["backlog_bytes"].get<double>()) << ", oldest pending "
              << d["oldest_pending_seconds"] << " s\n"
              << "  data complete at  " << d["data_complete_pos"] << " (visibility "
              << d["visibility"].get<std::string>()
              << (d["fill_on_read"].get<bool>() ? ", fill on read" : "") << ")\n";
  } else if (d["mode"] == "cache") {
    std::cout << "  data              cache group " << d["cache_group"].get<std::string>();
    if (d.contains("nodes")) {
      std::cout << ", hit ratio " << d["hit_ratio"] << "\n";
      for (const auto& [node, s] : d["nodes"].items()) {
        if (s.contains("error")) {
          std::cout << "    " << node << ": " << MessageText(s["error"].get<std::string>()) << "\n";
        } else {
          std::cout << "    " << node << ": " << s.value("items", 0) << " blocks, "
                    << HumanBytes(s.value("bytes", 0.0)) << ", " << s.value("evictions", 0)
                    << " evicted, " << HumanBytes(s.value("fetched_bytes", 0.0))
                    << " fetched from the primary\n";
        }
      }
    } else {
      std::cout << " (" << MessageText(d["nodes_error"].get<std::string>()) << ")\n";
    }
  } else {
    std::cout << "  data              read from the primary's bucket (--data metadata)\n";
  }
}

}  // namespace

int RunStatus(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("status", "takes no arguments");
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("status", vol.status());
  meta::PgConn* c = vol->conn.get();
  nlohmann::json j = {{"volume", vol->config.name}, {"role", vol->config.role}};
  if (vol->config.role == "primary") {
    auto r = meta::ReadPrimaryLog(c);
    if (!r.ok()) return Fail("status", r.status());
    uint64_t head = r->head;
    j["head"] = head;
    j["oldest_retained"] = r->oldest_retained;
    // The same staleness rule as at a mirror: a daemon that has not said
    // so for kStaleLinkSeconds is not running (stopped, killed, hung), and
    // then no mirror is connected to it, whatever its last rows say.
    auto d = meta::ReadSiteDaemon(c);
    if (!d.ok()) return Fail("status", d.status());
    const bool running = DaemonRunning(*d);
    j["daemon_running"] = running;
    if (d->has_value()) {
      j["listen"] = (*d)->endpoint;
      j["daemon_updated_seconds_ago"] = (*d)->age_seconds;
    }
    auto m = meta::ReadSiteMirrors(c);
    if (!m.ok()) return Fail("status", m.status());
    j["mirrors"] = nlohmann::json::array();
    for (const meta::SiteMirrorRow& row : *m) {
      uint64_t acked = row.acked_pos;
      const double seen = row.last_seen_seconds;
      nlohmann::json one = {{"public_key", JsonText(row.public_key)},
                            {"acked_pos", acked},
                            {"lag_entries", head > acked ? head - acked : 0},
                            {"connected", LinkUp(running, row)},
                            {"last_seen_seconds_ago", seen}};
      PutName(one, "name", row.name);
      j["mirrors"].push_back(std::move(one));
    }
  } else {
    auto m = MirrorStatus(c);
    if (!m.ok()) return Fail("status", m.status());
    j.update(*m);
  }
  if (FLAGS_json) {
    PrintJson(j);
  } else {
    PrintStatus(j);
  }
  return kExitOk;
}

int RunVerify(const std::vector<std::string>& args) {
  if (args.size() > 1) return Usage("verify", "expected at most one PATH");
  if (FLAGS_replica.empty())
    return Usage("verify", "--replica URL (the mirror's database) is required");
  const std::string path = args.empty() ? "/" : args[0];
  auto vol = OpenVolume(false);
  if (!vol.ok()) return Fail("verify", vol.status());
  auto mirror = meta::PgConn::Connect(FLAGS_replica);
  if (!mirror.ok()) return Fail("verify", mirror.status());
  meta::PgConn* p = vol->conn.get();
  meta::PgConn* m = mirror->get();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(FLAGS_timeout);
  // Compare both sites at one position: the primary's tree and head from one
  // snapshot, the mirror's tree and applied position from one snapshot.
  while (true) {
    uint64_t ppos = 0, mpos = 0;
    std::vector<meta::TreeEntry> ptree, mtree;
    if (Status s = meta::SnapshotTree(p, meta::SitePosition::kPrimaryHead, path, &ppos, &ptree);
        !s.ok()) {
      return Fail("verify", s.With("primary"));
    }
    Status s = meta::SnapshotTree(m, meta::SitePosition::kMirrorApplied, path, &mpos, &mtree);
    if (!s.ok()) return Fail("verify", s.With("mirror"));
    if (mpos == ppos) {
      auto diff = meta::DiffTrees(ptree, mtree, "primary", "mirror");
      if (FLAGS_json) {
        nlohmann::json j = {{"position", ppos},
                            {"entries", ptree.size()},
                            {"identical", diff.empty()},
                            {"primary_digest", meta::TreeDigest(ptree)},
                            {"mirror_digest", meta::TreeDigest(mtree)},
                            {"differences", JsonTexts(diff)}};
        PutName(j, "path", path);
        PrintJson(j);
      } else {
        for (const auto& d : diff) std::cout << MessageText(d) << "\n";
        std::cout << (diff.empty() ? "identical" : "DIFFERENT") << " at position " << ppos << ": "
                  << ptree.size() << " entries under " << ListName(path) << ", digest "
                  << meta::TreeDigest(ptree).substr(0, 16) << "\n";
      }
      return diff.empty() ? kExitOk : kExitError;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail("verify",
                  Status::Unavailable("the mirror is at position " + std::to_string(mpos) +
                                      ", the primary at " + std::to_string(ppos) + " after " +
                                      std::to_string(FLAGS_timeout) +
                                      " s: is `meridian mirror` running? (raise --timeout)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool DaemonRunning(const std::optional<meta::SiteDaemonRow>& d) {
  return d.has_value() && d->age_seconds < kStaleLinkSeconds;
}

bool LinkUp(bool daemon_running, const meta::SiteMirrorRow& row) {
  return daemon_running && row.connected && row.last_seen_seconds < kStaleLinkSeconds;
}

}  // namespace meridian::cli
