// The site cache service (cache-mode sites): a group of cache nodes on a site's
// machines, each a DiskCache (cache/disk_cache.h) behind a ZeroMQ server,
// shared by every reader on the site. A block lives on one node, chosen by
// rendezvous hashing of its id over the group's endpoints, so adding a node
// to N moves about 1/(N+1) of the blocks and losing one loses only its share.
//
// Security: like the site link (sitelink/stream.h). Every connection is
// CURVE-encrypted; the server runs a ZAP handler (sitelink/zap.h)
// that accepts only the client public keys on its allow-list. All nodes of a
// group may share one server key pair.
//
// Protocol (docs/cache-protocol.md): a client sends one request and waits
// for one reply (REQ/REP semantics over the CURVE socket):
//   request  ["GET"|"WARM"|"HAS"|"EVICT", ref]   ref = EncodeRef(BlockRef)
//   request  ["STATS"]
//   reply    ["OK", bytes]          GET: the block's verified stored bytes
//            ["OK"]                 WARM (now cached)
//            ["OK", "0"|"1"|"2"]    HAS (missing, intact, damaged); request
//                                   ["HAS", ref, "verify"] also checks SHA-256
//            ["OK", "0"|"1"]        EVICT (now gone; "1": it was cached)
//            ["OK", json]           STATS: DiskCacheStats (+ CacheServerStats) as JSON
//            ["ERR", code, message] code = the Status code as a decimal
// GET and WARM fill a miss from the node's `fetch` (the primary's bucket),
// single-flight per node: N concurrent requests for a missing block at one
// node fetch it once. The node verifies every block (DiskCache) and the
// client verifies again (VerifyStoredBlock) before returning bytes.
//
// Thread-safety: CacheServer and CacheGroup are thread-safe; the server
// answers requests on `threads` worker threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/disk_cache.h"
#include "common/block.h"
#include "common/clock.h"
#include "common/status.h"

namespace meridian::cache {

// 1 + 8 + 4 + 4 + 1 + 32 bytes: version 1, id, len, stored_length, comp,
// sha256 (little-endian integers).
std::string EncodeRef(const BlockRef& ref);
Result<BlockRef> DecodeRef(std::string_view bytes);

struct CacheServerOptions {
  std::string bind = "tcp://127.0.0.1:0";  // ZeroMQ endpoint; port 0 = any
  std::string public_key, secret_key;      // this node's CURVE key pair (Z85)
  std::vector<std::string> allowed_keys;   // client public keys (Z85)
  DiskCache* cache = nullptr;              // REQUIRED, outlives the server
  // Reads a block's stored bytes from the origin (the primary's bucket).
  std::function<Result<std::string>(const BlockRef&)> fetch;  // REQUIRED
  int threads = 16;                                           // request workers
  // Tests only: runs on a worker before it sends each reply; a
  // zmq::error_t it throws ends that worker as a socket error would.
  std::function<void()> before_reply_for_test;
};

struct CacheServerStats {
  uint64_t requests = 0;
  uint64_t fetched_blocks = 0;  // fills from the origin
  uint64_t fetched_bytes = 0;
};

class CacheServer {
 public:
  // Binds and starts serving. InvalidArgument for bad keys or options.
  static Result<std::unique_ptr<CacheServer>> Start(CacheServerOptions options);
  ~CacheServer();  // stops the workers and closes the socket
  CacheServer(const CacheServer&) = delete;
  CacheServer& operator=(const CacheServer&) = delete;

  // The bound endpoint, e.g. "tcp://127.0.0.1:41234".
  std::string endpoint() const;
  CacheServerStats stats() const;
  // OK while every worker and the broker run; otherwise the first ZeroMQ
  // error that ended one (also logged). The owner decides (`meridian cache`
  // exits with it, so that its supervisor restarts a whole node).
  Status status() const;

 private:
  struct Impl;
  explicit CacheServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CacheGroupOptions {
  std::vector<std::string> nodes;            // endpoints, e.g. "tcp://10.0.0.5:7100"
  std::string server_public_key;             // the nodes' CURVE public key (Z85)
  std::string public_key, secret_key;        // this client's key pair (on the allow-list)
  std::chrono::milliseconds timeout{5000};   // per request; then the node counts as down
  std::chrono::milliseconds down_for{5000};  // a node that timed out is skipped this long
  Clock* clock = nullptr;  // times down_for (not the request timeout); null: RealClock()
};

class CacheGroup {
 public:
  static Result<std::unique_ptr<CacheGroup>> Open(CacheGroupOptions options);
  ~CacheGroup();
  CacheGroup(const CacheGroup&) = delete;
  CacheGroup& operator=(const CacheGroup&) = delete;

  // The nodes in rendezvous order for block `id` (the first is its owner).
  std::vector<std::string> NodesFor(uint64_t id) const;
  // The block's verified stored bytes from its owner (filled there from the
  // origin on a miss). If the owner is down or fails, the next node in
  // rendezvous order is tried; Unavailable when no node answers.
  Result<std::string> Get(const BlockRef& ref);
  // Makes the block cached at its owner (fetching it there if needed).
  Status Warm(const BlockRef& ref);
  // How the owner holds the block (no fetch): intact means its file has the
  // stored length and, with `verify`, the right SHA-256 (the node reads it).
  Result<DiskCache::Presence> Has(const BlockRef& ref, bool verify = false);
  // Removes the block from every node that holds it; true if one did.
  Result<bool> Evict(const BlockRef& ref);
  // Each node's DiskCacheStats as JSON, keyed by endpoint (a down node: its error).
  std::string StatsJson();
  std::string Describe() const;  // "cache group tcp://a,tcp://b"

 private:
  struct Impl;
  explicit CacheGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::cache
