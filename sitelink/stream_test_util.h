// The site-link tests' fixture: an in-memory log whose batch frames are
// "batch:<first>-<last>:<padding>" (so tests can check order and gaps; the
// transport treats them as opaque and learns positions through a
// BatchSpanFn), key pairs, and hand-driven DEALER sockets for peers that do
// what a real StreamClient never would.
// Thread-safety: FakeLog is thread-safe; the fixture is used by its test.
#pragma once

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/mutex.h"
#include "sitelink/stream.h"
#include "sitelink/stream_protocol.h"
#include "sitelink/stream_server.h"

namespace meridian::sitelink::streamtest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline Result<BatchSpan> ParseSpan(std::string_view frame) {
  BatchSpan s;
  std::string head(frame.substr(0, 64));
  if (std::sscanf(head.c_str(), "batch:%" SCNu64 "-%" SCNu64, &s.first, &s.last) != 2) {
    return Status::Corruption("not a fake batch frame");
  }
  return s;
}

// Entries 1..head, of which oldest..head are retained; thread-safe.
class FakeLog : public LogSource {
 public:
  explicit FakeLog(uint64_t head, size_t entry_bytes = 16)
      : head_(head), entry_bytes_(entry_bytes) {}

  void Append(uint64_t n) {
    MutexLock l(&mu_);
    head_ += n;
  }
  void SetRetention(uint64_t oldest, uint64_t snapshot_pos, int chunks) {
    MutexLock l(&mu_);
    oldest_ = oldest;
    snapshot_pos_ = snapshot_pos;
    chunks_ = chunks;
  }

  Result<uint64_t> Head() override {
    MutexLock l(&mu_);
    return head_;
  }
  Result<uint64_t> Oldest() override {
    MutexLock l(&mu_);
    return oldest_;
  }
  Result<std::string> ReadBatch(uint64_t after, size_t max_entries, size_t max_bytes) override {
    MutexLock l(&mu_);
    const uint64_t first = std::max(after + 1, oldest_);
    if (first > head_) return std::string();
    uint64_t n = std::min<uint64_t>(max_entries, head_ - first + 1);
    n = std::max<uint64_t>(1, std::min<uint64_t>(n, max_bytes / entry_bytes_));
    std::string frame =
        "batch:" + std::to_string(first) + "-" + std::to_string(first + n - 1) + ":";
    frame.resize(frame.size() + n * entry_bytes_, 'x');
    return frame;
  }
  Status Snapshot(const std::function<Status(uint64_t)>& begin,
                  const std::function<Status(std::string)>& chunk) override {
    uint64_t pos;
    int chunks;
    {
      MutexLock l(&mu_);
      pos = snapshot_pos_;
      chunks = chunks_;
    }
    MERIDIAN_RETURN_IF_ERROR(begin(pos));
    for (int i = 0; i < chunks; ++i) {
      // Not a wait for a condition: a deliberately slow source.
      if (chunk_delay_.count() > 0) std::this_thread::sleep_for(chunk_delay_);
      MERIDIAN_RETURN_IF_ERROR(chunk("chunk:" + std::to_string(i)));
    }
    return Status::OK();
  }

 private:
  Mutex mu_;
  uint64_t head_ GUARDED_BY(mu_);
  uint64_t oldest_ GUARDED_BY(mu_) = 1;
  uint64_t snapshot_pos_ GUARDED_BY(mu_) = 0;
  int chunks_ GUARDED_BY(mu_) = 0;
  const size_t entry_bytes_;

 public:
  // Makes Snapshot() slow, like a large namespace (set before serving).
  std::chrono::milliseconds chunk_delay_{0};
};

inline CurveKeyPair Keys() {
  Result<CurveKeyPair> k = GenerateCurveKeyPair();
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return *k;
}

class StreamTest : public ::testing::Test {
 protected:
  StreamServer::Options ServerOptions(std::vector<std::string> allowed) {
    StreamServer::Options o;
    o.server_keys = server_keys_;
    o.allowed_client_keys = std::move(allowed);
    o.batch_max_entries = 100;
    o.heartbeat = 200ms;
    o.peer_timeout = 1000ms;
    return o;
  }
  std::unique_ptr<StreamServer> StartServer(StreamServer::Options o, LogSource* log) {
    Result<std::unique_ptr<StreamServer>> s = StartStreamServer(std::move(o), log, ParseSpan);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // A server for client a_ that knows its volume (mirrors of others refused).
  std::unique_ptr<StreamServer> StartServerOfVolume(const std::string& uuid, LogSource* log) {
    auto o = ServerOptions({a_.public_key});
    o.volume_uuid = uuid;
    return StartServer(std::move(o), log);
  }
  StreamClient::Options ClientOptions(const std::string& endpoint, const CurveKeyPair& keys,
                                      const std::string& name) {
    StreamClient::Options o;
    o.connect = endpoint;
    o.server_public_key = server_keys_.public_key;
    o.client_keys = keys;
    o.site_name = name;
    o.heartbeat = 200ms;
    o.peer_timeout = 1000ms;
    return o;
  }
  std::unique_ptr<StreamClient> Connect(StreamClient::Options o) {
    Result<std::unique_ptr<StreamClient>> c = StreamClient::Connect(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // Receives batches until `until`, requiring each to start right after *pos;
  // acks each one if `ack`.
  static ::testing::AssertionResult Drain(StreamClient* c, uint64_t* pos, uint64_t until, bool ack,
                                          std::chrono::milliseconds limit = 20s) {
    const auto deadline = Clock::now() + limit;
    while (*pos < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return ::testing::AssertionFailure() << "stuck at " << *pos;
      Result<StreamClient::Event> ev = c->Next(left);
      if (!ev.ok()) return ::testing::AssertionFailure() << ev.status().ToString();
      if (ev->kind == StreamClient::Event::kNone) continue;
      if (ev->kind != StreamClient::Event::kBatch) {
        return ::testing::AssertionFailure() << "unexpected event " << ev->kind;
      }
      Result<BatchSpan> span = ParseSpan(ev->frame);
      if (!span.ok() || span->first != *pos + 1) {
        return ::testing::AssertionFailure()
               << "after " << *pos << " got " << ev->frame.substr(0, 40);
      }
      *pos = span->last;
      if (ack) {
        Status st = c->Ack(*pos);
        if (!st.ok()) return ::testing::AssertionFailure() << st.ToString();
      }
    }
    return ::testing::AssertionSuccess();
  }

  // Every event up to and including a SNAPSHOT_END, none missing for 3 s.
  static ::testing::AssertionResult UntilSnapshotEnd(StreamClient* c,
                                                     std::vector<StreamClient::Event>* events) {
    while (events->empty() || events->back().kind != StreamClient::Event::kSnapshotEnd) {
      Result<StreamClient::Event> ev = c->Next(3s);
      if (!ev.ok()) return ::testing::AssertionFailure() << ev.status().ToString();
      if (ev->kind == StreamClient::Event::kNone) {
        return ::testing::AssertionFailure() << "stuck after " << events->size() << " events";
      }
      events->push_back(*ev);
    }
    return ::testing::AssertionSuccess();
  }

  // A hand-driven DEALER: CURVE with `keys`, or plain if null. Its routing
  // id is its public key, as a real mirror's, unless `routing_id` is given.
  zmq::socket_t RawDealer(const std::string& endpoint, const CurveKeyPair* keys,
                          const std::string& server_key, const std::string& routing_id = "") {
    zmq::socket_t s(raw_ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (keys != nullptr) {
      s.set(zmq::sockopt::curve_serverkey, server_key);
      s.set(zmq::sockopt::curve_publickey, keys->public_key);
      s.set(zmq::sockopt::curve_secretkey, keys->secret_key);
      s.set(zmq::sockopt::routing_id, routing_id.empty() ? keys->public_key : routing_id);
    }
    s.connect(endpoint);
    return s;
  }
  static void SendRaw(zmq::socket_t& s, std::vector<std::string> frames) {
    zmq::multipart_t m;
    for (const auto& f : frames) m.addstr(f);
    m.send(s);
  }
  static std::string Hello(uint32_t session, uint64_t after, uint32_t credit) {
    Header h;
    h.type = Type::kHello;
    h.session = session;
    h.a = after;
    h.credit = credit;
    return EncodeHeader(h, 3);
  }
  // Counts messages of `type` arriving on `s` within `window`.
  static int Count(zmq::socket_t& s, Type type, std::chrono::milliseconds window) {
    int n = 0;
    const auto end = Clock::now() + window;
    while (Clock::now() < end) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 50ms) == 0) continue;
      zmq::multipart_t m(s);
      if (!m.empty() && m[0].size() > 5 &&
          static_cast<uint8_t>(m[0].data<char>()[5]) == static_cast<uint8_t>(type)) {
        ++n;
      }
    }
    return n;
  }

  CurveKeyPair server_keys_ = Keys();
  CurveKeyPair a_ = Keys();
  CurveKeyPair b_ = Keys();
  zmq::context_t raw_ctx_;
};

}  // namespace meridian::sitelink::streamtest
