// Site-link tests over real ZeroMQ CURVE sockets on 127.0.0.1 (OS-chosen
// ports). The log is an in-memory fake whose batch frames are
// "batch:<first>-<last>:<padding>", so the tests can check order and gaps; the
// transport treats them as opaque and learns positions through a BatchSpanFn.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "sitelink/keys.h"
#include "sitelink/stream.h"
#include "sitelink/stream_protocol.h"
#include "sitelink/stream_server.h"
#include "sitelink/stream_test_util.h"
#include "tests/harness/wait.h"

namespace meridian::sitelink {
namespace {

using namespace streamtest;

TEST_F(StreamTest, KeysAreZ85AndOptionsAreChecked) {
  EXPECT_EQ(a_.public_key.size(), 40u);
  EXPECT_EQ(a_.secret_key.size(), 40u);
  EXPECT_NE(a_.public_key, b_.public_key);
  FakeLog log(0);
  StreamServer::Options o = ServerOptions({"not-a-key"});
  EXPECT_FALSE(StartStreamServer(o, &log, ParseSpan).ok());
  StreamClient::Options c = ClientOptions("tcp://127.0.0.1:1", a_, "x");
  c.server_public_key = "short";
  EXPECT_FALSE(StreamClient::Connect(c).ok());
}

// A key file whose path happens to be 40 Z85 characters is read as a file,
// not taken for the key itself (it once was: a cache group got a path as key).
TEST_F(StreamTest, APublicKeyPathThatLooksLikeAKeyIsReadAsAFile) {
  char tmpl[] = "/tmp/keys-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/";
  path += std::string(40 - path.size() - 4, 'k') + ".pub";
  ASSERT_EQ(path.size(), 40u);
  { std::ofstream(path) << a_.public_key << "\n"; }
  auto k = LoadPublicKey(path);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(*k, a_.public_key);
  EXPECT_EQ(*LoadPublicKey(b_.public_key), b_.public_key);  // a key given inline still works
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

// 1. Every entry exactly once, in order, with acks.
TEST_F(StreamTest, DeliversEverythingInOrder) {
  FakeLog log(10000);
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  ASSERT_NE(server, nullptr);
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  const auto t0 = Clock::now();
  EXPECT_TRUE(Drain(client.get(), &pos, 10000, /*ack=*/true));
  EXPECT_EQ(pos, 10000u);
  LOG(INFO) << "10000 entries in 100 batches: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms";
  Result<StreamClient::Event> ev = client->Next(300ms);  // nothing more
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->kind, StreamClient::Event::kNone);
  EXPECT_TRUE(client->connected());
}

// Reads events for up to 5 s: the client must fail FailedPrecondition
// saying to rebuild from an empty database, and get no batch before that.
void ExpectRefusedWithoutData(StreamClient* client) {
  Status st;
  for (int i = 0; i < 50 && st.ok(); ++i) {
    auto ev = client->Next(100ms);
    if (!ev.ok()) {
      st = ev.status();
    } else {
      ASSERT_NE(ev->kind, StreamClient::Event::kBatch) << "got data from a primary it must refuse";
    }
  }
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("new, empty database"), std::string::npos) << st.message();
}

// A primary whose log is behind what the mirror applied (restored from a
// backup) is refused with an error that says what to do, never followed.
TEST_F(StreamTest, APrimaryBehindTheMirrorIsRefused) {
  FakeLog log(50);
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  ASSERT_NE(server, nullptr);
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(80).ok());  // applied 80 before the primary was restored
  ExpectRefusedWithoutData(client.get());
}

// A mirror whose replica follows another volume is refused by a primary that
// knows its own; a new mirror (no volume yet) and the right one are served.
TEST_F(StreamTest, AMirrorOfAnotherVolumeIsRefused) {
  FakeLog log(20);
  auto server = StartServerOfVolume("11111111-aaaa", &log);
  ASSERT_NE(server, nullptr);
  for (const std::string volume : {"22222222-bbbb", "", "11111111-aaaa"}) {
    auto co = ClientOptions(server->endpoint(), a_, "site-a");
    co.volume_uuid = volume;
    auto client = Connect(co);
    ASSERT_TRUE(client->Subscribe(0).ok());
    uint64_t pos = 0;
    if (volume == "22222222-bbbb") {
      ExpectRefusedWithoutData(client.get());
    } else {
      EXPECT_TRUE(Drain(client.get(), &pos, 20, /*ack=*/true)) << "volume '" << volume << "'";
    }
  }
}

// A new mirror takes whatever volume it is given; once it knows it
// (SetVolume, after installing a snapshot), every later HELLO carries it.
TEST_F(StreamTest, AVolumeLearnedLaterIsSentOnTheNextHello) {
  FakeLog log(20);
  auto server = StartServerOfVolume("11111111-aaaa", &log);
  ASSERT_NE(server, nullptr);
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));  // no volume yet
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  ASSERT_TRUE(Drain(client.get(), &pos, 20, /*ack=*/true));
  client->SetVolume("22222222-bbbb");        // as if its replica followed another volume
  ASSERT_TRUE(client->Subscribe(pos).ok());  // a new session: a new HELLO
  ExpectRefusedWithoutData(client.get());
}

// 2. Notify() delivers new entries at once, not at the next heartbeat.
TEST_F(StreamTest, NotifyDeliversLiveEntriesPromptly) {
  FakeLog log(10);
  StreamServer::Options so = ServerOptions({a_.public_key});
  so.heartbeat = 5s;
  so.peer_timeout = 15s;
  auto server = StartServer(so, &log);
  StreamClient::Options co = ClientOptions(server->endpoint(), a_, "site-a");
  co.heartbeat = 5s;
  co.peer_timeout = 15s;
  auto client = Connect(co);
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  ASSERT_TRUE(Drain(client.get(), &pos, 10, true));
  // Not a wait for a condition (none is visible): time for the server to go
  // idle, so that Notify() below must wake it.
  std::this_thread::sleep_for(300ms);
  for (int round = 0; round < 3; ++round) {
    log.Append(5);
    const auto t0 = Clock::now();
    server->Notify();
    ASSERT_TRUE(Drain(client.get(), &pos, pos + 5, true, 1000ms));
    const auto ms =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() / 1000.0;
    LOG(INFO) << "live entry delivered " << ms << " ms after Notify()";
    EXPECT_LT(ms, 1000);
  }
}

// 3. A mirror that never acks gets `credit` batches; another gets everything.
TEST_F(StreamTest, SlowMirrorIsNotFloodedAndStallsNobody) {
  FakeLog log(5000);
  auto server = StartServer(ServerOptions({a_.public_key, b_.public_key}), &log);
  StreamClient::Options slow_options = ClientOptions(server->endpoint(), a_, "slow");
  slow_options.credit = 4;
  auto slow = Connect(slow_options);
  auto fast = Connect(ClientOptions(server->endpoint(), b_, "fast"));
  ASSERT_TRUE(slow->Subscribe(0).ok());
  ASSERT_TRUE(fast->Subscribe(0).ok());
  int slow_batches = 0;
  uint64_t slow_pos = 0;
  for (int i = 0; i < 8; ++i) {  // ~1.2 s: ample time to receive more than 4
    Result<StreamClient::Event> ev = slow->Next(150ms);
    ASSERT_TRUE(ev.ok());
    if (ev->kind != StreamClient::Event::kBatch) continue;
    ++slow_batches;
    Result<BatchSpan> span = ParseSpan(ev->frame);
    ASSERT_TRUE(span.ok());
    EXPECT_EQ(span->first, slow_pos + 1);
    slow_pos = span->last;
  }
  EXPECT_EQ(slow_batches, 4);
  uint64_t fast_pos = 0;
  EXPECT_TRUE(Drain(fast.get(), &fast_pos, 5000, true));
  Result<StreamClient::Event> ev = slow->Next(300ms);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->kind, StreamClient::Event::kNone);
  EXPECT_TRUE(slow->connected());  // heartbeats still flow without credit
  // Acking returns credit: the slow one resumes.
  ASSERT_TRUE(slow->Ack(slow_pos).ok());
  EXPECT_TRUE(Drain(slow.get(), &slow_pos, 5000, true));
}

// 4. Only allow-listed CURVE clients that know the real server key get data.
TEST_F(StreamTest, RefusesUnknownKeysPlainClientsAndWrongServerKey) {
  FakeLog log(500);
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  const std::string ep = server->endpoint();

  auto intruder = Connect(ClientOptions(ep, b_, "intruder"));  // b_ is not allowed
  ASSERT_TRUE(intruder->Subscribe(0).ok());
  StreamClient::Options wrong = ClientOptions(ep, a_, "wrong-server-key");
  wrong.server_public_key = Keys().public_key;
  auto wrong_server = Connect(wrong);
  ASSERT_TRUE(wrong_server->Subscribe(0).ok());
  zmq::socket_t plain = RawDealer(ep, nullptr, "");
  SendRaw(plain, {Hello(1, 0, 8), "raw"});

  auto good = Connect(ClientOptions(ep, a_, "good"));
  ASSERT_TRUE(good->Subscribe(0).ok());
  uint64_t pos = 0;
  EXPECT_TRUE(Drain(good.get(), &pos, 500, true));

  for (StreamClient* c : {intruder.get(), wrong_server.get()}) {
    Result<StreamClient::Event> ev = c->Next(1200ms);
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ(ev->kind, StreamClient::Event::kNone);
    EXPECT_FALSE(c->connected());
  }
  EXPECT_EQ(Count(plain, Type::kBatch, 300ms), 0);
  for (const MirrorState& m : server->Mirrors()) EXPECT_EQ(m.name, "good");
}

// 5. Behind the retention: BEGIN(s), chunks in order, END(s), batches after s.
TEST_F(StreamTest, SnapshotThenStream) {
  FakeLog log(1000);
  log.SetRetention(/*oldest=*/501, /*snapshot_pos=*/500, /*chunks=*/25);
  auto server = StartServer(ServerOptions({a_.public_key, b_.public_key}), &log);
  StreamClient::Options co = ClientOptions(server->endpoint(), a_, "site-a");
  co.credit = 4;
  auto client = Connect(co);
  ASSERT_TRUE(client->Subscribe(0).ok());
  std::vector<StreamClient::Event> events;
  ASSERT_TRUE(UntilSnapshotEnd(client.get(), &events));
  ASSERT_EQ(events.size(), 27u);
  EXPECT_EQ(events[0].kind, StreamClient::Event::kSnapshotBegin);
  EXPECT_EQ(events[0].pos, 500u);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(events[i + 1].kind, StreamClient::Event::kSnapshotChunk);
    EXPECT_EQ(events[i + 1].frame, "chunk:" + std::to_string(i));
  }
  EXPECT_EQ(events[26].pos, 500u);
  ASSERT_TRUE(client->Ack(500).ok());
  uint64_t pos = 500;
  EXPECT_TRUE(Drain(client.get(), &pos, 1000, true));

  // Chunks consume credit: a raw mirror granting 3 and never returning any
  // receives exactly 3 chunks.
  zmq::socket_t raw = RawDealer(server->endpoint(), &b_, server_keys_.public_key);
  SendRaw(raw, {Hello(7, 0, 3), "raw"});
  EXPECT_EQ(Count(raw, Type::kSnapshotChunk, 800ms), 3);
}

// A snapshot that takes longer to build than the peer timeout still arrives
// once: the server keeps the link alive while it builds (before the fix the
// mirror timed out, re-subscribed, and the server started over, forever).
TEST_F(StreamTest, SnapshotSlowerThanThePeerTimeoutArrivesOnce) {
  FakeLog log(40);
  log.SetRetention(/*oldest=*/31, /*snapshot_pos=*/30, /*chunks=*/30);
  log.chunk_delay_ = 100ms;  // 3 s to build; peer timeout is 1 s
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(0).ok());
  std::vector<StreamClient::Event> events;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (events.empty() || events.back().kind != StreamClient::Event::kSnapshotEnd) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "snapshot never completed";
    Result<StreamClient::Event> ev = client->Next(500ms);
    ASSERT_TRUE(ev.ok());
    if (ev->kind != StreamClient::Event::kNone) events.push_back(*ev);
  }
  int begins = 0;
  for (const auto& e : events) begins += e.kind == StreamClient::Event::kSnapshotBegin;
  EXPECT_EQ(begins, 1) << "the snapshot was restarted";
  EXPECT_EQ(events.size(), 32u);
  ASSERT_TRUE(client->Ack(30).ok());
  uint64_t pos = 30;
  EXPECT_TRUE(Drain(client.get(), &pos, 40, true));
}

// Open files of this process under `dir` (the snapshot spool files are
// unlinked: "/dir/#123 (deleted)" or "/dir/meridian-snapshot-x (deleted)").
int OpenFilesUnder(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind(dir + "/", 0) == 0) ++n;
  }
  return n;
}

// With Options::snapshot_source the snapshot is taken on a thread of its own
// with its own source and spooled to a file: the source is done at once
// however slowly the mirror takes chunks (the primary's snapshot
// transaction ends), others are served meanwhile, a mirror that is silent
// past the peer timeout (busy installing) keeps its snapshot, and one that
// goes away frees it; a fresh subscription gets all of it, in order.
TEST_F(StreamTest, SnapshotsAreSpooledOffTheServerThreadAndSurviveASilentMirror) {
  FakeLog log(1000);
  log.SetRetention(/*oldest=*/501, /*snapshot_pos=*/500, /*chunks=*/200);
  std::atomic<int> produced{0}, running{0}, snapshots{0};
  // The log's snapshot, counting what is taken from it.
  class Counting : public LogSource {
   public:
    Counting(FakeLog* log, std::atomic<int>* produced, std::atomic<int>* running,
             std::atomic<int>* snapshots)
        : log_(log), produced_(produced), running_(running), snapshots_(snapshots) {}
    Result<uint64_t> Head() override { return log_->Head(); }
    Result<uint64_t> Oldest() override { return log_->Oldest(); }
    Result<std::string> ReadBatch(uint64_t a, size_t n, size_t b) override {
      return log_->ReadBatch(a, n, b);
    }
    Status Snapshot(const std::function<Status(uint64_t)>& begin,
                    const std::function<Status(std::string)>& chunk) override {
      ++*running_;
      ++*snapshots_;
      Status st = log_->Snapshot(begin, [&](std::string c) {
        ++*produced_;
        return chunk(std::move(c));
      });
      --*running_;
      return st;
    }

   private:
    FakeLog* log_;
    std::atomic<int>*produced_, *running_, *snapshots_;
  };
  char tmpl[] = "/var/tmp/meridian-spool-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string spool = tmpl;
  auto o = ServerOptions({a_.public_key, b_.public_key});
  o.snapshot_spool_dir = spool;
  o.snapshot_source = [&]() -> Result<std::unique_ptr<LogSource>> {
    return std::unique_ptr<LogSource>(new Counting(&log, &produced, &running, &snapshots));
  };
  auto server = StartServer(std::move(o), &log);
  // What the server tells the primary (log retention) about a mirror.
  auto state_of = [&](const std::string& name) {
    for (const auto& m : server->Mirrors()) {
      if (m.name == name) return m;
    }
    return MirrorState{};
  };
  // Mirror b grants 3 credits and returns none for now.
  zmq::socket_t raw = RawDealer(server->endpoint(), &b_, server_keys_.public_key);
  SendRaw(raw, {Hello(7, 0, 3), "raw"});
  EXPECT_EQ(Count(raw, Type::kSnapshotChunk, 800ms), 3);
  EXPECT_EQ(state_of("raw").snapshot_pos, 500u) << "the log after the snapshot must be held";
  // The source is done with all 200 chunks anyway; they wait in one file.
  (void)harness::WaitUntil([&] { return running.load() == 0; }, 3s, "the source to finish");
  EXPECT_EQ(running.load(), 0) << "the source's snapshot waits for the mirror";
  EXPECT_EQ(produced.load(), 200);
  EXPECT_EQ(OpenFilesUnder(spool), 1);
  // Meanwhile mirror a, within the retained log, streams to the head.
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(600).ok());
  uint64_t pos = 600;
  EXPECT_TRUE(Drain(client.get(), &pos, 1000, true));
  // b stays silent past the peer timeout (busy installing, say): marked
  // disconnected. Its snapshot goes on where it stopped once it returns
  // credit: no new BEGIN, chunks 3...
  auto raw_connected = [&] {
    for (const auto& m : server->Mirrors()) {
      if (m.name == "raw") return m.connected;
    }
    return true;
  };
  (void)harness::WaitUntil([&] { return !raw_connected(); }, 3s, "b to be marked disconnected");
  ASSERT_FALSE(raw_connected()) << "b was never marked disconnected";
  Header ack;
  ack.type = Type::kAck;
  ack.session = 7;
  ack.credit = 10;
  SendRaw(raw, {EncodeHeader(ack, 0)});
  std::vector<std::string> got;
  int begins = 0;
  for (auto end = Clock::now() + 2s; Clock::now() < end && got.size() < 10;) {
    zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 50ms) == 0) continue;
    zmq::multipart_t m(raw);
    const auto type = static_cast<Type>(m[0].data<char>()[5]);
    if (type == Type::kSnapshotBegin) ++begins;
    if (type == Type::kSnapshotChunk && m.size() > 1) got.push_back(m[1].to_string());
  }
  EXPECT_EQ(begins, 0) << "the snapshot was started over";
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.front(), "chunk:3");
  EXPECT_EQ(got.back(), "chunk:12");
  EXPECT_EQ(snapshots.load(), 1);
  // b goes away: its spool file is closed.
  raw.close();
  (void)harness::WaitUntil([&] { return OpenFilesUnder(spool) == 0; }, 3s,
                           "the spool file to close");
  EXPECT_EQ(OpenFilesUnder(spool), 0) << "the spool of a vanished mirror is still open";
  EXPECT_EQ(state_of("raw").snapshot_pos, 0u) << "a vanished mirror still holds the log";
  // A mirror starting over gets the whole snapshot, in order.
  auto fresh = Connect(ClientOptions(server->endpoint(), b_, "site-b"));
  ASSERT_TRUE(fresh->Subscribe(0).ok());
  std::vector<StreamClient::Event> events;
  ASSERT_TRUE(UntilSnapshotEnd(fresh.get(), &events));
  ASSERT_EQ(events.size(), 202u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(events[i + 1].frame, "chunk:" + std::to_string(i));
  EXPECT_EQ(state_of("site-b").snapshot_pos, 500u) << "sent, not yet acknowledged: still held";
  ASSERT_TRUE(fresh->Ack(500).ok());
  pos = 500;
  EXPECT_TRUE(Drain(fresh.get(), &pos, 1000, true));
  // (The acknowledgements reach the server a moment after the client has
  // delivered everything.)
  (void)harness::WaitUntil([&] { return state_of("site-b").snapshot_pos == 0; }, 2s,
                           "the snapshot's acknowledgement");
  EXPECT_EQ(state_of("site-b").snapshot_pos, 0u) << "installed: the log may go";
  server.reset();
  std::filesystem::remove_all(spool);
}

// 6. A new server on the same port: the client resumes after its last ack.
TEST_F(StreamTest, ReconnectsToRestartedServerAndResumes) {
  FakeLog log(6000);
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  const std::string ep = server->endpoint();
  auto client = Connect(ClientOptions(ep, a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  ASSERT_TRUE(Drain(client.get(), &pos, 3000, true));
  server.reset();
  const auto t0 = Clock::now();
  StreamServer::Options o = ServerOptions({a_.public_key});
  o.bind = ep;
  server = StartServer(o, &log);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Drain(client.get(), &pos, 6000, true, 15s));
  LOG(INFO) << "resumed and caught up "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms after the restart";
  EXPECT_TRUE(client->connected());

  // Down for longer than peer_timeout: the client notices the silence, tears
  // its socket down and resumes on a new one.
  server.reset();
  log.Append(2000);
  Result<StreamClient::Event> ev = client->Next(1500ms);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->kind, StreamClient::Event::kNone);
  EXPECT_FALSE(client->connected());
  server = StartServer(o, &log);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Drain(client.get(), &pos, 8000, true, 15s));
}

// 7. Garbage from an authenticated peer: logged and dropped; others unaffected.
TEST_F(StreamTest, SurvivesMalformedMessages) {
  FakeLog log(1000);
  auto server = StartServer(ServerOptions({a_.public_key, b_.public_key}), &log);
  zmq::socket_t evil = RawDealer(server->endpoint(), &b_, server_keys_.public_key);
  std::string hello = Hello(1, 0, 8);
  std::string bad_magic = hello;
  bad_magic[0] = 'X';
  std::string huge_len = hello;  // declares a 4 GiB payload
  for (int i = 32; i < 36; ++i) huge_len[i] = '\xff';
  std::string unknown_type = hello;
  unknown_type[5] = 99;
  std::string other_version = hello;
  other_version[4] = 9;
  SendRaw(evil, {bad_magic, "raw"});
  SendRaw(evil, {hello.substr(0, 10)});
  SendRaw(evil, {huge_len, "raw"});
  SendRaw(evil, {unknown_type, "raw"});
  SendRaw(evil, {hello, "raw", "extra", "frames"});
  SendRaw(evil, {Hello(1, 0, 0), "raw"});  // zero credit
  SendRaw(evil, {""});
  SendRaw(evil, {other_version, "raw"});
  EXPECT_EQ(Count(evil, Type::kError, 500ms), 1);  // only the version mismatch is answered
  EXPECT_TRUE(server->Mirrors().empty());

  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  EXPECT_TRUE(Drain(client.get(), &pos, 1000, true));
}

// 8. Mirrors(): name, key, acked position, connected state.
TEST_F(StreamTest, MirrorsReportsState) {
  FakeLog log(1000);
  auto server = StartServer(ServerOptions({a_.public_key}), &log);
  auto client = Connect(ClientOptions(server->endpoint(), a_, "site-a"));
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  ASSERT_TRUE(Drain(client.get(), &pos, 1000, true));
  MirrorState m;
  (void)harness::WaitUntil(  // the last ACK is on its way
      [&] {
        std::vector<MirrorState> all = server->Mirrors();
        return all.size() != 1 || all[0].acked == 1000;
      },
      1s, "the last ACK");
  {
    std::vector<MirrorState> all = server->Mirrors();
    ASSERT_EQ(all.size(), 1u);
    m = all[0];
  }
  EXPECT_EQ(m.name, "site-a");
  EXPECT_EQ(m.public_key, a_.public_key);
  EXPECT_EQ(m.acked, 1000u);
  EXPECT_TRUE(m.connected);
  client.reset();
  (void)harness::WaitUntil([&] { return !server->Mirrors()[0].connected; }, 3s,
                           "the server to notice the client is gone");
  m = server->Mirrors()[0];
  EXPECT_FALSE(m.connected);
  EXPECT_EQ(m.acked, 1000u);
}

// Not a check: throughput of 1 MiB batches over CURVE on loopback.
TEST_F(StreamTest, ThroughputOfOneMiBBatches) {
  constexpr uint64_t kEntries = 16 * 256;  // 64 KiB entries, 16 per batch: 256 MiB
  FakeLog log(kEntries, 64 << 10);
  StreamServer::Options so = ServerOptions({a_.public_key});
  so.batch_max_bytes = 1 << 20;
  auto server = StartServer(so, &log);
  StreamClient::Options co = ClientOptions(server->endpoint(), a_, "bench");
  co.credit = 16;
  auto client = Connect(co);
  ASSERT_TRUE(client->Subscribe(0).ok());
  uint64_t pos = 0;
  const auto t0 = Clock::now();
  ASSERT_TRUE(Drain(client.get(), &pos, kEntries, true, 60s));
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "site-link throughput: 256 x 1 MiB batches over CURVE loopback in %.2f s = %.0f MiB/s\n", s,
      256 / s);
}

}  // namespace
}  // namespace meridian::sitelink
