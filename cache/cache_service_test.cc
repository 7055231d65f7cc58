// CacheServer and CacheGroup over real ZeroMQ CURVE sockets on 127.0.0.1,
// each node a real DiskCache in a temp dir, the origin an in-memory bucket
// that counts fetches.
#include "cache/cache_service.h"
#include "cache/test_util.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "sitelink/stream.h"

namespace meridian::cache {
namespace {

using testing::Block;
using testing::MakeBlock;
using testing::TempDir;

namespace fs = std::filesystem;
using sitelink::CurveKeyPair;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

CurveKeyPair NewKeys() {
  auto k = sitelink::GenerateCurveKeyPair();
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.value_or({});
}

// The primary's bucket, in memory.
class Origin {
 public:
  void Add(const Block& b) {
    std::lock_guard<std::mutex> l(mu_);
    blocks_[b.ref.id] = b.stored;
  }
  Result<std::string> Fetch(const BlockRef& ref) {
    ++fetches;
    std::this_thread::sleep_for(delay.load());
    std::lock_guard<std::mutex> l(mu_);
    auto it = blocks_.find(ref.id);
    if (it == blocks_.end())
      return Status::NotFound("no object for block " + std::to_string(ref.id));
    std::string s = it->second;
    if (corrupt) s[s.size() / 2] ^= 1;
    return s;
  }

  std::atomic<int> fetches{0};
  std::atomic<bool> corrupt{false};
  std::atomic<milliseconds> delay{milliseconds(0)};

 private:
  std::mutex mu_;
  std::map<uint64_t, std::string> blocks_;
};

// One cache node: a DiskCache in a temp dir behind a CacheServer.
struct TestNode {
  TestNode(Origin* origin, const CurveKeyPair& keys, std::vector<std::string> allowed, int threads,
           std::function<void()> before_reply = nullptr) {
    auto c = DiskCache::Open({.dirs = {dir.path()}});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return;
    cache = std::move(c).value();
    CacheServerOptions o;
    o.public_key = keys.public_key;
    o.secret_key = keys.secret_key;
    o.allowed_keys = std::move(allowed);
    o.cache = cache.get();
    o.threads = threads;
    o.before_reply_for_test = std::move(before_reply);
    o.fetch = [this, origin](const BlockRef& ref) {
      ++fetches;
      return origin->Fetch(ref);
    };
    auto s = CacheServer::Start(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) server = std::move(s).value();
  }
  std::string endpoint() const { return server->endpoint(); }

  TempDir dir;
  std::unique_ptr<DiskCache> cache;
  std::unique_ptr<CacheServer> server;  // destroyed before the cache
  std::atomic<int> fetches{0};
};

class CacheServiceTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestNode> StartNode(int threads = 16) {
    auto n = std::make_unique<TestNode>(&origin_, server_keys_,
                                        std::vector<std::string>{client_keys_.public_key}, threads);
    EXPECT_TRUE(n->server != nullptr);
    return n;
  }
  std::unique_ptr<CacheGroup> OpenGroup(std::vector<std::string> nodes,
                                        milliseconds timeout = milliseconds(3000),
                                        const CurveKeyPair* keys = nullptr) {
    keys = keys ? keys : &client_keys_;
    auto g = CacheGroup::Open({.nodes = std::move(nodes),
                               .server_public_key = server_keys_.public_key,
                               .public_key = keys->public_key,
                               .secret_key = keys->secret_key,
                               .timeout = timeout,
                               .down_for = std::chrono::seconds(60)});
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  Block AddBlock(uint64_t id, size_t size = 64 << 10) {
    Block b = MakeBlock(id, size);
    origin_.Add(b);
    return b;
  }

  CurveKeyPair server_keys_ = NewKeys();
  CurveKeyPair client_keys_ = NewKeys();
  Origin origin_;  // outlives the nodes (declared first)
};

TEST(CacheRef, EncodesFiftyLittleEndianBytesAndRejectsBadOnes) {
  Block b = MakeBlock(0x0102030405060708ull, 1000);
  const std::string e = EncodeRef(b.ref);
  ASSERT_EQ(e.size(), 50u);
  EXPECT_EQ(e[0], 1);     // version
  EXPECT_EQ(e[1], 0x08);  // id, little-endian
  EXPECT_EQ(e[8], 0x01);
  auto d = DecodeRef(e);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  BlockRef want = b.ref;
  want.index = 0;  // not on the wire: a node needs only the id and the bytes' identity
  EXPECT_EQ(*d, want);

  EXPECT_EQ(DecodeRef(e.substr(1)).status().code(), Code::kInvalidArgument);
  std::string v = e;
  v[0] = 2;
  EXPECT_EQ(DecodeRef(v).status().code(), Code::kInvalidArgument);
  std::string c = e;
  c[17] = 9;
  EXPECT_EQ(DecodeRef(c).status().code(), Code::kInvalidArgument);
  std::string big = e;
  big[16] = 0x7f;  // stored_length ~2 GiB
  EXPECT_EQ(DecodeRef(big).status().code(), Code::kInvalidArgument);
}

TEST_F(CacheServiceTest, GetRoundTripThenHit) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  EXPECT_EQ(group->Describe(), "cache group " + node->endpoint());
  Block b = AddBlock(42, 256 << 10);

  auto r = group->Get(b.ref);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, b.stored);
  EXPECT_EQ(origin_.fetches.load(), 1);
  auto again = group->Get(b.ref);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, b.stored);
  EXPECT_EQ(origin_.fetches.load(), 1);  // served from the node's disk

  CacheServerStats s = node->server->stats();
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.fetched_blocks, 1u);
  EXPECT_EQ(s.fetched_bytes, b.stored.size());
  auto j = nlohmann::json::parse(group->StatsJson());
  ASSERT_TRUE(j.contains(node->endpoint())) << j.dump();
  EXPECT_EQ(j[node->endpoint()]["items"], 1);
  EXPECT_EQ(j[node->endpoint()]["hits"], 1);
  EXPECT_EQ(j[node->endpoint()]["fetched_blocks"], 1);
}

TEST_F(CacheServiceTest, ClientNotOnTheAllowListGetsNothing) {
  auto node = StartNode();
  const CurveKeyPair stranger = NewKeys();
  auto outsider = OpenGroup({node->endpoint()}, milliseconds(500), &stranger);
  ASSERT_TRUE(outsider);
  Block b = AddBlock(7);

  auto r = outsider->Get(b.ref);
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("allow-list"), std::string::npos);
  EXPECT_EQ(origin_.fetches.load(), 0);
  EXPECT_EQ(node->server->stats().requests, 0u);

  // The same server answers an allowed client: the key made the difference.
  auto insider = OpenGroup({node->endpoint()});
  EXPECT_EQ(insider->Get(b.ref).value_or(""), b.stored);
  EXPECT_EQ(origin_.fetches.load(), 1);
}

TEST_F(CacheServiceTest, ConcurrentGetsOfAMissingBlockFetchItOnce) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  Block b = AddBlock(99, 1 << 20);
  origin_.delay = milliseconds(300);

  std::atomic<int> ready{0};
  std::vector<std::string> out(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < 16) std::this_thread::yield();
      auto r = group->Get(b.ref);
      out[i] = r.ok() ? *r : "error: " + r.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(origin_.fetches.load(), 1);
  for (const std::string& s : out) EXPECT_TRUE(s == b.stored) << s.substr(0, 100);
}

// A request goes to an idle worker: a hit does not wait behind a slow fill
// (round-robin dispatch would queue every other request behind it).
TEST_F(CacheServiceTest, HitsDoNotWaitBehindASlowFetch) {
  auto node = StartNode(/*threads=*/2);
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  Block hot = AddBlock(1), cold = AddBlock(2);
  ASSERT_TRUE(group->Warm(hot.ref).ok());
  origin_.delay = milliseconds(1500);
  std::thread slow([&] { EXPECT_EQ(group->Get(cold.ref).value_or(""), cold.stored); });
  while (origin_.fetches.load() < 2) std::this_thread::sleep_for(milliseconds(5));
  for (int i = 0; i < 4; ++i) {
    const Clock::time_point t0 = Clock::now();
    EXPECT_EQ(group->Get(hot.ref).value_or(""), hot.stored);
    EXPECT_LT(Clock::now() - t0, milliseconds(700)) << "hit #" << i;
  }
  slow.join();
}

// Ownership only: the endpoints need no server.
TEST_F(CacheServiceTest, RendezvousSpreadsAndMovesOnlyTheLostShare) {
  const std::string a = "tcp://127.0.0.1:9", b = "tcp://127.0.0.1:11", c = "tcp://127.0.0.1:13";
  auto ab = OpenGroup({a, b});
  auto ba = OpenGroup({b, a});
  auto only_b = OpenGroup({b});
  auto abc = OpenGroup({a, b, c});
  ASSERT_TRUE(ab && ba && only_b && abc);

  int owned_by_a = 0, moved_to_c = 0;
  for (uint64_t id = 1; id <= 1000; ++id) {
    const std::vector<std::string> two = ab->NodesFor(id);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(std::set<std::string>(two.begin(), two.end()), (std::set<std::string>{a, b}));
    EXPECT_EQ(ba->NodesFor(id), two) << "the order of the list must not matter";
    if (two[0] == a) ++owned_by_a;
    // Losing a: only a's blocks change owner.
    if (two[0] == b) {
      EXPECT_EQ(only_b->NodesFor(id)[0], b);
    }
    // Losing c from {a,b,c}: blocks owned by a or b keep their owner; adding
    // c to {a,b}: a block either stays or moves to c.
    const std::string owner3 = abc->NodesFor(id)[0];
    if (owner3 != c) {
      EXPECT_EQ(owner3, two[0]) << "block " << id;
    } else {
      ++moved_to_c;
    }
  }
  EXPECT_GE(owned_by_a, 400);
  EXPECT_LE(owned_by_a, 600);
  EXPECT_GE(moved_to_c, 250);  // about 1/3
  EXPECT_LE(moved_to_c, 420);
}

TEST_F(CacheServiceTest, DeadNodeIsSkippedAfterOneTimeout) {
  auto a = StartNode();
  auto b = StartNode();
  const milliseconds timeout(300);
  auto group = OpenGroup({a->endpoint(), b->endpoint()}, timeout);
  ASSERT_TRUE(group);
  std::vector<Block> blocks;
  int owned_by_a = 0;
  for (uint64_t id = 100; id < 140; ++id) {
    blocks.push_back(AddBlock(id, 16 << 10));
    if (group->NodesFor(id)[0] == a->endpoint()) ++owned_by_a;
  }
  ASSERT_GT(owned_by_a, 5);
  ASSERT_LT(owned_by_a, 35);
  // While both run, each block is fetched at its owner.
  for (const Block& bl : blocks) ASSERT_EQ(group->Get(bl.ref).value_or(""), bl.stored);
  EXPECT_EQ(a->fetches.load(), owned_by_a);
  EXPECT_EQ(b->fetches.load(), 40 - owned_by_a);

  const std::string dead = a->endpoint();
  a.reset();
  int slow = 0;
  const Clock::time_point start = Clock::now();
  for (const Block& bl : blocks) {
    const Clock::time_point t0 = Clock::now();
    auto r = group->Get(bl.ref);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, bl.stored);
    if (Clock::now() - t0 >= timeout) ++slow;
  }
  const auto total = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_LE(slow, 1) << "only the first request to the dead node waits";
  EXPECT_LT(total.count(), timeout.count() + 3000);
  // b filled a's share; its own blocks were hits.
  EXPECT_EQ(b->fetches.load(), 40);
  auto j = nlohmann::json::parse(group->StatsJson());
  EXPECT_TRUE(j[dead].contains("error")) << j.dump();
  EXPECT_EQ(j[b->endpoint()]["items"], 40);
}

// A node that accepts connections but never answers (hung, or a machine
// whose kernel still completes handshakes): the probe cannot tell it from a
// busy one, so the first request waits the whole timeout and the node is
// then skipped.
TEST_F(CacheServiceTest, ASilentNodeCostsOneTimeoutThenIsSkipped) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);  // listens, never accepts
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 64), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string silent = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto b = StartNode();
  const milliseconds timeout(400);
  auto group = OpenGroup({silent, b->endpoint()}, timeout);
  ASSERT_TRUE(group);
  int slow = 0, owned_by_silent = 0;
  for (uint64_t id = 300; id < 330; ++id) {
    Block bl = AddBlock(id, 4 << 10);
    owned_by_silent += group->NodesFor(id)[0] == silent;
    const Clock::time_point t0 = Clock::now();
    ASSERT_EQ(group->Get(bl.ref).value_or(""), bl.stored);
    if (Clock::now() - t0 >= timeout) ++slow;
  }
  ASSERT_GT(owned_by_silent, 0);
  EXPECT_EQ(slow, 1) << "the first request to the silent node waits out the timeout, no other";
  close(fd);
}

// A node whose process is gone refuses connections: the client finds out by
// asking the port once the reply is late, instead of waiting out a long
// timeout (30 s here; the whole pass must take far less).
TEST_F(CacheServiceTest, ANodeThatRefusesConnectionsCostsFarLessThanTheTimeout) {
  auto a = StartNode();
  auto b = StartNode();
  auto group = OpenGroup({a->endpoint(), b->endpoint()}, milliseconds(30000));
  ASSERT_TRUE(group);
  std::vector<Block> blocks;
  for (uint64_t id = 200; id < 220; ++id) blocks.push_back(AddBlock(id, 4 << 10));
  a.reset();
  const Clock::time_point start = Clock::now();
  for (const Block& bl : blocks) ASSERT_EQ(group->Get(bl.ref).value_or(""), bl.stored);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(b->fetches.load(), 20);
}

TEST_F(CacheServiceTest, WarmHasEvict) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  Block b = AddBlock(5);

  using P = DiskCache::Presence;
  EXPECT_EQ(group->Has(b.ref).value_or(P::kDamaged), P::kMissing);
  EXPECT_EQ(origin_.fetches.load(), 0);  // HAS never fetches
  ASSERT_TRUE(group->Warm(b.ref).ok());
  EXPECT_EQ(origin_.fetches.load(), 1);
  EXPECT_TRUE(node->cache->Contains(5));
  EXPECT_EQ(group->Has(b.ref).value_or(P::kMissing), P::kIntact);
  ASSERT_TRUE(group->Warm(b.ref).ok());
  EXPECT_EQ(origin_.fetches.load(), 1);  // already cached

  auto gone = group->Evict(b.ref);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_TRUE(*gone);
  EXPECT_FALSE(node->cache->Contains(5));
  EXPECT_EQ(group->Has(b.ref).value_or(P::kDamaged), P::kMissing);
  EXPECT_FALSE(group->Evict(b.ref).value_or(true));
}

// A cached file truncated or corrupted on the node's disk: HAS (a stat)
// reports a wrong length as damaged, HAS with "verify" (a read) also a
// same-length corruption, and WARM replaces either, fetching it again.
TEST_F(CacheServiceTest, HasReportsDamagedBlocksAndWarmReplacesThem) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  using P = DiskCache::Presence;
  Block b = AddBlock(6);
  ASSERT_TRUE(group->Warm(b.ref).ok());
  ASSERT_EQ(origin_.fetches.load(), 1);
  const std::string path = node->cache->PathFor(6);
  ASSERT_EQ(truncate(path.c_str(), b.ref.stored_length / 2), 0) << path;
  EXPECT_EQ(group->Has(b.ref).value_or(P::kMissing), P::kDamaged);
  ASSERT_TRUE(group->Warm(b.ref).ok());
  EXPECT_EQ(origin_.fetches.load(), 2);  // fetched again
  EXPECT_EQ(group->Has(b.ref, /*verify=*/true).value_or(P::kMissing), P::kIntact);
  {  // the same length, one byte flipped: only a read notices
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put(static_cast<char>(b.stored[10] ^ 0x40));
  }
  EXPECT_EQ(group->Has(b.ref).value_or(P::kMissing), P::kIntact);
  EXPECT_EQ(group->Has(b.ref, /*verify=*/true).value_or(P::kMissing), P::kDamaged);
  ASSERT_TRUE(group->Warm(b.ref).ok());
  EXPECT_EQ(origin_.fetches.load(), 3);
  EXPECT_EQ(group->Has(b.ref, /*verify=*/true).value_or(P::kMissing), P::kIntact);
  auto got = group->Get(b.ref);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, b.stored);
}

TEST_F(CacheServiceTest, CorruptOriginBytesFailAndAreNotCached) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()});
  ASSERT_TRUE(group);
  Block b = AddBlock(9);
  origin_.corrupt = true;

  auto r = group->Get(b.ref);
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_EQ(group->Warm(b.ref).code(), Code::kCorruption);
  EXPECT_FALSE(node->cache->Contains(9));
  EXPECT_EQ(node->cache->stats().fills, 0u);
  EXPECT_EQ(origin_.fetches.load(), 2);

  origin_.corrupt = false;  // the bucket is repaired: nothing stale was kept
  EXPECT_EQ(group->Get(b.ref).value_or(""), b.stored);
  EXPECT_EQ(origin_.fetches.load(), 3);
}

TEST_F(CacheServiceTest, ErrorCodesCrossTheWireAndDefinitiveOnesDoNotFailOver) {
  auto a = StartNode();
  auto b = StartNode();
  auto group = OpenGroup({a->endpoint(), b->endpoint()});
  ASSERT_TRUE(group);
  Block missing = MakeBlock(77);  // never added to the origin

  auto r = group->Get(missing.ref);
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_FALSE(r.status().retryable());
  EXPECT_NE(r.status().message().find("no object for block 77"), std::string::npos);
  EXPECT_EQ(origin_.fetches.load(), 1);  // the other node was not asked to fetch it again
}

TEST_F(CacheServiceTest, ClientVerifiesBytesAndFailsOverFromABadNode) {
  // A node that answers every request with wrong bytes (no ZAP: accepts anyone).
  zmq::context_t ctx;
  zmq::socket_t liar(ctx, zmq::socket_type::router);
  liar.set(zmq::sockopt::linger, 0);
  liar.set(zmq::sockopt::curve_server, true);
  liar.set(zmq::sockopt::curve_secretkey, server_keys_.secret_key);
  liar.bind("tcp://127.0.0.1:*");
  const std::string liar_endpoint = liar.get(zmq::sockopt::last_endpoint);
  auto node = StartNode();
  auto alone = OpenGroup({liar_endpoint});
  auto both = OpenGroup({liar_endpoint, node->endpoint()});
  ASSERT_TRUE(alone && both);
  uint64_t id = 1;
  while (both->NodesFor(id)[0] != liar_endpoint) ++id;
  Block b = AddBlock(id);

  std::atomic<bool> stop{false};
  std::atomic<int> lies{0};
  std::thread liar_thread([&] {
    while (!stop) {
      zmq::pollitem_t item{liar.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, milliseconds(20)) == 0) continue;
      std::vector<zmq::message_t> in;
      if (!zmq::recv_multipart(liar, std::back_inserter(in))) continue;
      ++lies;
      liar.send(std::move(in[0]), zmq::send_flags::sndmore);
      liar.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      liar.send(zmq::str_buffer("OK"), zmq::send_flags::sndmore);
      liar.send(zmq::str_buffer("not the block"), zmq::send_flags::none);
    }
  });
  const Status alone_status = alone->Get(b.ref).status();
  Result<std::string> r = both->Get(b.ref);
  stop = true;
  liar_thread.join();

  EXPECT_EQ(alone_status.code(), Code::kCorruption) << alone_status.ToString();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, b.stored);
  EXPECT_EQ(lies.load(), 2);
}

std::vector<std::string> RawRequest(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    s.send(zmq::buffer(frames[i]),
           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  std::vector<zmq::message_t> in;
  std::vector<std::string> out;
  if (!zmq::recv_multipart(s, std::back_inserter(in))) return out;  // timed out
  for (auto& m : in) out.push_back(m.to_string());
  return out;
}

TEST_F(CacheServiceTest, MalformedRequestsGetErrAndTheServerKeepsServing) {
  auto node = StartNode();
  Block b = AddBlock(3);
  zmq::context_t ctx;
  auto raw_socket = [&] {
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 3000);
    s.set(zmq::sockopt::curve_serverkey, server_keys_.public_key);
    s.set(zmq::sockopt::curve_publickey, client_keys_.public_key);
    s.set(zmq::sockopt::curve_secretkey, client_keys_.secret_key);
    s.connect(node->endpoint());
    return s;
  };
  zmq::socket_t s = raw_socket();
  const std::string ref = EncodeRef(b.ref);
  std::string bad_version = ref, bad_comp = ref;
  bad_version[0] = 7;
  bad_comp[17] = 5;
  const std::vector<std::vector<std::string>> garbage = {
      {"FROB", ref},
      {""},
      {std::string("\xff\x00\x01garbage", 10)},
      {"GET"},
      {"GET", "short"},
      {"GET", ref, "extra"},
      {"HAS", bad_version},
      {"EVICT", bad_comp},
      {"WARM", ""},
      {"STATS", "x"},
      {"get", ref},
  };
  const std::string invalid = std::to_string(static_cast<int>(Code::kInvalidArgument));
  for (const auto& req : garbage) {
    std::vector<std::string> reply = RawRequest(s, req);
    ASSERT_EQ(reply.size(), 3u) << "request '" << req[0] << "' (" << req.size() << " frames)";
    EXPECT_EQ(reply[0], "ERR");
    EXPECT_EQ(reply[1], invalid) << reply[2];
    EXPECT_FALSE(reply[2].empty());
  }
  // A well-formed request on the same socket.
  std::vector<std::string> ok = RawRequest(s, {"GET", ref});
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0], "OK");
  EXPECT_EQ(ok[1], b.stored);

  // An oversized frame: libzmq drops that client's connection, no reply.
  zmq::socket_t big = raw_socket();
  big.set(zmq::sockopt::rcvtimeo, 500);
  EXPECT_TRUE(RawRequest(big, {"GET", std::string(1 << 20, 'x')}).empty());

  auto group = OpenGroup({node->endpoint()});
  EXPECT_EQ(group->Get(b.ref).value_or(""), b.stored);
  EXPECT_EQ(origin_.fetches.load(), 1);
}

TEST_F(CacheServiceTest, ServerStopsCleanlyWithARequestInFlight) {
  auto node = StartNode();
  auto group = OpenGroup({node->endpoint()}, milliseconds(1500));
  ASSERT_TRUE(group);
  Block b = AddBlock(8);
  origin_.delay = milliseconds(500);
  Status got;
  std::thread t([&] { got = group->Get(b.ref).status(); });
  while (origin_.fetches.load() == 0) std::this_thread::sleep_for(milliseconds(5));
  node->server.reset();  // waits for the fetch in hand, then drops its reply
  t.join();
  EXPECT_EQ(got.code(), Code::kUnavailable) << got.ToString();
}

// A worker that hits a ZeroMQ error does not end silently: the error is
// logged and comes back from CacheServer::status() (the owner's to act on).
TEST_F(CacheServiceTest, AWorkersZmqErrorReachesTheServersStatus) {
  std::atomic<int> replies{0};
  TestNode node(&origin_, server_keys_, {client_keys_.public_key}, /*threads=*/1, [&] {
    if (replies++ == 1) throw zmq::error_t(EHOSTUNREACH);
  });
  ASSERT_TRUE(node.server != nullptr);
  auto group = OpenGroup({node.endpoint()}, milliseconds(500));
  ASSERT_TRUE(group);
  Block b = AddBlock(9);
  EXPECT_EQ(group->Get(b.ref).value_or(""), b.stored);
  EXPECT_TRUE(node.server->status().ok()) << node.server->status().ToString();
  // The second reply fails: its worker (the only one) ends, the request times out.
  EXPECT_EQ(group->Get(b.ref).status().code(), Code::kUnavailable);
  const Status st = node.server->status();
  EXPECT_EQ(st.code(), Code::kIOError) << st.ToString();
  EXPECT_NE(st.message().find("worker stopped"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(node.endpoint()), std::string::npos) << st.ToString();
}

TEST_F(CacheServiceTest, BadOptionsAreRejected) {
  TempDir dir;
  auto cache = DiskCache::Open({.dirs = {dir.path()}});
  ASSERT_TRUE(cache.ok());
  auto fetch = [](const BlockRef&) -> Result<std::string> { return std::string(); };
  const CurveKeyPair other = NewKeys();
  auto start = [&](auto edit) {
    CacheServerOptions o{.public_key = server_keys_.public_key,
                         .secret_key = server_keys_.secret_key,
                         .allowed_keys = {client_keys_.public_key},
                         .cache = cache->get(),
                         .fetch = fetch};
    edit(o);
    return CacheServer::Start(std::move(o)).status().code();
  };
  EXPECT_EQ(start([](CacheServerOptions&) {}), Code::kOk);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.cache = nullptr; }), Code::kInvalidArgument);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.fetch = nullptr; }), Code::kInvalidArgument);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.threads = 0; }), Code::kInvalidArgument);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.secret_key = "short"; }), Code::kInvalidArgument);
  EXPECT_EQ(start([&](CacheServerOptions& o) { o.public_key = other.public_key; }),
            Code::kInvalidArgument);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.allowed_keys = {"nope"}; }),
            Code::kInvalidArgument);
  EXPECT_EQ(start([](CacheServerOptions& o) { o.allowed_keys.clear(); }), Code::kInvalidArgument);

  auto open = [&](std::vector<std::string> nodes, std::string server_key) {
    return CacheGroup::Open({.nodes = std::move(nodes),
                             .server_public_key = std::move(server_key),
                             .public_key = client_keys_.public_key,
                             .secret_key = client_keys_.secret_key})
        .status()
        .code();
  };
  const std::string e = "tcp://127.0.0.1:9";
  EXPECT_EQ(open({e}, server_keys_.public_key), Code::kOk);
  EXPECT_EQ(open({}, server_keys_.public_key), Code::kInvalidArgument);
  EXPECT_EQ(open({e, e}, server_keys_.public_key), Code::kInvalidArgument);
  EXPECT_EQ(open({"not an endpoint"}, server_keys_.public_key), Code::kInvalidArgument);
  EXPECT_EQ(open({e}, "x"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::cache
