// Real `meridian primary`, `meridian mirror` and `meridian cache` processes
// against a peer that holds an allow-listed key and sends what no real site
// would. Proves: the primary's `status` tells a stopped daemon from an idle
// link; one mirror row that cannot be written never stops the others; rows
// no real mirror can have written are dropped; and under random
// valid-looking site-link and cache messages the primary's database
// connections and memory stay bounded, the real mirror stays identical, and
// nothing the peer said is stored unvalidated.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/site_name.h"
#include "sitelink/keys.h"
#include "sitelink/stream_protocol.h"
#include "tests/e2e/site_fixture.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {
namespace {

class HostilePeerTest : public SiteFixture {
 protected:
  // A cache node at mirror `m`, listening on `node`, serving the key
  // keys_/reader.key; started once the mirror's replica holds the volume
  // (a cache node refuses a database that holds none).
  Result<Child> StartCacheNode(const Mirror& m, const std::string& node) {
    if (!harness::WaitUntil(
            [&] {
              return PgQueryValue(m.db.url, "SELECT count(*) FROM volume").value_or("") == "1";
            },
            60s, "the mirror's replica to hold the volume")) {
      return Status::Unavailable("the mirror never received the volume");
    }
    RunResult keygen = harness::Run({MeridianBin(), "keygen", "--out=" + keys_->Sub("reader")});
    if (!keygen.ok()) return Status::Internal(keygen.Describe());
    std::ofstream(keys_->Sub("readers")) << ReadFile(keys_->Sub("reader.pub")).value();
    harness::SpawnOptions o;
    o.env = primary_.env;
    o.stdout_path = primary_.dir->Sub("cache.out");
    o.stderr_path = primary_.dir->Sub("cache.err");
    MERIDIAN_ASSIGN_OR_RETURN(
        Child cache,
        Child::Spawn({MeridianBin(), "cache", "--meta=" + m.db.url, "--listen=" + node,
                      "--key=" + keys_->Sub("primary.key"), "--allow=" + keys_->Sub("readers"),
                      "--cache-dir=" + primary_.dir->Sub("cache")},
                     o));
    if (!harness::WaitUntil(
            [&] {
              return ReadFile(o.stdout_path).value_or("").find("listening on") != std::string::npos;
            },
            10s, "the cache node to listen")) {
      return Status::Unavailable("cache node: " + ReadFile(o.stderr_path).value_or(""));
    }
    return cache;
  }
};

nlohmann::json StatusJson(const TestVolume& v) {
  RunResult r = v.Run({"status", "--json"});
  EXPECT_TRUE(r.ok()) << r.Describe();
  return r.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// Waits up to `limit` for `pred`.
template <typename Pred>
::testing::AssertionResult WaitFor(Pred pred, std::chrono::seconds limit) {
  return harness::WaitUntil(pred, limit, "the condition");
}

bool MirrorConnected(const nlohmann::json& s) {
  return s.value("daemon_running", false) && s["mirrors"].size() == 1 &&
         s["mirrors"][0]["connected"].get<bool>();
}

// Resident memory of a process, in KiB (VmRSS), 0 if unknown.
uint64_t RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST_F(HostilePeerTest, StatusAtThePrimarySaysWhenItsDaemonIsNotRunning) {
  StartPrimary();
  Mirror m = NewMirror("m1");
  ASSERT_TRUE(WaitFor([&] { return MirrorConnected(StatusJson(primary_)); }, 30s));
  // Stopped cleanly: at once.
  ASSERT_OK(primary_proc_->Kill(SIGTERM));
  ASSERT_OK(primary_proc_->Wait().status());
  nlohmann::json s = StatusJson(primary_);
  EXPECT_FALSE(s["daemon_running"].get<bool>()) << s.dump();
  EXPECT_FALSE(s["mirrors"][0]["connected"].get<bool>()) << s.dump();
  RunResult text = primary_.Run({"status"});
  EXPECT_NE(text.out.find("primary daemon not running"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("disconnected"), std::string::npos) << text.out;
  // Killed: once its liveness row is stale.
  endpoint_.clear();
  StartPrimary();
  ASSERT_OK(m.proc->Kill(SIGKILL));  // it would not find the new port anyway
  (void)m.proc->Wait();
  m.proc = std::make_unique<Child>(SpawnMirror(m, "m1").value());
  ASSERT_TRUE(WaitFor([&] { return MirrorConnected(StatusJson(primary_)); }, 30s));
  // An idle link stays "connected" (last_seen moves on with heartbeats).
  // Not a wait for a condition: 3 s of idleness is the scenario.
  std::this_thread::sleep_for(3s);
  s = StatusJson(primary_);
  EXPECT_TRUE(MirrorConnected(s)) << s.dump();
  EXPECT_LT(s["mirrors"][0]["last_seen_seconds_ago"].get<double>(), 3.0) << s.dump();
  ASSERT_OK(primary_proc_->Kill(SIGKILL));
  (void)primary_proc_->Wait();
  EXPECT_TRUE(WaitFor(
      [&] {
        nlohmann::json j = StatusJson(primary_);
        return !j["daemon_running"].get<bool>() && !j["mirrors"][0]["connected"].get<bool>();
      },
      30s))
      << StatusJson(primary_).dump();
}

TEST_F(HostilePeerTest, OneMirrorRowThatCannotBeWrittenNeverStopsTheOthers) {
  // A row no real mirror can have written (from before positions were
  // checked) holds nothing: the daemon drops it.
  ASSERT_OK(PgExec(primary_.meta_url,
                   "INSERT INTO site_mirrors VALUES ('ghost-key', 'ghost', -1, true, now())"));
  // Whichever mirror's row the daemon writes first fails to be written.
  const std::string k1 = ReadFile(keys_->Sub("m1.pub")).value();
  const std::string k2 = ReadFile(keys_->Sub("m2.pub")).value();
  const std::string first = std::min(k1, k2).substr(0, 40);
  ASSERT_OK(PgExec(primary_.meta_url,
                   "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "IF NEW.public_key = '" +
                       first +
                       "' THEN RAISE EXCEPTION 'refused'; END IF; "
                       "RETURN NEW; END $$; CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON "
                       "site_mirrors FOR EACH ROW EXECUTE FUNCTION refuse_row()"));
  StartPrimary();
  Mirror m1 = NewMirror("m1");
  Mirror m2 = NewMirror("m2");
  const std::string other = first == k1.substr(0, 40) ? "m2" : "m1";
  auto acked = [&] {
    return PgQueryValue(primary_.meta_url,
                        "SELECT coalesce((SELECT acked_pos::text FROM site_mirrors WHERE name = '" +
                            other + "'), 'none')")
        .value_or("error");
  };
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/t/d" + std::to_string(i)}).ok());
  EXPECT_TRUE(WaitFor([&] { return acked() == Head(); }, 30s))
      << other << "'s row stopped at " << acked() << ", head " << Head();
  EXPECT_EQ(PgQueryValue(primary_.meta_url,
                         "SELECT count(*) FROM site_mirrors WHERE public_key = 'ghost-key'")
                .value_or(""),
            "0");
}

// Random valid-looking site-link messages with an allow-listed key, in
// bursts of connections (some named by the key, some not) that each say
// HELLO and then a mix of well-formed and random messages.
void FuzzSiteLink(const std::string& endpoint, const sitelink::CurveKeyPair& keys,
                  const std::string& server_key, std::atomic<bool>* stop, int* sent) {
  namespace link = ::meridian::sitelink;
  zmq::context_t ctx;
  std::mt19937_64 rng(7);
  const uint64_t kPositions[] = {0, 1, 2, 50, 1000, UINT64_MAX, UINT64_MAX / 2, 1ull << 63};
  const std::string kNames[] = {
      "m2", "ok name", "\xff\xfe", "\x1b[2J", std::string(300, 'n'), std::string("a\0b", 3)};
  auto pick_pos = [&] { return rng() % 4 ? kPositions[rng() % 8] : rng(); };
  auto send = [&](zmq::socket_t& s, link::Header h, const std::string* payload) {
    zmq::multipart_t m;
    m.addstr(link::EncodeHeader(h, payload ? static_cast<uint32_t>(payload->size()) : 0));
    if (payload) m.addstr(*payload);
    (void)m.send(s, ZMQ_DONTWAIT);
    ++*sent;
  };
  while (!*stop) {
    struct Conn {
      std::unique_ptr<zmq::socket_t> s;
      uint32_t session;
    };
    std::vector<Conn> conns(1 + rng() % 20);
    for (Conn& c : conns) {
      c.s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
      c.s->set(zmq::sockopt::linger, 0);
      c.s->set(zmq::sockopt::curve_serverkey, server_key);
      c.s->set(zmq::sockopt::curve_publickey, keys.public_key);
      c.s->set(zmq::sockopt::curve_secretkey, keys.secret_key);
      c.s->set(zmq::sockopt::routing_id,
               rng() % 2 ? keys.public_key : "evil" + std::to_string(rng() % 1000000));
      c.s->connect(endpoint);
      c.session = 1 + static_cast<uint32_t>(rng() % 1000);
      link::Header h;
      h.type = link::Type::kHello;
      h.session = c.session;
      h.a = rng() % 2 ? 0 : pick_pos();  // after 0: a snapshot (short retention)
      h.credit = 1 + static_cast<uint32_t>(rng() % 64);
      std::string name = rng() % 4 ? kNames[rng() % 2] : kNames[rng() % 6];
      if (rng() % 4 == 0) name += std::string(1, '\0') + std::string(rng() % 70, 'v');
      send(*c.s, h, &name);
    }
    for (int k = 0; k < 200 && !*stop; ++k) {
      Conn& c = conns[rng() % conns.size()];
      link::Header h;
      if (rng() % 10 < 6) {  // ACK / HEARTBEAT of the session, of positions never sent
        h.type = rng() % 2 ? link::Type::kAck : link::Type::kHeartbeat;
        h.session = rng() % 4 ? c.session : static_cast<uint32_t>(rng());
        h.a = pick_pos();
        h.credit = h.type == link::Type::kAck ? static_cast<uint32_t>(rng() % 1000) : 0;
        send(*c.s, h, nullptr);
      } else {  // anything, with or without a payload
        h.type = static_cast<link::Type>(rng() % 10);
        h.session = static_cast<uint32_t>(rng() % 3);
        h.a = pick_pos();
        h.b = rng() % 2 ? 0 : rng();
        h.credit = static_cast<uint32_t>(rng());
        const std::string payload = kNames[rng() % 6];
        send(*c.s, h, rng() % 2 ? &payload : nullptr);
      }
      zmq::multipart_t in;
      while (in.recv(*c.s, ZMQ_DONTWAIT)) in.clear();  // whatever comes back
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));  // not a wait: fuzz pace
  }
}

// Random cache requests (docs/cache-protocol.md) with an allowed reader key.
void FuzzCache(const std::string& endpoint, const sitelink::CurveKeyPair& keys,
               const std::string& server_key, std::atomic<bool>* stop, int* sent) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, server_key);
  s.set(zmq::sockopt::curve_publickey, keys.public_key);
  s.set(zmq::sockopt::curve_secretkey, keys.secret_key);
  s.connect(endpoint);
  std::mt19937_64 rng(11);
  const char* kVerbs[] = {"GET", "WARM", "HAS", "EVICT", "STATS", "PUT", ""};
  while (!*stop) {
    std::string ref(50, '\0');
    for (char& c : ref) c = static_cast<char>(rng());
    if (rng() % 2) ref[0] = 1;  // the right version, random fields
    if (rng() % 3 == 0) ref.resize(rng() % 80);
    zmq::multipart_t m;
    m.addstr("");  // the REQ envelope's delimiter
    m.addstr(kVerbs[rng() % 7]);
    if (rng() % 4) m.addstr(ref);
    (void)m.send(s, ZMQ_DONTWAIT);
    zmq::multipart_t in;
    while (in.recv(s, ZMQ_DONTWAIT)) in.clear();
    ++*sent;
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 1000));  // not a wait: pace
  }
}

TEST_F(HostilePeerTest, RandomMessagesFromAnAllowedKeyLeaveEverythingBoundedAndIdentical) {
  // A namespace that takes a moment to snapshot, and a short retention:
  // any HELLO after 0 needs a snapshot.
  TempDir small("meridian-hostile-files");
  for (int i = 0; i < 3000; ++i) {
    std::ofstream(small.Sub("f" + std::to_string(i))) << i;
  }
  ASSERT_TRUE(primary_.Run({"import", small.path(), "/t/files"}, 600).ok());
  // The daemon's connections are told apart by libpq's PGAPPNAME.
  primary_.env.set["PGAPPNAME"] = "primary-under-attack";
  StartPrimary({"--log-retention=5", "--max-snapshots=2"});
  primary_.env.set.erase("PGAPPNAME");
  Mirror m = NewMirror("m1");
  ASSERT_TRUE(WaitFor([&] { return MirrorConnected(StatusJson(primary_)); }, 60s));
  const std::string node = "tcp://127.0.0.1:" + std::to_string(FreePort());
  ASSERT_OK_AND_ASSIGN(Child cache, StartCacheNode(m, node));

  auto connections = [&] {  // the primary daemon's
    return std::stoi(PgQueryValue(primary_.meta_url,
                                  "SELECT count(*) FROM pg_stat_activity"
                                  " WHERE application_name = 'primary-under-attack'")
                         .value_or("0"));
  };
  const int base_connections = connections();
  const uint64_t base_rss = RssKiB(primary_proc_->Pid());
  const uint64_t base_cache_rss = RssKiB(cache.Pid());
  ASSERT_GT(base_rss, 0u);

  std::atomic<bool> stop{false};
  int link_sent = 0, cache_sent = 0, writes = 0;
  const std::string server_key = ReadFile(keys_->Sub("primary.pub")).value().substr(0, 40);
  const auto m2 = sitelink::LoadKeyPair(keys_->Sub("m2.key")).value();
  const auto reader = sitelink::LoadKeyPair(keys_->Sub("reader.key")).value();
  std::thread link([&] { FuzzSiteLink(endpoint_, m2, server_key, &stop, &link_sent); });
  std::thread cache_fuzz([&] { FuzzCache(node, reader, server_key, &stop, &cache_sent); });
  std::thread writer([&] {
    while (!stop) writes += primary_.Run({"mkdir", "-p", "/t/w" + std::to_string(writes)}).ok();
  });
  int peak_connections = 0;
  uint64_t peak_rss = 0, peak_cache_rss = 0;
  std::set<std::string> stored;  // every site_mirrors row seen: "name|acked_pos"
  // Not a wait for a condition: 20 s of attack, sampled every 20 ms.
  for (auto end = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(20ms)) {
    peak_connections = std::max(peak_connections, connections());
    peak_rss = std::max(peak_rss, RssKiB(primary_proc_->Pid()));
    peak_cache_rss = std::max(peak_cache_rss, RssKiB(cache.Pid()));
    auto rows = PgQueryValue(primary_.meta_url,
                             "SELECT coalesce(string_agg(name || '|' || acked_pos, E'\\n'), '')"
                             " FROM site_mirrors");
    std::istringstream lines(rows.value_or(""));
    for (std::string line; std::getline(lines, line);) stored.insert(line);
  }
  stop = true;
  link.join();
  cache_fuzz.join();
  writer.join();
  EXPECT_GT(link_sent, 5000);
  EXPECT_GT(cache_sent, 3000);
  EXPECT_GT(writes, 10);
  // At most the two snapshots (--max-snapshots=2) on top of its own, each
  // with its transaction and, for a moment, a connection flushing the WAL.
  EXPECT_GE(base_connections, 3);
  EXPECT_LE(peak_connections, base_connections + 2 * 2) << "base " << base_connections;
  EXPECT_LT(peak_rss, base_rss + 64 * 1024) << "KiB; base " << base_rss;
  EXPECT_LT(peak_cache_rss, base_cache_rss + 64 * 1024) << "KiB; base " << base_cache_rss;
  EXPECT_TRUE(primary_proc_->IsRunning());
  EXPECT_TRUE(cache.IsRunning());

  RunResult v = Verify(m);
  ASSERT_TRUE(v.ok()) << v.Describe();
  EXPECT_TRUE(nlohmann::json::parse(v.out)["identical"].get<bool>()) << v.out;
  // What the primary stored of its peers: only validated values.
  // One more recording round (about once a second): the daemon's row moves
  // on twice, so a round that started after the attack has finished.
  auto daemon_row = [&] {
    return PgQueryValue(primary_.meta_url, "SELECT updated_at::text FROM site_daemon").value_or("");
  };
  for (int round = 0; round < 2; ++round) {
    const std::string before = daemon_row();
    (void)harness::WaitUntil([&] { return daemon_row() != before; }, 10s,
                             "a recording round of the primary daemon");
  }
  nlohmann::json s = StatusJson(primary_);
  const uint64_t head = std::stoull(Head());
  EXPECT_LE(s["mirrors"].size(), 2u) << s.dump();
  for (const auto& row : s["mirrors"]) {
    EXPECT_OK(CheckSiteName(row["name"].get<std::string>()));
  }
  for (const std::string& row : stored) {
    const size_t bar = row.rfind('|');
    EXPECT_TRUE(row.compare(0, bar, "m1") == 0 || row.compare(0, bar, "m2") == 0 ||
                row.compare(0, bar, "ok name") == 0)
        << row;
    const int64_t acked = std::stoll(row.substr(bar + 1));
    EXPECT_TRUE(acked >= 0 && static_cast<uint64_t>(acked) <= head) << row;
  }
  // The cache node stored nothing a random request named.
  ASSERT_OK(cache.Kill(SIGTERM));
  EXPECT_OK(cache.Wait().status());
  std::error_code ec;
  int files = 0;
  for (auto it =
           std::filesystem::recursive_directory_iterator(primary_.dir->Sub("cache/blocks"), ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    files += it->is_regular_file();
  }
  EXPECT_EQ(files, 0);
}

}  // namespace
}  // namespace meridian::e2e
