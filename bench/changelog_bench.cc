// changelog_bench: how fast a mirror site follows the primary's change log,
// measured side by side in one run on one machine (see bench/README.md):
//   1. the mirror's maximum apply rate against the primary's maximum commit
//      rate (ratio apply/commit);
//   2. propagation latency commit -> visible at the replica (p50/p99) at a
//      target commit rate, on loopback and through a 50 ms RTT delay proxy
//      (harness::TcpProxy, tests/harness/tcp_proxy.h: this kernel has no netem);
//   3. catch-up time of a mirror that is M entries behind;
//   4. snapshot bootstrap time of a new mirror over a primary of F files.
// Two throwaway PostgreSQL clusters (primary, replica), the real site link
// (ZeroMQ CURVE) and mirror::MirrorSite. Writes a JSON report and a table.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/changelog_bench_sites.h"
#include "changelog/codec.h"
#include "meta/schema.h"
#include "mirror/applier.h"
#include "primary/namespace_writer.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/tcp_proxy.h"

DEFINE_string(parts, "1,2,3,4,5",
              "which measurements to run (1 apply/commit, 2 latency, "
              "3 catch-up, 4 snapshot bootstrap, 5 writers in many tenants vs one)");
DEFINE_int32(tenant_mkdirs, 8000, "part 5: mkdirs per run (split over --writers)");
DEFINE_int32(commits, 20000, "part 1: changes committed at full speed (half mkdir, half files)");
DEFINE_int32(writers, 4, "writer threads (connections) at the primary");
DEFINE_string(rates, "1000,10000", "part 2: target commit rates per second");
DEFINE_double(latency_seconds, 5, "part 2: seconds of paced commits per rate and link");
DEFINE_string(external_primary, "",
              "part 2 across a real link (bench/changelog_wan.sh): commit into this primary "
              "database, served by a running `meridian primary`, and time a running "
              "`meridian mirror` that applies into --external_replica; no servers are started");
DEFINE_string(external_replica, "", "with --external_primary: the mirror's replica database");
DEFINE_int32(batch_files, 0,
             "part 2: 0 = each change is a mkdir (one transaction each); N > 0 = changes are "
             "one-block files committed N per transaction (NamespaceWriter::CommitFiles, as "
             "`meridian import` does), so rates are in files per second");
DEFINE_int32(delay_ms, 25, "part 2: one-way delay of the WAN proxy (RTT = 2x)");
DEFINE_int64(catchup_entries, 200000, "part 3: entries the mirror is behind");
DEFINE_int64(snapshot_files, 200000, "part 4: files in the primary when the mirror bootstraps");
DEFINE_int32(mirror_peer_timeout_ms, 5000,
             "the mirror's site-link peer timeout (default as shipped)");
DEFINE_int32(bootstrap_timeout_s, 120, "part 4: give up (and report it) after this long");
DEFINE_bool(durable, false, "PostgreSQL with fsync/synchronous_commit on (both clusters)");
DEFINE_string(json_out, "bench/results/changelog.json", "report path");

namespace meridian::bench {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using meta::PgConn;

#define CHECK_OK(expr)                                \
  do {                                                \
    const ::meridian::Status _s = (expr);             \
    CHECK(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

template <typename T>
T Must(Result<T> r, const char* what) {
  CHECK(r.ok()) << what << ": " << r.status().ToString();
  return std::move(r).value();
}

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Env {
  harness::PgCluster primary_pg, replica_pg;
  sitelink::CurveKeyPair server_keys, mirror_keys;
  Env(harness::PgCluster::Options o) : primary_pg(o), replica_pg(o) {}
  harness::PgDatabase Primary(const std::string& name) {
    auto db = Must(primary_pg.CreateDatabase(name), "create primary database");
    CHECK_OK(FormatPrimary(db.conninfo, name));
    return db;
  }
  harness::PgDatabase Replica(const std::string& name) {
    return Must(replica_pg.CreateDatabase(name), "create replica database");
  }
  std::unique_ptr<PrimaryRunner> Serve(const harness::PgDatabase& db) {
    return Must(PrimaryRunner::Start(db.conninfo, server_keys, mirror_keys.public_key),
                "start primary");
  }
  std::unique_ptr<MirrorRunner> Follow(const harness::PgDatabase& replica,
                                       const std::string& endpoint) {
    return MirrorRunner::Start(replica.conninfo, endpoint, server_keys.public_key, mirror_keys,
                               std::chrono::milliseconds(FLAGS_mirror_peer_timeout_ms));
  }
};

uint64_t HeadOf(const harness::PgDatabase& db) {
  auto c = Must(PgConn::Connect(db.conninfo), "connect");
  return Must(Head(c.get()), "head");
}

uint64_t MkdirAt(const harness::PgDatabase& db, const std::string& path) {
  auto c = Must(PgConn::Connect(db.conninfo), "connect");
  primary::NamespaceWriter w(c.get());
  return Must(w.Mkdir(path, {0755, 0, 0, 0}, true), "mkdir");
}

// Runs `writers` threads; writer w does ops k = 0, 1, ... while `op(w, k)`
// returns true, each op at (k * writers + w) / rate seconds after the start
// (rate 0: as fast as possible). Returns the elapsed seconds.
double RunWriters(
    const harness::PgDatabase& db, int writers, double rate,
    const std::function<bool(primary::NamespaceWriter*, int, int64_t, Clock::time_point)>& op) {
  std::vector<std::thread> threads;
  const auto t0 = Clock::now() + std::chrono::milliseconds(50);
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto c = Must(PgConn::Connect(db.conninfo), "connect");
      primary::NamespaceWriter nw(c.get());
      for (int64_t k = 0;; ++k) {
        const auto at = rate > 0 ? t0 + std::chrono::nanoseconds(
                                            static_cast<int64_t>((k * writers + w) / rate * 1e9))
                                 : t0;
        std::this_thread::sleep_until(at);
        if (!op(&nw, w, k, at)) break;
      }
    });
  }
  for (auto& t : threads) t.join();
  return Since(t0);
}

// ---- 1. apply rate vs commit rate ----

json CommitVsApply(Env& env) {
  auto p = env.Primary("p1");
  const int W = FLAGS_writers;
  const int64_t per_writer = FLAGS_commits / W;
  std::vector<std::vector<uint64_t>> block_ids(W);
  {
    auto c = Must(PgConn::Connect(p.conninfo), "connect");
    primary::NamespaceWriter nw(c.get());
    for (int w = 0; w < W; ++w) {
      MkdirAt(p, "/t" + std::to_string(w));
      block_ids[w] = Must(nw.AllocateBlockIds(per_writer), "block ids");
    }
  }
  const uint64_t head0 = HeadOf(p);
  std::atomic<int64_t> failed{0};
  const double secs =
      RunWriters(p, W, 0, [&](primary::NamespaceWriter* nw, int w, int64_t k, Clock::time_point) {
        if (k >= per_writer) return false;
        const std::string dir = "/t" + std::to_string(w) + "/";
        Status s;
        if (k % 2 == 0) {
          s = nw->Mkdir(dir + "d" + std::to_string(k), {0755, 0, 0, 0}, false).status();
        } else {
          BlockRef b{block_ids[w][k], 0, 100, 100, Compression::kNone, {}};
          b.checksum[0] = static_cast<uint8_t>(k);
          s = nw->CommitFile(dir + "f" + std::to_string(k), {0644, 0, 0, 0}, 100, {b}, 1 << 20)
                  .status();
        }
        if (!s.ok()) ++failed;
        return true;
      });
  const uint64_t head = HeadOf(p);
  CHECK_EQ(failed.load(), 0) << "writes failed";
  const double commit_rate = (head - head0) / secs;
  LOG(INFO) << "part 1: committed " << head - head0 << " changes in " << secs << " s";

  // (a) Applier::Apply in batches of 1024 (the server's default batch), log
  // read and decoded beforehand: the replica's cost alone.
  std::vector<changelog::Change> all;
  {
    auto c = Must(PgConn::Connect(p.conninfo), "connect");
    auto r = Must(c->Exec("SELECT body FROM changelog ORDER BY pos"), "read log");
    for (int i = 0; i < r.rows(); ++i) {
      all.push_back(Must(changelog::DecodeChange(r.GetBytes(i, 0)), "decode"));
    }
  }
  auto ra = env.Replica("r1a");
  auto rc = Must(PgConn::Connect(ra.conninfo), "connect");
  CHECK_OK(meta::Migrate(rc.get()));
  mirror::Applier applier(rc.get(), {});
  auto t0 = Clock::now();
  for (size_t i = 0; i < all.size(); i += 1024) {
    std::vector<changelog::Change> batch(all.begin() + i,
                                         all.begin() + std::min(all.size(), i + 1024));
    Must(applier.Apply(batch), "apply");
  }
  const double applier_secs = Since(t0);

  // (b) MirrorSite over the real site link on loopback, from a fresh replica:
  // the primary reads and encodes, the mirror decodes and applies.
  auto server = env.Serve(p);
  auto rb = env.Replica("r1b");
  t0 = Clock::now();
  auto m = env.Follow(rb, server->endpoint());
  Must(WaitApplied(rb.conninfo, head, std::chrono::seconds(600)), "mirror catch-up");
  const double mirror_secs = Since(t0);
  CHECK_OK(m->Stop());

  json j = {{"commits", head - head0},
            {"writers", W},
            {"commit_seconds", secs},
            {"commits_per_s", commit_rate},
            {"log_entries", head},
            {"applier_entries_per_s", head / applier_secs},
            {"mirror_site_entries_per_s", head / mirror_secs},
            {"ratio_applier_vs_commit", head / applier_secs / commit_rate},
            {"ratio_mirror_site_vs_commit", head / mirror_secs / commit_rate}};
  LOG(INFO) << "part 1: " << j.dump();
  return j;
}

// ---- 5. writers in many tenants vs one ----

// The same writers making directories as fast as they can, first each in a
// tenant of its own, then all in one tenant (each in its own directory, so
// only the tenant's lock is shared). A tenant's writers serialize on its
// row; writers of different tenants share only the global lock's last two
// round trips.
json TenantWriters(Env& env) {
  auto p = env.Primary("p5");
  const int W = FLAGS_writers;
  const int64_t per_writer = FLAGS_tenant_mkdirs / W;
  for (int w = 0; w < W; ++w) {
    MkdirAt(p, "/own" + std::to_string(w));
    MkdirAt(p, "/shared/w" + std::to_string(w));
  }
  auto rate = [&](const std::function<std::string(int)>& dir) {
    const uint64_t head0 = HeadOf(p);
    const double secs =
        RunWriters(p, W, 0, [&](primary::NamespaceWriter* nw, int w, int64_t k, Clock::time_point) {
          if (k >= per_writer) return false;
          CHECK_OK(nw->Mkdir(dir(w) + "/d" + std::to_string(k), {0755, 0, 0, 0}, false).status());
          return true;
        });
    return (HeadOf(p) - head0) / secs;
  };
  const double own = rate([](int w) { return "/own" + std::to_string(w); });
  const double shared = rate([](int w) { return "/shared/w" + std::to_string(w); });
  json j = {{"writers", W},
            {"mkdirs_per_run", per_writer * W},
            {"own_tenant_mkdirs_per_s", own},
            {"one_tenant_mkdirs_per_s", shared},
            {"ratio_own_vs_one", own / shared}};
  LOG(INFO) << "part 5: " << j.dump();
  return j;
}

// ---- 2. propagation latency ----

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

json MeasureLatency(const harness::PgDatabase& p, const harness::PgDatabase& replica, double rate,
                    int run) {
  CHECK(Must(WaitApplied(replica.conninfo, HeadOf(p), std::chrono::seconds(300)), "catch up") >= 0);
  auto poller = Must(VisibilityPoller::Start(replica.conninfo), "poller");
  const uint64_t first = HeadOf(p) + 1;
  const double secs = FLAGS_latency_seconds;
  // Stop at the target count or after `secs`, whichever comes first: a rate
  // above the primary's maximum runs flat out for `secs`.
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(50 + static_cast<int64_t>(secs * 1000));
  // Each paced call is one transaction of `per_call` changes.
  const int per_call = std::max(1, FLAGS_batch_files);
  const double calls_per_s = rate / per_call;
  const double took =
      RunWriters(p, FLAGS_writers, calls_per_s,
                 [&](primary::NamespaceWriter* nw, int w, int64_t k, Clock::time_point at) {
                   if ((k * FLAGS_writers + w) / calls_per_s >= secs || Clock::now() >= deadline) {
                     return false;
                   }
                   const std::string name = "/t" + std::to_string(w) + "/r" + std::to_string(run) +
                                            "_" + std::to_string(k);
                   if (FLAGS_batch_files == 0) {
                     auto s = nw->Mkdir(name, {0755, 0, 0, 0}, false);
                     CHECK(s.ok()) << s.status().ToString();
                     return true;
                   }
                   auto ids = Must(nw->AllocateBlockIds(per_call), "block ids");
                   std::vector<primary::FileCommit> files;
                   for (int i = 0; i < per_call; ++i) {
                     BlockRef b{ids[i], 0, 100, 100, Compression::kNone, {}};
                     b.checksum[0] = static_cast<uint8_t>(i);
                     files.push_back({name + "_" + std::to_string(i), {0644, 0, 0, 0}, 100, {b}});
                   }
                   auto s = nw->CommitFiles(files, 1 << 20);
                   CHECK(s.ok()) << s.status().ToString();
                   return true;
                 });
  const uint64_t last = HeadOf(p);
  const double drain = Must(
      WaitApplied(replica.conninfo, last, std::chrono::seconds(600), std::chrono::milliseconds(1)),
      "drain");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto seen = poller->Stop();

  auto c = Must(PgConn::Connect(p.conninfo), "connect");
  auto r = Must(c->Exec("SELECT pos, commit_time_ns FROM changelog WHERE pos BETWEEN $1 AND $2"
                        " ORDER BY pos",
                        {meta::Param::Int(first), meta::Param::Int(last)}),
                "read commit times");
  std::vector<double> ms;
  size_t s = 0;
  for (int i = 0; i < r.rows(); ++i) {
    const uint64_t pos = r.GetInt(i, 0);
    while (s < seen.size() && seen[s].first < pos) ++s;
    CHECK(s < seen.size()) << "position " << pos << " never seen at the replica";
    ms.push_back((seen[s].second - r.GetInt(i, 1)) / 1e6);
  }
  // Every change of an entry becomes visible with it: per-entry latencies
  // weigh the same for every change.
  const double n = static_cast<double>(last - first + 1) * per_call;
  json j = {{"target_per_s", rate},
            {"achieved_per_s", n / took},
            {"changes", n},
            {"log_entries", last - first + 1},
            {"changes_per_entry", per_call},
            {"p50_ms", Percentile(ms, 0.50)},
            {"p99_ms", Percentile(ms, 0.99)},
            {"max_ms", Percentile(ms, 1.0)},
            {"drain_after_last_commit_s", drain}};
  LOG(INFO) << "part 2: " << j.dump();
  return j;
}

// Part 2 against sites that run elsewhere (their own processes, a shaped
// link between them): only the load and the clock are here.
json LatencyExternal() {
  harness::PgDatabase p, replica;
  p.conninfo = FLAGS_external_primary;
  replica.conninfo = FLAGS_external_replica;
  for (int w = 0; w < FLAGS_writers; ++w) MkdirAt(p, "/t" + std::to_string(w));
  std::vector<double> rates;
  std::stringstream ss(FLAGS_rates);
  for (std::string r; std::getline(ss, r, ',');) rates.push_back(std::stod(r));
  json out = {{"poll_interval_ms", 1}};
  int run = 0;
  for (double rate : rates) out["runs"].push_back(MeasureLatency(p, replica, rate, run++));
  return out;
}

json Latency(Env& env) {
  auto p = env.Primary("p2");
  for (int w = 0; w < FLAGS_writers; ++w) MkdirAt(p, "/t" + std::to_string(w));
  auto server = env.Serve(p);
  std::vector<double> rates;
  std::stringstream ss(FLAGS_rates);
  for (std::string r; std::getline(ss, r, ',');) rates.push_back(std::stod(r));
  json out = {{"poll_interval_ms", 1}, {"wan_rtt_ms", 2 * FLAGS_delay_ms}};
  int run = 0;
  for (const bool wan : {false, true}) {
    std::unique_ptr<harness::TcpProxy> proxy;  // tests/harness: delay, no rate cap
    std::string endpoint = server->endpoint();
    if (wan) {
      harness::TcpProxy::Options po;
      po.target_port = server->port();
      po.delay_up = po.delay_down = std::chrono::milliseconds(FLAGS_delay_ms);
      proxy = Must(harness::TcpProxy::Start(po), "proxy");
      endpoint = "tcp://127.0.0.1:" + std::to_string(proxy->port());
    }
    auto replica = env.Replica(wan ? "r2wan" : "r2lo");
    auto m = env.Follow(replica, endpoint);
    for (double rate : rates) {
      out[wan ? "wan" : "loopback"].push_back(MeasureLatency(p, replica, rate, run++));
    }
    CHECK_OK(m->Stop());
  }
  return out;
}

// ---- 3. catch-up ----

json CatchUp(Env& env) {
  auto p = env.Primary("p3");
  const uint64_t dir = MkdirAt(p, "/cu");
  auto server = env.Serve(p);
  auto replica = env.Replica("r3");
  {
    auto m = env.Follow(replica, server->endpoint());
    Must(WaitApplied(replica.conninfo, HeadOf(p), std::chrono::seconds(60)), "initial sync");
    CHECK_OK(m->Stop());
  }
  const uint64_t n = FLAGS_catchup_entries;
  auto t0 = Clock::now();
  const uint64_t head = Must(AppendSyntheticMkdirs(p.conninfo, dir, "cu", n), "synthesize");
  const double load_secs = Since(t0);
  LOG(INFO) << "part 3: loaded " << n << " entries in " << load_secs << " s";
  t0 = Clock::now();
  auto m = env.Follow(replica, server->endpoint());
  Must(WaitApplied(replica.conninfo, head, std::chrono::seconds(3600),
                   std::chrono::milliseconds(20)),
       "catch-up");
  const double secs = Since(t0);
  CHECK_OK(m->Stop());
  const std::string q =
      "SELECT count(*) || '/' || (SELECT nlink FROM inodes WHERE ino = " + std::to_string(dir) +
      ") FROM dentries";
  const std::string want = Must(harness::PgQueryValue(p.conninfo, q), "check");
  const std::string got = Must(harness::PgQueryValue(replica.conninfo, q), "check");
  CHECK_EQ(want, got) << "replica differs from the primary after catch-up";
  json j = {{"entries", n},
            {"load_seconds", load_secs},
            {"catchup_seconds", secs},
            {"entries_per_s", n / secs},
            {"seconds_per_1m_entries", 1e6 / (n / secs)}};
  LOG(INFO) << "part 3: " << j.dump();
  return j;
}

// ---- 4. snapshot bootstrap ----

json Bootstrap(Env& env) {
  auto p = env.Primary("p4");
  const uint64_t dir = MkdirAt(p, "/snap");
  const uint64_t n = FLAGS_snapshot_files;
  auto t0 = Clock::now();
  CHECK_OK(PopulateFilesAndTruncateLog(p.conninfo, dir, n));
  const double load_secs = Since(t0);
  LOG(INFO) << "part 4: populated " << n << " files in " << load_secs << " s";
  auto server = env.Serve(p);
  auto replica = env.Replica("r4");
  t0 = Clock::now();
  auto m = env.Follow(replica, server->endpoint());
  auto done =
      WaitApplied(replica.conninfo, HeadOf(p), std::chrono::seconds(FLAGS_bootstrap_timeout_s),
                  std::chrono::milliseconds(20));
  const double secs = Since(t0);
  CHECK_OK(m->Stop());
  if (!done.ok()) {
    LOG(ERROR) << "part 4: " << done.status().ToString();
    return {{"files", n},
            {"completed", false},
            {"gave_up_after_s", secs},
            {"mirror_peer_timeout_ms", FLAGS_mirror_peer_timeout_ms},
            {"error", done.status().ToString()}};
  }
  const std::string q =
      "SELECT (SELECT count(*) FROM inodes) || '/' || (SELECT count(*) FROM dentries) || '/' ||"
      " (SELECT count(*) FROM blocks)";
  const std::string want = Must(harness::PgQueryValue(p.conninfo, q), "check");
  const std::string got = Must(harness::PgQueryValue(replica.conninfo, q), "check");
  CHECK_EQ(want, got) << "replica differs from the primary after the snapshot";
  json j = {{"files", n},
            {"completed", true},
            {"mirror_peer_timeout_ms", FLAGS_mirror_peer_timeout_ms},
            {"inodes_dentries_blocks", want},
            {"populate_seconds", load_secs},
            {"bootstrap_seconds", secs},
            {"files_per_s", n / secs},
            {"seconds_per_1m_files", 1e6 / (n / secs)}};
  LOG(INFO) << "part 4: " << j.dump();
  return j;
}

}  // namespace
}  // namespace meridian::bench

namespace {

using meridian::bench::json;

std::string Fmt(const json& v, const char* f = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v.get<double>());
  return buf;
}

// "changes/s", or "files/s, N per transaction" for a batched run.
std::string RateUnit(const json& run) {
  const int per = run.value("changes_per_entry", 1);
  return per > 1 ? "files/s, " + std::to_string(per) + " per transaction" : "changes/s";
}

void PrintTable(const json& r) {
  std::printf(
      "\n| measurement | Meridian | peer | peer value | ratio |\n|---|---:|---|---:|---:|\n");
  if (r.contains("apply_vs_commit")) {
    const json& a = r["apply_vs_commit"];
    std::printf(
        "| mirror apply, MirrorSite over loopback (entries/s) | %s | primary commit, %d "
        "writers (changes/s) | %s | %s |\n",
        Fmt(a["mirror_site_entries_per_s"]).c_str(), a["writers"].get<int>(),
        Fmt(a["commits_per_s"]).c_str(), Fmt(a["ratio_mirror_site_vs_commit"], "%.2f").c_str());
    std::printf(
        "| mirror apply, Applier::Apply only (entries/s) | %s | primary commit (changes/s) "
        "| %s | %s |\n",
        Fmt(a["applier_entries_per_s"]).c_str(), Fmt(a["commits_per_s"]).c_str(),
        Fmt(a["ratio_applier_vs_commit"], "%.2f").c_str());
  }
  if (r.contains("tenant_writers")) {
    const json& t = r["tenant_writers"];
    std::printf(
        "| mkdir, %d writers in %d tenants (mkdirs/s) | %s | %d writers in one tenant | %s | %s "
        "|\n",
        t["writers"].get<int>(), t["writers"].get<int>(), Fmt(t["own_tenant_mkdirs_per_s"]).c_str(),
        t["writers"].get<int>(), Fmt(t["one_tenant_mkdirs_per_s"]).c_str(),
        Fmt(t["ratio_own_vs_one"], "%.2f").c_str());
  }
  if (r.contains("latency")) {
    const json& l = r["latency"];
    for (size_t i = 0; i < l["loopback"].size(); ++i) {
      const json& lo = l["loopback"][i];
      const json& wan = l["wan"][i];
      for (const char* q : {"p50_ms", "p99_ms"}) {
        const std::string unit = RateUnit(wan);
        std::printf(
            "| latency %s, %d ms RTT, target %s %s (achieved %s) | %s ms | loopback "
            "(achieved %s) | %s ms | %s |\n",
            q, l["wan_rtt_ms"].get<int>(), Fmt(wan["target_per_s"], "%.0f").c_str(), unit.c_str(),
            Fmt(wan["achieved_per_s"], "%.0f").c_str(), Fmt(wan[q], "%.2f").c_str(),
            Fmt(lo["achieved_per_s"], "%.0f").c_str(), Fmt(lo[q], "%.2f").c_str(),
            Fmt(json(wan[q].get<double>() / lo[q].get<double>()), "%.2f").c_str());
      }
    }
  }
  if (r.contains("latency_external")) {
    for (const json& x : r["latency_external"]["runs"]) {
      const std::string unit = RateUnit(x);
      std::printf(
          "| latency p50 / p99 over the link, target %s %s (achieved %s) | %s / %s ms | - | - | - "
          "|\n",
          Fmt(x["target_per_s"], "%.0f").c_str(), unit.c_str(),
          Fmt(x["achieved_per_s"], "%.0f").c_str(), Fmt(x["p50_ms"], "%.2f").c_str(),
          Fmt(x["p99_ms"], "%.2f").c_str());
    }
  }
  if (r.contains("catchup")) {
    const json& c = r["catchup"];
    std::printf("| catch-up of %s entries (entries/s) | %s | - | - | %s s per 1M |\n",
                c["entries"].dump().c_str(), Fmt(c["entries_per_s"]).c_str(),
                Fmt(c["seconds_per_1m_entries"]).c_str());
  }
  if (r.contains("bootstrap")) {
    const json& b = r["bootstrap"];
    if (!b["completed"].get<bool>()) {
      std::printf(
          "| snapshot bootstrap of %s files | DID NOT COMPLETE in %s s (mirror peer "
          "timeout %d ms) | - | - | - |\n",
          b["files"].dump().c_str(), Fmt(b["gave_up_after_s"], "%.0f").c_str(),
          b["mirror_peer_timeout_ms"].get<int>());
      return;
    }
    std::printf("| snapshot bootstrap of %s files (files/s) | %s | - | - | %s s per 1M |\n",
                b["files"].dump().c_str(), Fmt(b["files_per_s"]).c_str(),
                Fmt(b["seconds_per_1m_files"]).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("bench/changelog.sh runs this; see bench/README.md");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  using namespace meridian::bench;
  if (!FLAGS_external_primary.empty()) {
    json r = {{"bench", "changelog"}, {"latency_external", LatencyExternal()}};
    std::ofstream(FLAGS_json_out) << r.dump(1) << "\n";
    std::cout << r.dump(1) << "\n";
    PrintTable(r);
    return 0;
  }
  meridian::harness::PgCluster::Options o;
  o.durable = FLAGS_durable;
  Env env(o);
  CHECK_OK(env.primary_pg.Start());
  CHECK_OK(env.replica_pg.Start());
  env.server_keys = Must(meridian::sitelink::GenerateCurveKeyPair(), "keys");
  env.mirror_keys = Must(meridian::sitelink::GenerateCurveKeyPair(), "keys");

  char date[32];
  const time_t now = time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::localtime(&now));
  json r = {{"bench", "changelog"},
            {"date", date},
            {"cores", std::thread::hardware_concurrency()},
            {"postgresql", FLAGS_durable
                               ? "two clusters (primary, replica), fsync + synchronous_commit on"
                               : "two clusters (primary, replica), fsync, synchronous_commit and "
                                 "full_page_writes off"},
            {"site_link", "ZeroMQ CURVE, primary::RunPrimary + mirror::MirrorSite in-process"}};
  const std::string parts = FLAGS_parts;
  auto want = [&](char p) { return parts.find(p) != std::string::npos; };
  auto save = [&] { std::ofstream(FLAGS_json_out) << r.dump(1) << "\n"; };
  if (want('1')) r["apply_vs_commit"] = CommitVsApply(env), save();
  if (want('2')) r["latency"] = Latency(env), save();
  if (want('3')) r["catchup"] = CatchUp(env), save();
  if (want('4')) r["bootstrap"] = Bootstrap(env), save();
  if (want('5')) r["tenant_writers"] = TenantWriters(env), save();
  std::cout << r.dump(1) << "\n";
  PrintTable(r);
  return 0;
}
