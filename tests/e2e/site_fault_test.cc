// Faults between and under the sites, as real processes (like site_test.cc):
//   - the TcpProxy itself (tests/harness/tcp_proxy.h): bytes intact, delay,
//     bandwidth cap, black-hole partition and cut;
//   - a 20 s partition of the site link while writers commit at the primary:
//     the mirror keeps serving reads of its (frozen) state and catches up after;
//   - `meridian primary` killed (SIGKILL, SIGTERM) under load and restarted on
//     the same port: the mirror reconnects by itself, nothing applied twice;
//   - the primary's PostgreSQL restarted (fast shutdown, and crash) under load:
//     the daemon's LISTEN connection and log source reconnect.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/harness/pg_cluster.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/tcp_proxy.h"
#include "tests/harness/wait.h"

namespace meridian::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// ---------------------------------------------------------------------------
// TcpProxy unit tests, against an echo server.

class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 16) != 0) abort();
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        conns_.emplace_back([c] {
          char buf[65536];
          ssize_t n;
          while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
            if (send(c, buf, n, MSG_NOSIGNAL) != n) break;
          }
          close(c);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
    for (auto& t : conns_) t.join();  // every client closes its connection first
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads up to `n` bytes within `timeout`: the bytes, or fewer on EOF/reset/timeout.
std::string RecvFor(int fd, size_t n, std::chrono::milliseconds timeout, int* err = nullptr) {
  std::string out;
  auto until = Clock::now() + timeout;
  char buf[65536];
  while (out.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left.count()) <= 0) break;
    ssize_t r = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) {
      if (err) *err = r == 0 ? 0 : errno;
      break;
    }
    out.append(buf, r);
  }
  return out;
}

bool Ping(int fd, char c, std::chrono::milliseconds timeout = 2000ms) {
  return send(fd, &c, 1, MSG_NOSIGNAL) == 1 && RecvFor(fd, 1, timeout) == std::string(1, c);
}

harness::TcpProxy::Options ProxyTo(int port, std::chrono::milliseconds delay = 0ms) {
  harness::TcpProxy::Options o;
  o.target_port = port;
  o.delay_up = o.delay_down = delay;
  return o;
}

TEST(TcpProxyTest, OneMebibytePassesIntactWithAndWithoutARateCap) {
  EchoServer echo;
  std::string data(1 << 20, '\0');
  std::mt19937_64 rng(42);
  for (auto& ch : data) ch = static_cast<char>(rng());
  for (uint64_t rate : {uint64_t{0}, uint64_t{4'000'000}}) {
    auto o = ProxyTo(echo.port(), 5ms);
    o.rate_up = o.rate_down = rate;
    ASSERT_OK_AND_ASSIGN(auto proxy, harness::TcpProxy::Start(o));
    int fd = ConnectTo(proxy->port());
    ASSERT_GE(fd, 0);
    auto t0 = Clock::now();
    std::thread writer([&] {
      for (size_t off = 0; off < data.size();) {
        ssize_t n =
            send(fd, data.data() + off, std::min<size_t>(100000, data.size() - off), MSG_NOSIGNAL);
        if (n <= 0) break;
        off += n;
      }
      shutdown(fd, SHUT_WR);  // the FIN travels through; the echo server closes; we see EOF
    });
    int err = -1;
    std::string got = RecvFor(fd, data.size() + 1, 30s, &err);
    double secs = Seconds(t0);
    writer.join();
    close(fd);
    EXPECT_EQ(err, 0) << "expected EOF after the echo";
    ASSERT_EQ(got.size(), data.size()) << "rate " << rate;
    EXPECT_TRUE(got == data) << "bytes changed on the way, rate " << rate;
    EXPECT_EQ(proxy->stats().bytes_up, data.size());
    if (rate > 0) {  // each direction carries 1 MiB at `rate`; they overlap
      EXPECT_GE(secs, 0.8 * data.size() / rate) << "the rate cap does not hold";
      EXPECT_LE(secs, 3.0 * data.size() / rate + 1);
    }
    std::cerr << "1 MiB echoed, rate " << rate << " B/s: " << secs << " s\n";
  }
}

TEST(TcpProxyTest, RoundTripTakesAtLeastTheConfiguredDelays) {
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto proxy, harness::TcpProxy::Start(ProxyTo(echo.port(), 25ms)));
  int fd = ConnectTo(proxy->port());
  ASSERT_GE(fd, 0);
  double min_rtt = 1e9;
  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    ASSERT_TRUE(Ping(fd, 'a' + i));
    double rtt = Seconds(t0);
    EXPECT_GE(rtt, 0.050) << "ping " << i;
    min_rtt = std::min(min_rtt, rtt);
  }
  EXPECT_LT(min_rtt, 0.150);
  proxy->SetDelay(0ms, 0ms);
  ASSERT_TRUE(Ping(fd, 'x'));  // may still carry bytes stamped with the old delay
  auto t0 = Clock::now();
  ASSERT_TRUE(Ping(fd, 'y'));
  EXPECT_LT(Seconds(t0), 0.025);
  close(fd);
}

TEST(TcpProxyTest, PartitionHoldsConnectionsAndResumeDeliversWhatWasHeld) {
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto proxy, harness::TcpProxy::Start(ProxyTo(echo.port())));
  int a = ConnectTo(proxy->port());
  ASSERT_TRUE(Ping(a, '1'));
  proxy->SetPartitioned(true);
  ASSERT_EQ(send(a, "2", 1, MSG_NOSIGNAL), 1);
  int b = ConnectTo(proxy->port());  // accepted, but not connected through
  ASSERT_GE(b, 0);
  ASSERT_EQ(send(b, "3", 1, MSG_NOSIGNAL), 1);
  int err = -1;
  EXPECT_EQ(RecvFor(a, 1, 700ms, &err), "") << "traffic crossed the partition";
  EXPECT_EQ(err, -1) << "the held connection was closed";
  EXPECT_EQ(RecvFor(b, 1, 100ms), "");
  proxy->SetPartitioned(false);
  EXPECT_EQ(RecvFor(a, 1, 2s), "2");
  EXPECT_EQ(RecvFor(b, 1, 2s), "3");
  EXPECT_TRUE(Ping(a, '4'));
  EXPECT_EQ(proxy->stats().active, 2u);
  close(a);
  close(b);
}

TEST(TcpProxyTest, CutResetsConnectionsAndRefusesNewOnesUntilHealed) {
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto proxy, harness::TcpProxy::Start(ProxyTo(echo.port())));
  int a = ConnectTo(proxy->port());
  ASSERT_TRUE(Ping(a, '1'));
  proxy->SetPartitioned(true, /*cut=*/true);
  int err = -1;
  EXPECT_EQ(RecvFor(a, 1, 2s, &err), "");
  EXPECT_EQ(err, ECONNRESET) << "the connection was not reset";
  close(a);
  int b = ConnectTo(proxy->port());  // the kernel accepts; the proxy resets it at once
  if (b >= 0) {
    err = -1;
    send(b, "x", 1, MSG_NOSIGNAL);
    EXPECT_EQ(RecvFor(b, 1, 2s, &err), "");
    EXPECT_NE(err, -1) << "a new connection got through a cut link";
    close(b);
  }
  proxy->SetPartitioned(false);
  int c = ConnectTo(proxy->port());
  EXPECT_TRUE(Ping(c, '2'));
  close(c);
}

// ---------------------------------------------------------------------------
// Sites.

class SiteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = std::make_unique<TempDir>("meridian-keys");
    for (const char* k : {"primary", "m1"}) {
      RunResult r = harness::Run({MeridianBin(), "keygen", "--out=" + keys_->Sub(k)});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    std::ofstream(keys_->Sub("allow")) << ReadFile(keys_->Sub("m1.pub")).value();
    tmp_ = std::make_unique<TempDir>("meridian-fault-files");
    ASSERT_OK(WriteRandomFile(tmp_->Sub("small"), 5000, 1));
    ASSERT_OK(WriteRandomFile(tmp_->Sub("big"), 300000, 2));
  }

  void TearDown() override {
    StopWriters();
    if (HasFailure()) {
      for (const char* f : {"primary.log", "m1.log"}) {
        auto s = ReadFile(log_dir_.Sub(f));
        if (!s.ok()) continue;
        std::string t = s->size() > 6000 ? s->substr(s->size() - 6000) : *s;
        std::cerr << "---- tail of " << f << " ----\n" << t << "\n";
      }
    }
  }

  // The primary volume on the shared cluster, or on `pg` (a cluster of its own).
  void MakePrimaryVolume(harness::PgCluster* pg = nullptr) {
    if (pg == nullptr) {
      ASSERT_OK_AND_ASSIGN(primary_, MakeVolume(BucketKind::kFile));
      primary_conninfo_ = "";
      return;
    }
    ASSERT_OK_AND_ASSIGN(harness::PgDatabase db, pg->CreateDatabase("primary"));
    primary_.meta_url = db.url;
    primary_.name = "vol";
    primary_.dir = std::make_unique<TempDir>("meridian-e2e");
    RunResult r = primary_.Run({"format", "--bucket=file://" + primary_.dir->Sub("bucket"), "vol"});
    ASSERT_TRUE(r.ok()) << r.Describe();
    primary_conninfo_ = db.conninfo;
  }
  std::string PrimaryConninfo() const {
    return primary_conninfo_.empty() ? primary_.meta_url : primary_conninfo_;
  }

  // Starts `meridian primary` on `listen`; returns once it prints its address
  // (endpoint_). Output of every run goes to one log.
  void StartPrimary(const std::string& listen = "tcp://127.0.0.1:0") {
    harness::SpawnOptions o;
    o.env = primary_.env;
    o.stdout_path = o.stderr_path = log_dir_.Sub("primary.log");
    o.append = true;
    const size_t before = CountListening();
    auto c = Child::Spawn(
        {MeridianBin(), "primary", "--listen=" + listen, "--key=" + keys_->Sub("primary.key"),
         "--allow=" + keys_->Sub("allow"), "--meta=" + primary_.meta_url},
        o);
    ASSERT_OK(c.status());
    primary_proc_ = std::make_unique<Child>(std::move(c).value());
    (void)harness::WaitUntil(
        [&] { return CountListening() != before || !primary_proc_->IsRunning(); }, 15s,
        "the primary to listen");
    ASSERT_TRUE(primary_proc_->IsRunning()) << ReadFile(log_dir_.Sub("primary.log")).value();
    std::string log = ReadFile(log_dir_.Sub("primary.log")).value();
    auto p = log.rfind("listening on ");
    ASSERT_NE(p, std::string::npos) << log;
    endpoint_ = log.substr(p + 13, log.find('\n', p) - p - 13);
  }
  size_t CountListening() {
    auto s = ReadFile(log_dir_.Sub("primary.log"));
    size_t n = 0;
    for (size_t p = 0; s.ok() && (p = s->find("listening on ", p)) != std::string::npos; ++p) ++n;
    return n;
  }

  void StartMirror(const std::string& primary_endpoint) {
    ASSERT_OK_AND_ASSIGN(replica_, harness::NewTestDatabase());
    harness::SpawnOptions o;
    o.stdout_path = o.stderr_path = log_dir_.Sub("m1.log");
    o.append = true;
    auto c =
        Child::Spawn({MeridianBin(), "mirror", "--meta=" + replica_.url,
                      "--primary=" + primary_endpoint, "--primary-key=" + keys_->Sub("primary.pub"),
                      "--key=" + keys_->Sub("m1.key"), "--name=m1"},
                     o);
    ASSERT_OK(c.status());
    mirror_proc_ = std::make_unique<Child>(std::move(c).value());
    as_mirror_.meta_url = replica_.url;
    as_mirror_.env = primary_.env;
  }

  // `n` writer threads, each running one `meridian` write at a time on /a, /b.
  void StartWriters(int n) {
    stop_writers_ = false;
    for (int w = 0; w < n; ++w) {
      writers_.emplace_back([this, w] {
        std::mt19937 rng(w);
        const std::string t = w % 2 ? "/b" : "/a";
        while (!stop_writers_) {
          std::vector<std::string> args = RandomMutation(
              rng, t, std::vector<std::string>{tmp_->Sub("small"), tmp_->Sub("big")});
          RunResult r = primary_.Run(args, 60);  // races and outages may fail: fine
          ++ops_;
          if (r.ok()) {
            ++ok_ops_;
          } else {
            // Not a wait for a condition: no busy loop while the database is down.
            std::this_thread::sleep_for(50ms);
          }
        }
      });
    }
  }
  void StopWriters() {
    stop_writers_ = true;
    for (auto& t : writers_) t.join();
    writers_.clear();
  }

  // The primary's head, retried through outages.
  uint64_t Head() {
    Result<std::string> h = Status::Unavailable("not read yet");
    if (harness::WaitUntil(
            [&] {
              h = harness::PgQueryValue(PrimaryConninfo(), "SELECT head FROM write_lock");
              return h.ok();
            },
            30s, "the primary's database")) {
      return std::stoull(*h);
    }
    ADD_FAILURE() << "cannot read the primary's head";
    return 0;
  }
  // The mirror's applied position (0 before its schema exists).
  uint64_t Applied() {
    auto p = harness::PgQueryValue(replica_.conninfo, "SELECT applied_pos FROM site_state");
    return p.ok() ? std::stoull(*p) : 0;
  }
  // Waits until the mirror has applied `pos`; false after `timeout`.
  bool WaitApplied(uint64_t pos, std::chrono::seconds timeout) {
    return harness::WaitUntil([&] { return Applied() >= pos; }, timeout,
                              "the mirror to apply " + std::to_string(pos));
  }

  // verify reports identical, and every entry was applied exactly once.
  void ExpectIdenticalExactlyOnce() {
    RunResult v =
        primary_.Run({"verify", "--json", "--timeout=90", "--replica=" + replica_.url}, 120);
    ASSERT_TRUE(v.ok() || (v.exit_code == 1 && !v.out.empty())) << v.Describe();
    auto j = nlohmann::json::parse(v.out);
    EXPECT_TRUE(j["identical"].get<bool>()) << "verify: " << v.out;
    EXPECT_GT(j["entries"].get<int>(), 5) << v.out;
    const std::string head = std::to_string(Head());
    ASSERT_OK_AND_ASSIGN(auto counts,
                         harness::PgQueryValue(replica_.conninfo,
                                               "SELECT applied_pos || ' ' || applied_changes"
                                               " FROM site_state"));
    EXPECT_EQ(counts, head + " " + head) << "applied_pos applied_changes vs the head";
  }

  TempDir log_dir_{"meridian-fault-logs"};
  std::unique_ptr<TempDir> keys_, tmp_;
  TestVolume primary_;
  std::string primary_conninfo_;  // set when the primary has a cluster of its own
  std::unique_ptr<Child> primary_proc_, mirror_proc_;
  std::string endpoint_;
  harness::PgDatabase replica_;
  TestVolume as_mirror_;  // the CLI pointed at the mirror's replica
  std::atomic<bool> stop_writers_{false};
  std::atomic<int> ops_{0}, ok_ops_{0};
  std::vector<std::thread> writers_;
};

TEST_F(SiteFaultTest, MirrorServesReadsThroughAPartitionAndCatchesUpAfter) {
  const auto t0 = Clock::now();
  MakePrimaryVolume();
  StartPrimary();
  ASSERT_OK_AND_ASSIGN(auto proxy,
                       harness::TcpProxy::Start(
                           ProxyTo(std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)), 5ms)));
  StartMirror(proxy->endpoint());
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/s/dir"}).ok());
  ASSERT_TRUE(primary_.Run({"import", tmp_->Sub("big"), "/s/big.bin"}).ok());
  ASSERT_OK_AND_ASSIGN(std::string want_sha, harness::Sha256File(tmp_->Sub("big")));
  StartWriters(3);
  // Not a wait for a condition: 3 s of load through the proxy.
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(WaitApplied(Head(), 30s)) << "the mirror does not follow through the proxy";

  proxy->SetPartitioned(true);
  // Not a wait for a condition (none is visible from outside): time for what
  // the mirror had received to be applied before the position is frozen.
  std::this_thread::sleep_for(1s);
  const uint64_t frozen = Applied();
  const uint64_t head_at_partition = Head();
  RunResult ls0 = as_mirror_.Run({"ls", "-l", "/a"});
  ASSERT_TRUE(ls0.ok()) << ls0.Describe();
  auto part_start = Clock::now();
  int reads = 0;
  while (Seconds(part_start) < 19) {
    RunResult ls = as_mirror_.Run({"ls", "-l", "/a"});
    ASSERT_TRUE(ls.ok()) << "ls at the mirror during the partition: " << ls.Describe();
    EXPECT_EQ(ls.out, ls0.out) << "the mirror's /a changed during the partition";
    RunResult s = as_mirror_.Run({"ls", "/s"});
    ASSERT_TRUE(s.ok()) << s.Describe();
    EXPECT_EQ(s.out, "big.bin\ndir/\n");
    ASSERT_OK_AND_ASSIGN(std::string sha, as_mirror_.CatSha256("/s/big.bin"));
    EXPECT_EQ(sha, want_sha);
    EXPECT_EQ(Applied(), frozen) << "the mirror advanced through a partition";
    ++reads;
    // Not a wait for a condition: the pace of reads through the partition.
    std::this_thread::sleep_for(1500ms);
  }
  const uint64_t head_before_heal = Head();
  EXPECT_GT(head_before_heal, head_at_partition + 10) << "the writers did not commit meanwhile";
  EXPECT_GE(reads, 5);

  proxy->SetPartitioned(false);
  auto heal = Clock::now();
  bool caught_up = WaitApplied(head_before_heal, 60s);
  const double catch_up_s = Seconds(heal);
  EXPECT_TRUE(caught_up) << "no catch-up within 60 s of healing; applied " << Applied() << " of "
                         << head_before_heal;
  // Not a wait for a condition: 2 s of following live changes again.
  std::this_thread::sleep_for(2s);
  // A cut link (connections reset, new ones refused) for a few seconds, too.
  proxy->SetPartitioned(true, /*cut=*/true);
  std::this_thread::sleep_for(4s);  // not a wait for a condition: how long the cut lasts
  proxy->SetPartitioned(false);
  const uint64_t head_before_cut_heal = Head();
  heal = Clock::now();
  EXPECT_TRUE(WaitApplied(head_before_cut_heal, 60s)) << "no catch-up after a cut link";
  const double cut_catch_up_s = Seconds(heal);
  StopWriters();
  ExpectIdenticalExactlyOnce();
  std::cerr << "partition: frozen at " << frozen << ", head went " << head_at_partition << " -> "
            << head_before_heal << "; caught up " << catch_up_s << " s after healing ("
            << cut_catch_up_s << " s after a cut); " << ok_ops_ << "/" << ops_ << " writes ok; "
            << proxy->stats().accepted << " connections through the proxy; total " << Seconds(t0)
            << " s\n";
}

TEST_F(SiteFaultTest, PrimaryDaemonKilledAndRestartedOnTheSamePortUnderLoad) {
  const auto t0 = Clock::now();
  MakePrimaryVolume();
  StartPrimary();
  const std::string first_endpoint = endpoint_;
  ASSERT_NE(first_endpoint.find("127.0.0.1:"), std::string::npos) << first_endpoint;
  StartMirror(endpoint_);
  StartWriters(3);
  std::vector<std::string> timings;
  for (int sig : {SIGKILL, SIGTERM, SIGKILL, SIGTERM}) {
    std::this_thread::sleep_for(2s);  // not a wait for a condition: 2 s of load per round
    ASSERT_OK(primary_proc_->Kill(sig));
    ASSERT_OK_AND_ASSIGN(ExitStatus st, primary_proc_->Wait(20));
    if (sig == SIGTERM) {
      EXPECT_EQ(st.exit_code, 0) << "SIGTERM should stop the primary cleanly: " << st.ToString();
    } else {
      EXPECT_EQ(st.signal, SIGKILL);
    }
    // Not a wait for a condition: writers keep committing with no daemon.
    std::this_thread::sleep_for(500ms);
    StartPrimary(first_endpoint);
    ASSERT_EQ(endpoint_, first_endpoint);
    auto restarted = Clock::now();
    const uint64_t head = Head();
    ASSERT_TRUE(WaitApplied(head, 30s))
        << "the mirror did not catch up after the primary's " << strsignal(sig) << "; applied "
        << Applied() << " of " << head;
    timings.push_back(std::string(sig == SIGKILL ? "KILL" : "TERM") + " " +
                      std::to_string(Seconds(restarted)).substr(0, 4) + " s");
  }
  StopWriters();
  ExpectIdenticalExactlyOnce();
  EXPECT_TRUE(mirror_proc_->IsRunning());
  std::cerr << "primary restarts, mirror caught up after:";
  for (auto& t : timings) std::cerr << " [" << t << "]";
  std::cerr << "; " << ok_ops_ << "/" << ops_ << " writes ok; total " << Seconds(t0) << " s\n";
}

TEST_F(SiteFaultTest, PrimaryDatabaseRestartedAndCrashedUnderLoad) {
  const auto t0 = Clock::now();
  // Durable: with synchronous_commit=off a crash loses commits the mirror
  // already has (see the next test).
  harness::PgCluster pg(harness::PgCluster::Options{.durable = true});
  ASSERT_OK(pg.Start());
  MakePrimaryVolume(&pg);
  StartPrimary();
  StartMirror(endpoint_);
  StartWriters(3);
  // The daemon's LISTEN connection, seen from the server.
  auto listening = [&] {
    auto n = harness::PgQueryValue(
        primary_conninfo_,
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN meridian_changelog'");
    return n.ok() && *n != "0";
  };
  ASSERT_TRUE(harness::WaitUntil(listening, 10s, "the daemon's LISTEN"))
      << "no LISTEN connection before any fault";
  ASSERT_TRUE(WaitApplied(Head(), 30s));
  std::vector<std::string> timings;
  for (bool crash : {false, true}) {
    const int ok_before = ok_ops_;
    if (crash) {
      ASSERT_OK(pg.KillServer());
      std::this_thread::sleep_for(1s);  // not a wait for a condition: writers fail meanwhile
    }
    ASSERT_OK(pg.Restart());
    auto restarted = Clock::now();
    const bool relistened = harness::WaitUntil(listening, 15s, "the daemon to LISTEN again");
    EXPECT_TRUE(relistened) << "the primary daemon did not LISTEN again after the database's "
                            << (crash ? "crash" : "restart");
    const double relisten_s = Seconds(restarted);
    (void)harness::WaitUntil([&] { return ok_ops_.load() > ok_before; }, 30s,
                             "writers to commit again");
    EXPECT_GT(ok_ops_.load(), ok_before) << "no write succeeded after the database came back";
    const uint64_t head = Head();
    ASSERT_TRUE(WaitApplied(head, 30s))
        << "the mirror did not catch up after the database's " << (crash ? "crash" : "restart")
        << "; applied " << Applied() << " of " << head;
    timings.push_back(std::string(crash ? "crash" : "restart") + ": LISTEN after " +
                      std::to_string(relisten_s).substr(0, 4) + " s, caught up after " +
                      std::to_string(Seconds(restarted)).substr(0, 4) + " s");
  }
  StopWriters();
  EXPECT_TRUE(primary_proc_->IsRunning()) << "the primary daemon died with its database";
  // A change made once everything is back is replicated too.
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/after/restarts"}).ok());
  ExpectIdenticalExactlyOnce();
  std::cerr << "database faults:";
  for (auto& t : timings) std::cerr << " [" << t << "]";
  std::cerr << "; " << ok_ops_ << "/" << ops_ << " writes ok; total " << Seconds(t0) << " s\n";
}

// With synchronous_commit=off on the primary's PostgreSQL (a common tuning;
// also the harness's non-durable default), and since writers always commit
// asynchronously under the write lock (docs/metadata.md, "Write path and
// durability"), a commit is visible before its WAL record is flushed. If the
// daemon streamed it then, a crash of PostgreSQL would lose the last commits
// at the primary while the mirror kept them; the primary would reuse those
// positions for different changes and the sites would diverge silently. The
// log source flushes before it ships (primary/pg_log_source.h).
TEST_F(SiteFaultTest, PrimaryDatabaseCrashWithAsyncCommitKeepsTheMirrorConsistent) {
  harness::PgCluster pg(harness::PgCluster::Options{
      .durable = true, .settings = {"synchronous_commit=off", "wal_writer_delay=1000ms"}});
  ASSERT_OK(pg.Start());
  MakePrimaryVolume(&pg);
  StartPrimary();
  StartMirror(endpoint_);
  StartWriters(3);
  std::string evidence;
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(3s);  // not a wait for a condition: 3 s of load, then a crash
    ASSERT_OK(pg.KillServer());
    const uint64_t applied_at_crash = Applied();
    ASSERT_OK(pg.Restart());
    const uint64_t head_after_recovery = Head();
    evidence += " [crash " + std::to_string(round) + ": mirror had applied " +
                std::to_string(applied_at_crash) + ", primary head after recovery " +
                std::to_string(head_after_recovery) + "]";
    EXPECT_LE(applied_at_crash, head_after_recovery)
        << "FAIL (product bug): the mirror applied change-log positions " << head_after_recovery + 1
        << ".." << applied_at_crash
        << " that the primary lost in its database crash; those positions will be reused for "
           "different changes";
  }
  std::this_thread::sleep_for(2s);  // not a wait for a condition: load after the last crash
  StopWriters();
  ASSERT_TRUE(primary_.Run({"mkdir", "-p", "/after/crash"}).ok());
  ExpectIdenticalExactlyOnce();
  std::cerr << "async-commit crashes:" << evidence << "\n";
}

}  // namespace
}  // namespace meridian::e2e
