// Public CURVE helpers of the site link, shared with the cache protocol
// (cache/cache_server.cc, cache/cache_group.cc): key checks and the ZAP
// handler that turns CURVE's "anyone who knows the server key" into "only the
// allow-listed keys".
//
// A ZapHandler binds inproc://zeromq.zap.01 in the server's context (this must
// happen before the CURVE server socket binds) and answers every ZAP request
// (RFC 27) on its own thread: 200 with User-Id = the client's Z85 public key
// for allow-listed CURVE clients, 400 for everything else.
//
// Thread-safety: a ZapHandler owns its socket and thread; construct and
// destroy it from one thread. The key helpers are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "common/status.h"

namespace meridian::sitelink {

// True for a 40-character Z85 string that decodes to a 32-byte key.
bool IsZ85Key(std::string_view key);
// InvalidArgument naming `what` unless IsZ85Key(key); never echoes the key
// itself (it may be a secret).
Status CheckZ85Key(std::string_view key, std::string_view what);

class ZapHandler {
 public:
  // Binds the ZAP endpoint in `ctx` and starts answering. REQUIRES: every key
  // in `allowed` is a valid Z85 key; `ctx` outlives the handler.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t* ctx,
                                                   const std::vector<std::string>& allowed);
  ~ZapHandler();  // stops the thread (within ~100 ms) and closes the socket

  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  ZapHandler(zmq::socket_t socket, std::unordered_set<std::string> allowed);
  void Run();
  // Answers one request (already received as `frames`).
  void Answer(std::vector<zmq::message_t>& frames);

  // True at most once a minute per key, so a refused mirror that keeps
  // reconnecting does not flood the log.
  bool ShouldLog(const std::string& key);

  const std::unordered_set<std::string> allowed_;  // Z85 public keys; immutable
  std::unordered_map<std::string, std::chrono::steady_clock::time_point>
      last_logged_;       // thread_ only
  zmq::socket_t socket_;  // REP; used only by thread_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace meridian::sitelink
