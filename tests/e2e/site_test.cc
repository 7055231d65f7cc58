// Primary and mirror sites as real processes over a real CURVE site link
// (the change log to a mirror): concurrent writers at the primary while the mirror is killed
// with SIGKILL again and again; at the end `verify` finds the sites identical
// and every entry was applied exactly once. Also: unauthorized mirrors get
// nothing, --include carries exactly its tenant, replicas refuse writes, and a
// mirror behind the retained log bootstraps from a snapshot.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/e2e/site_fixture.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {
namespace {

using SiteTest = SiteFixture;

TEST_F(SiteTest, ConcurrentWritersAndMirrorKilledTwentyTimesEndIdentical) {
  StartPrimary();
  Mirror m = NewMirror("m1");
  TempDir files("meridian-site-files");
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(WriteRandomFile(files.Sub("f" + std::to_string(i)), 1000 * i + 7, i));
  }
  std::vector<std::string> local_files;
  for (int i = 0; i < 4; ++i) local_files.push_back(files.Sub("f" + std::to_string(i)));
  std::atomic<bool> stop{false};
  std::atomic<int> ops{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {  // 8 writer processes at a time, one per thread
    writers.emplace_back([&, w] {
      std::mt19937 rng(w);
      const std::string t = w < 4 ? "/a" : "/b";
      while (!stop) {
        std::vector<std::string> args = RandomMutation(rng, t, local_files);
        primary_.Run(args, 60);  // races (a file another writer moved) may fail: fine
        ++ops;
      }
    });
  }
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until || kills < 20) {
    // Not a wait for a condition: the kill lands at a random moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 2000));
    ASSERT_OK(m.proc->Kill(SIGKILL));
    ASSERT_OK(m.proc->Wait().status());
    ++kills;
    auto c = SpawnMirror(m, "m1");
    ASSERT_OK(c.status());
    m.proc = std::make_unique<Child>(std::move(c).value());
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_GT(ops.load(), 200) << "the writers barely ran";

  RunResult v = Verify(m);
  ASSERT_TRUE(v.ok()) << v.Describe();
  auto j = nlohmann::json::parse(v.out);
  EXPECT_TRUE(j["identical"].get<bool>()) << v.out;
  EXPECT_GT(j["entries"].get<int>(), 20);
  ASSERT_OK_AND_ASSIGN(auto counts,
                       harness::PgQueryValue(m.db.conninfo,
                                             "SELECT applied_pos || ' ' || applied_changes"
                                             " FROM site_state"));
  EXPECT_EQ(counts, Head() + " " + Head()) << "an entry was applied twice or skipped";
  // The primary knows where its mirror is (it records that about once a second).
  (void)harness::WaitUntil(
      [&] {
        return harness::PgQueryValue(primary_.meta_url,
                                     "SELECT string_agg(name || ' ' || acked_pos, ',')"
                                     " FROM site_mirrors")
                   .value_or("") == "m1 " + Head();
      },
      10s, "the primary to record its mirror's position");
  RunResult st = primary_.Run({"status", "--json"});
  ASSERT_TRUE(st.ok()) << st.Describe();
  auto s = nlohmann::json::parse(st.out);
  ASSERT_EQ(s["mirrors"].size(), 1u) << st.out;
  EXPECT_EQ(s["mirrors"][0]["name"], "m1");
  EXPECT_EQ(std::to_string(s["mirrors"][0]["acked_pos"].get<uint64_t>()), Head());
}

TEST_F(SiteTest, IntrudersGetNothingSelectiveMirrorsCarryTheirTenantReplicasRefuseWrites) {
  StartPrimary();
  TempDir files("meridian-site-files");
  ASSERT_OK(WriteRandomFile(files.Sub("w"), 300000, 1));
  ASSERT_TRUE(primary_.Run({"import", files.Sub("w"), "/a/model/w.bin"}).ok());
  ASSERT_TRUE(primary_.Run({"import", files.Sub("w"), "/b/other/w.bin"}).ok());
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/a/empty/dir"}).ok());

  Mirror intruder = NewMirror("intruder");  // a valid key, not on the allow-list
  Mirror selective = NewMirror("m2", {"--include=/a"});
  RunResult v = Verify(selective, "/a");
  ASSERT_TRUE(v.ok()) << v.Describe();
  EXPECT_TRUE(nlohmann::json::parse(v.out)["identical"].get<bool>());
  TestVolume as_mirror;  // the CLI pointed at the mirror's replica
  as_mirror.meta_url = selective.db.url;
  as_mirror.env = primary_.env;
  EXPECT_NE(as_mirror.Run({"ls", "/b"}).exit_code, 0) << "the selective mirror holds /b";
  ASSERT_OK_AND_ASSIGN(std::string sha, as_mirror.CatSha256("/a/model/w.bin"));
  ASSERT_OK_AND_ASSIGN(std::string want, Sha256File(files.Sub("w")));
  EXPECT_EQ(sha, want) << "reads at the mirror come from the primary bucket";
  for (std::vector<std::string> w :
       std::vector<std::vector<std::string>>{{"mkdir", "/a/new"},
                                             {"rm", "/a/model/w.bin"},
                                             {"mv", "/a/model", "/a/m2"},
                                             {"ln", "-s", "x", "/a/l"},
                                             {"import", files.Sub("w"), "/a/x"}}) {
    RunResult r = as_mirror.Run(w);
    EXPECT_EQ(r.exit_code, 3) << w[0] << ": a write where this site owns nothing";
    EXPECT_NE(r.err.find("tenant /a is owned by site 'home'"), std::string::npos) << r.err;
  }
  // A top-level entry belongs to the root's log.
  RunResult top = as_mirror.Run({"mkdir", "/newtop"});
  EXPECT_EQ(top.exit_code, 3);
  EXPECT_NE(top.err.find("the volume root (top-level entries) is owned by site 'home'"),
            std::string::npos)
      << top.err;
  auto pos = harness::PgQueryValue(intruder.db.conninfo, "SELECT applied_pos FROM site_state");
  EXPECT_TRUE(!pos.ok() || *pos == "0") << "the intruder received entries";
  EXPECT_TRUE(intruder.proc->IsRunning()) << "the intruder should keep trying, quietly";
}

TEST_F(SiteTest, AMirrorBehindTheRetainedLogBootstrapsFromASnapshot) {
  // A spool directory that is not one: refused at start, saying which.
  RunResult bad =
      primary_.Run({"primary", "--listen=tcp://127.0.0.1:0", "--key=" + keys_->Sub("primary.key"),
                    "--allow=" + keys_->Sub("allow"), "--snapshot-spool-dir=/nonexistent/spool"});
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
  EXPECT_NE(bad.err.find("--snapshot-spool-dir /nonexistent/spool: not a writable directory"),
            std::string::npos)
      << bad.err;
  TempDir spool("meridian-spool");
  StartPrimary({"--log-retention=5", "--snapshot-spool-dir=" + spool.path()});
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        primary_.Run({"mkdir", "-p", "/a/d" + std::to_string(i % 7) + "/e" + std::to_string(i)})
            .ok());
  }
  (void)harness::WaitUntil(  // retention runs once a second
      [&] {
        auto o = harness::PgQueryValue(primary_.meta_url, "SELECT min(pos) FROM changelog");
        return o.ok() && !o->empty() && std::stoi(*o) > 2;
      },
      10s, "log retention to truncate the log");
  ASSERT_OK_AND_ASSIGN(auto oldest,
                       harness::PgQueryValue(primary_.meta_url, "SELECT min(pos) FROM changelog"));
  ASSERT_GT(std::stoi(oldest), 2) << "the log was not truncated";
  Mirror late = NewMirror("m1");
  RunResult v = Verify(late);
  ASSERT_TRUE(v.ok()) << v.Describe();
  EXPECT_TRUE(nlohmann::json::parse(v.out)["identical"].get<bool>()) << v.out;
  ASSERT_OK_AND_ASSIGN(
      auto snap, harness::PgQueryValue(late.db.conninfo, "SELECT snapshot_pos FROM site_state"));
  EXPECT_NE(snap, "0") << "it caught up without a snapshot?";
  // And it keeps following live changes after the snapshot.
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/a/after"}).ok());
  RunResult v2 = Verify(late);
  ASSERT_TRUE(v2.ok()) << v2.Describe();
}

// A mirror never follows a primary that is not the one it mirrored: one of
// another volume refuses it (HELLO carries the replica's volume uuid), and a
// primary restored from an older backup (its log ends before the mirror's
// position) makes the mirror stop. Both exit 1 saying what to do.
TEST_F(SiteTest, AMirrorRefusesAnotherVolumeAndAPrimaryBehindIt) {
  StartPrimary();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/a/d" + std::to_string(i)}).ok());
  Mirror m = NewMirror("m1");
  ASSERT_TRUE(Verify(m).ok());
  ASSERT_OK(m.proc->Kill(SIGTERM));
  ASSERT_OK(m.proc->Wait().status());
  const std::string own = endpoint_;
  auto replica_state = [&] {
    return harness::PgQueryValue(m.db.conninfo,
                                 "SELECT applied_pos || '/' || (SELECT count(*) FROM dentries)"
                                 " FROM site_state")
        .value_or("?");
  };
  const std::string before = replica_state();
  auto run_mirror_until_exit = [&](const std::string& at) -> std::string {
    endpoint_ = at;
    auto c = SpawnMirror(m, "m1");
    EXPECT_OK(c.status());
    if (!c.ok()) return "";
    auto ex = c->Wait(60);
    EXPECT_TRUE(ex.ok() && ex->ToString() == "exit 1")
        << (ex.ok() ? ex->ToString() : ex.status().ToString());
    return ReadFile(primary_.dir->Sub("m1.err")).value_or("");
  };

  // Another volume's primary (same keys, so CURVE lets the mirror in).
  ASSERT_OK_AND_ASSIGN(TestVolume other, MakeVolume(BucketKind::kFile));
  std::string other_endpoint;
  ASSERT_OK_AND_ASSIGN(auto other_proc, SpawnPrimary(other, {}, &other_endpoint));
  std::string err = run_mirror_until_exit(other_endpoint);
  EXPECT_NE(err.find("follows volume"), std::string::npos) << err;
  EXPECT_EQ(replica_state(), before) << "the replica changed";

  // The own primary, restored from an older backup: its log ends at 3.
  ASSERT_OK(harness::PgExec(primary_.meta_url,
                            "DELETE FROM changelog WHERE pos > 3; UPDATE write_lock SET head = 3"));
  err = run_mirror_until_exit(own);
  EXPECT_NE(err.find("lost changes this mirror has"), std::string::npos) << err;
  EXPECT_EQ(replica_state(), before) << "the replica changed";
}

TEST_F(SiteTest, StatusAtAMirrorShowsItsLagAndLink) {
  StartPrimary();
  Mirror m = NewMirror("m1");
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/a/b/c"}).ok());
  ASSERT_TRUE(Verify(m).ok());
  auto status = [&]() -> nlohmann::json {
    RunResult r = harness::Run({MeridianBin(), "status", "--json", "--meta=" + m.db.url});
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };
  // Live: what the daemon recorded about its link (about once a second).
  nlohmann::json s;
  (void)harness::WaitUntil(
      [&] {
        s = status();
        return s.value("connected", false);
      },
      10s, "the mirror to record its link as connected");
  EXPECT_EQ(s["role"], "mirror");
  EXPECT_EQ(s["site"], "m1");
  EXPECT_TRUE(s["daemon_running"].get<bool>()) << s;
  EXPECT_TRUE(s["connected"].get<bool>()) << s;
  EXPECT_EQ(std::to_string(s["primary_head"].get<uint64_t>()), Head()) << s;
  EXPECT_EQ(s["lag_entries"], 0) << s;
  EXPECT_EQ(s["lag_seconds"], 0.0) << s;
  // A clean stop records the link as down.
  ASSERT_OK(m.proc->Kill(SIGTERM));
  ASSERT_OK(m.proc->Wait().status());
  s = status();
  EXPECT_FALSE(s["connected"].get<bool>()) << s;
  RunResult human = harness::Run({MeridianBin(), "status", "--meta=" + m.db.url});
  EXPECT_NE(human.out.find("disconnected"), std::string::npos) << human.out;
  // Behind by 5 entries as last announced, and a daemon that stopped
  // updating its link row: the lag and the dead daemon both show.
  ASSERT_TRUE(harness::PgQueryValue(m.db.conninfo,
                                    "UPDATE site_link SET primary_head = primary_head + 5,"
                                    " connected = true, updated_at = now() RETURNING 1")
                  .ok());
  s = status();
  EXPECT_EQ(s["lag_entries"], 5) << s;
  EXPECT_GT(s["lag_seconds"].get<double>(), 0.0) << s;
  EXPECT_TRUE(s["connected"].get<bool>()) << s;
  ASSERT_TRUE(harness::PgQueryValue(m.db.conninfo,
                                    "UPDATE site_link SET updated_at = now() - interval '1 minute'"
                                    " RETURNING 1")
                  .ok());
  s = status();
  EXPECT_FALSE(s["daemon_running"].get<bool>()) << s;
  EXPECT_FALSE(s["connected"].get<bool>()) << s;
  human = harness::Run({MeridianBin(), "status", "--meta=" + m.db.url});
  EXPECT_NE(human.out.find("mirror daemon not running"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("5 entries"), std::string::npos) << human.out;
}

TEST_F(SiteTest, DaemonsServePrometheusMetrics) {
  StartPrimary({"--metrics=127.0.0.1:0"});
  Mirror m = NewMirror("m1", {"--metrics=127.0.0.1:0"});
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/a/b/c"}).ok());
  ASSERT_TRUE(Verify(m).ok());
  auto scrape = [](const std::string& log) -> std::string {
    auto p = log.find("metrics on ");
    if (p == std::string::npos) return "no metrics address in: " + log;
    std::string url = log.substr(p + 11, log.find('\n', p) - p - 11);
    return harness::Run({"curl", "-sf", url}).out;
  };
  const std::string head = Head();
  (void)harness::WaitUntil(  // gauges refresh about once a second
      [&] {
        std::string p = scrape(primary_proc_->ReadStderr());
        std::string q = scrape(ReadFile(primary_.dir->Sub("m1.err")).value_or(""));
        return p.find("meridian_mirror_acked_position{mirror=\"m1\"} " + head) != p.npos &&
               p.find("meridian_mirror_lag_entries{mirror=\"m1\"} 0") != p.npos &&
               q.find("meridian_mirror_applied_position " + head) != q.npos &&
               q.find("meridian_mirror_connected 1") != q.npos;
      },
      10s, "the gauges to show the mirror caught up");
  std::string pm = scrape(primary_proc_->ReadStderr());
  EXPECT_NE(pm.find("meridian_changelog_head_position " + head), std::string::npos) << pm;
  EXPECT_NE(pm.find("meridian_mirror_acked_position{mirror=\"m1\"} " + head), std::string::npos)
      << pm;
  EXPECT_NE(pm.find("meridian_mirror_lag_entries{mirror=\"m1\"} 0"), std::string::npos) << pm;
  std::string mm = scrape(ReadFile(primary_.dir->Sub("m1.err")).value());
  EXPECT_NE(mm.find("meridian_mirror_applied_position " + head), std::string::npos) << mm;
  EXPECT_NE(mm.find("meridian_mirror_connected 1"), std::string::npos) << mm;
  // Per tenant, at both sites: the same heads and epochs; owned at the primary only.
  const std::string a_head =
      harness::PgQueryValue(primary_.meta_url,
                            "SELECT t.head FROM tenants t JOIN dentries d ON d.ino = t.tenant_id"
                            " WHERE d.parent = 1 AND d.name = 'a'")
          .value_or("?");
  ASSERT_EQ(a_head, "1") << "mkdir -p /a/b/c: /a in the root's log, b/c in /a's";
  (void)harness::WaitUntil(
      [&] {
        mm = scrape(ReadFile(primary_.dir->Sub("m1.err")).value_or(""));
        return mm.find("meridian_tenant_head_position{tenant=\"/a\"} 1") != mm.npos;
      },
      10s, "the mirror's tenant gauges");
  pm = scrape(primary_proc_->ReadStderr());
  for (const char* want :
       {"meridian_tenant_head_position{tenant=\"/a\"} 1", "meridian_tenant_epoch{tenant=\"/a\"} 1",
        "meridian_tenant_epoch{tenant=\"/\"} 1"}) {
    EXPECT_NE(pm.find(want), std::string::npos) << want << "\n" << pm;
    EXPECT_NE(mm.find(want), std::string::npos) << want << "\n" << mm;
  }
  EXPECT_NE(pm.find("meridian_tenant_owned_here{tenant=\"/a\"} 1"), std::string::npos) << pm;
  EXPECT_NE(mm.find("meridian_tenant_owned_here{tenant=\"/a\"} 0"), std::string::npos) << mm;
}

// SIGTERM, then a restart on the same ports as soon as it has exited (what a
// service manager does): the daemon must let go of its site-link port and
// its metrics port at once, however far into its once-a-second work it was.
TEST_F(SiteTest, APrimaryStoppedWithSigtermCanBeRestartedAtOnceOnItsPorts) {
  StartPrimary({"--metrics=127.0.0.1:0"});
  const std::string log = primary_proc_->ReadStderr();
  const size_t p = log.find("metrics on ");
  ASSERT_NE(p, std::string::npos) << log;
  const std::string url = log.substr(p + 11, log.find('\n', p) - p - 11);
  const std::string metrics = url.substr(7, url.rfind('/') - 7);  // HOST:PORT
  const std::string listen = endpoint_;
  Mirror m = NewMirror("m1");
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/r/" + std::to_string(round)}).ok());
    ASSERT_TRUE(Verify(m).ok());
    // Not a wait for a condition: SIGTERM at any moment of the daemon's work.
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + 450 * round));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_OK(primary_proc_->Kill(SIGTERM));
    ASSERT_OK_AND_ASSIGN(auto ex, primary_proc_->Wait(10));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(ex.ToString(), "exit 0");
    EXPECT_LT(secs, 0.5) << "round " << round << ": SIGTERM to exit";
    std::string again;
    auto c = SpawnPrimary(primary_, {"--listen=" + listen, "--metrics=" + metrics}, &again);
    ASSERT_OK(c.status());
    primary_proc_ = std::make_unique<Child>(std::move(c).value());
    EXPECT_EQ(again, listen);
  }
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/r/last"}).ok());
  EXPECT_TRUE(Verify(m).ok());  // the mirror reconnected to the restarted primary
  RunResult r = harness::Run({"curl", "-sf", "--max-time", "5", url});
  EXPECT_TRUE(r.ok()) << r.Describe();
}

// The same for a mirror with metrics: stopped at any moment, it exits at
// once and a restart carries on.
TEST_F(SiteTest, AMirrorStoppedWithSigtermExitsAtOnce) {
  StartPrimary();
  Mirror m = NewMirror("m1", {"--metrics=127.0.0.1:0"});
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/r/" + std::to_string(round)}).ok());
    ASSERT_TRUE(Verify(m).ok());
    // Not a wait for a condition: SIGTERM at any moment of the daemon's work.
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + 300 * round));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_OK(m.proc->Kill(SIGTERM));
    ASSERT_OK_AND_ASSIGN(auto ex, m.proc->Wait(10));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(ex.ToString(), "exit 0");
    EXPECT_LT(secs, 0.5) << "round " << round << ": SIGTERM to exit";
    ASSERT_OK_AND_ASSIGN(Child c, SpawnMirror(m, "m1", {"--metrics=127.0.0.1:0"}));
    m.proc = std::make_unique<Child>(std::move(c));
  }
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/r/last"}).ok());
  EXPECT_TRUE(Verify(m).ok());
}

// Clients that trickle a request one byte a second (slow-loris) must not
// take /metrics away from a scraper: each holds a serving thread only until
// the per-request timeout, and there are threads to spare meanwhile.
TEST_F(SiteTest, MetricsAnswerWhileSlowClientsHoldConnections) {
  StartPrimary({"--metrics=127.0.0.1:0"});
  const std::string log = primary_proc_->ReadStderr();
  const size_t p = log.find("metrics on ");
  ASSERT_NE(p, std::string::npos) << log;
  const std::string url = log.substr(p + 11, log.find('\n', p) - p - 11);
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  std::atomic<bool> stop{false};
  std::atomic<int> closed_by_server{0};
  std::vector<std::thread> slow;
  std::atomic<int> connected{0};
  for (int i = 0; i < 3; ++i) {
    slow.emplace_back([&] {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return (void)close(fd);
      ++connected;
      const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
      for (size_t k = 0; !stop.load(); ++k) {  // one byte a second, never the end of headers
        const char c = k < req.size() ? req[k] : 'a';
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
          ++closed_by_server;
          break;
        }
        // Not a wait for a condition: the slow client's pace (1 byte/s).
        for (int t = 0; t < 10 && !stop.load(); ++t) std::this_thread::sleep_for(100ms);
      }
      close(fd);
    });
  }
  (void)harness::WaitUntil([&] { return connected.load() >= 3; }, 1s, "3 slow clients");
  ASSERT_EQ(connected.load(), 3);
  // Not a wait for a condition: the server holds them a while, bytes trickling.
  std::this_thread::sleep_for(1500ms);
  // Scrapes while they trickle: each answers at once.
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    RunResult r = harness::Run({"curl", "-sf", "--max-time", "5", url});
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_NE(r.out.find("meridian_changelog_head_position"), std::string::npos) << r.out;
    EXPECT_LT(secs, 1.0) << "scrape " << i << " waited behind the slow clients";
  }
  // And the slow clients are dropped: a request must arrive within its
  // timeout (the server closes; a send then fails), bounded here by 20 s.
  (void)harness::WaitUntil([&] { return closed_by_server.load() >= 3; }, 20s,
                           "the server to drop the slow clients");
  EXPECT_EQ(closed_by_server.load(), 3);
  stop = true;
  for (auto& t : slow) t.join();
}

}  // namespace
}  // namespace meridian::e2e
