// CacheServer (cache/cache_service.h) over ZeroMQ CURVE.
//
// Server threads: a broker thread moves requests from the CURVE ROUTER
// (clients) to whichever of the `threads` workers is idle (the zguide's
// load-balancing broker, over an inproc ROUTER); each worker has its own REQ
// socket and answers one request at a time. Shutdown: ctx.shutdown() makes
// every blocking ZeroMQ call throw ETERM, so the broker, the workers (after
// the request in hand) and the ZAP handler return and are joined; then the
// sockets are closed and the context with them.
#include <glog/logging.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cache/cache_service.h"
#include "cache/cache_wire.h"
#include "sitelink/zap.h"

namespace meridian::cache {
namespace {

using std::chrono::milliseconds;
using wire::BlockName;
using wire::ErrorReply;
using wire::Frames;
using wire::kMaxRequestFrame;
using wire::Printable;
using wire::SendParts;
using wire::ToMessage;

constexpr int kMaxThreads = 1024;
constexpr const char* kBackend = "inproc://meridian-cache-workers";

}  // namespace

struct CacheServer::Impl {
  explicit Impl(CacheServerOptions o) : options(std::move(o)) {}
  ~Impl();
  Status Init();
  void Broker();
  void Work(zmq::socket_t req);
  Frames Handle(std::span<const zmq::message_t> request);
  // GetOrFill, counting the fetches.
  Result<std::string> Fill(const BlockRef& ref);
  std::string StatsJson() const;
  // A worker or the broker ends on a ZeroMQ error: logs it and keeps the
  // first for status().
  void Died(const char* who, const zmq::error_t& e);

  const CacheServerOptions options;
  zmq::context_t ctx;
  std::unique_ptr<sitelink::ZapHandler> zap;
  zmq::socket_t frontend;  // ROUTER, CURVE server; broker_thread only once started
  zmq::socket_t backend;   // ROUTER to the workers; broker_thread only once started
  std::string endpoint;
  std::thread broker_thread;
  std::vector<std::thread> workers;  // each owns its REQ socket
  std::atomic<uint64_t> requests{0}, fetched_blocks{0}, fetched_bytes{0};
  mutable std::mutex error_mu;  // leaf
  Status error;                 // GUARDED_BY(error_mu)
};

void CacheServer::Impl::Died(const char* who, const zmq::error_t& e) {
  Status s = Status::IOError("cache server " + endpoint + ": " + who + " stopped: " + e.what() +
                             " (restart the node)");
  LOG(ERROR) << s.message();
  std::lock_guard<std::mutex> l(error_mu);
  if (error.ok()) error = std::move(s);
}

CacheServer::Impl::~Impl() {
  ctx.shutdown();  // blocking calls in every thread throw ETERM
  if (broker_thread.joinable()) broker_thread.join();
  for (std::thread& t : workers) t.join();
  frontend.close();
  backend.close();
  zap.reset();
  ctx.close();
}

Status CacheServer::Impl::Init() {
  if (options.cache == nullptr) return Status::InvalidArgument("cache server: no DiskCache");
  if (!options.fetch) return Status::InvalidArgument("cache server: no fetch function");
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return Status::InvalidArgument("cache server: threads must be 1-" +
                                   std::to_string(kMaxThreads));
  }
  MERIDIAN_RETURN_IF_ERROR(sitelink::CheckZ85Key(options.public_key, "cache server public key"));
  MERIDIAN_RETURN_IF_ERROR(sitelink::CheckZ85Key(options.secret_key, "cache server secret key"));
  char derived[41] = {0};
  if (zmq_curve_public(derived, options.secret_key.c_str()) != 0 || options.public_key != derived) {
    return Status::InvalidArgument(
        "cache server: the public key is not the secret key's pair: use both halves of one "
        "`meridian keygen` key file");
  }
  if (options.allowed_keys.empty()) {
    return Status::InvalidArgument(
        "cache server: no client keys allowed, so nobody could use it: add the readers' public "
        "keys");
  }
  // The ZAP handler must be bound before the CURVE socket binds.
  MERIDIAN_ASSIGN_OR_RETURN(zap, sitelink::ZapHandler::Start(&ctx, options.allowed_keys));
  std::vector<zmq::socket_t> reqs;
  try {
    backend = zmq::socket_t(ctx, zmq::socket_type::router);
    backend.set(zmq::sockopt::linger, 0);
    backend.bind(kBackend);
    for (int i = 0; i < options.threads; ++i) {
      zmq::socket_t req(ctx, zmq::socket_type::req);
      req.set(zmq::sockopt::linger, 0);
      req.connect(kBackend);
      reqs.push_back(std::move(req));
    }
    frontend = zmq::socket_t(ctx, zmq::socket_type::router);
    frontend.set(zmq::sockopt::linger, 0);  // replies to vanished clients are dropped
    frontend.set(zmq::sockopt::maxmsgsize, kMaxRequestFrame);
    frontend.set(zmq::sockopt::curve_server, true);
    frontend.set(zmq::sockopt::curve_secretkey, options.secret_key);
    frontend.bind(options.bind);
    endpoint = frontend.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cache server: binding " + options.bind + ": " + e.what() +
                               " (is the port in use or the address wrong?)");
  }
  // Thread start publishes the sockets to their threads.
  for (zmq::socket_t& req : reqs) {
    workers.emplace_back([this, s = std::move(req)]() mutable { Work(std::move(s)); });
  }
  broker_thread = std::thread([this] { Broker(); });
  LOG(INFO) << "cache server listening on " << endpoint << " (" << options.threads << " workers, "
            << options.allowed_keys.size() << " allowed client keys)";
  return Status::OK();
}

// The load-balancing broker: a client request goes to a worker that is idle
// (not round-robin, which would queue a hit behind a slow origin fetch); while
// none is, requests wait in the frontend's queues. Backend messages:
//   worker -> broker  [worker id, "", "READY"] | [worker id, "", envelope..., reply...]
//   broker -> worker  [worker id, "", envelope..., request...]
// where envelope is what the frontend ROUTER prepended ([client id, ""]).
void CacheServer::Impl::Broker() {
  std::deque<zmq::message_t> idle;  // ids of workers waiting for a request
  for (;;) {
    try {
      zmq::pollitem_t items[] = {{backend.handle(), 0, ZMQ_POLLIN, 0},
                                 {frontend.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, idle.empty() ? 1 : 2, milliseconds(-1));
      std::vector<zmq::message_t> m;
      if ((items[0].revents & ZMQ_POLLIN) &&
          zmq::recv_multipart(backend, std::back_inserter(m), zmq::recv_flags::dontwait) &&
          m.size() >= 3) {
        idle.push_back(std::move(m[0]));
        if (m.size() > 3) SendParts(frontend, m, 2);
      }
      m.clear();
      if (!idle.empty() && (items[1].revents & ZMQ_POLLIN) &&
          zmq::recv_multipart(frontend, std::back_inserter(m), zmq::recv_flags::dontwait)) {
        backend.send(std::move(idle.front()), zmq::send_flags::sndmore);
        idle.pop_front();
        backend.send(zmq::message_t(), zmq::send_flags::sndmore);
        SendParts(backend, m, 0);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (e.num() != ETERM) Died("broker", e);
      return;
    }
  }
}

void CacheServer::Impl::Work(zmq::socket_t req) {
  try {
    req.send(zmq::str_buffer("READY"));
    for (;;) {
      std::vector<zmq::message_t> in;
      try {
        if (!zmq::recv_multipart(req, std::back_inserter(in)) || in.empty()) continue;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      // [client id, "", request...]; a DEALER client may leave out the "".
      const size_t body = in.size() > 1 && in[1].size() == 0 ? 2 : 1;
      ++requests;
      Frames reply;
      try {
        reply = Handle(std::span<const zmq::message_t>(in).subspan(body));
      } catch (const std::exception& e) {  // a bug; never take the node down for it
        reply = ErrorReply(Status::Internal(std::string("cache server: ") + e.what()));
      }
      if (options.before_reply_for_test) options.before_reply_for_test();
      for (size_t i = 0; i < body; ++i) req.send(std::move(in[i]), zmq::send_flags::sndmore);
      for (size_t i = 0; i < reply.size(); ++i) {
        req.send(ToMessage(std::move(reply[i])),
                 i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) Died("worker", e);
  }
}

Result<std::string> CacheServer::Impl::Fill(const BlockRef& ref) {
  return options.cache->GetOrFill(ref, [&]() -> Result<std::string> {
    try {
      Result<std::string> r = options.fetch(ref);
      if (r.ok()) {
        ++fetched_blocks;
        fetched_bytes += r->size();
      }
      return r;
    } catch (const std::exception& e) {  // must not unwind through GetOrFill's waiters
      return Status::Internal("fetching " + BlockName(ref.id) + ": " + e.what());
    }
  });
}

std::string CacheServer::Impl::StatsJson() const {
  const DiskCacheStats s = options.cache->stats();
  nlohmann::json j = {{"bytes", s.bytes},
                      {"items", s.items},
                      {"hits", s.hits},
                      {"misses", s.misses},
                      {"fills", s.fills},
                      {"evictions", s.evictions},
                      {"corrupt", s.corrupt},
                      {"fetches", s.fetches},
                      {"requests", requests.load()},
                      {"fetched_blocks", fetched_blocks.load()},
                      {"fetched_bytes", fetched_bytes.load()}};
  return j.dump();
}

Frames CacheServer::Impl::Handle(std::span<const zmq::message_t> request) {
  if (request.empty()) return ErrorReply(Status::InvalidArgument("empty request"));
  const std::string verb(request[0].to_string_view());
  if (verb == "STATS") {
    if (request.size() != 1) return ErrorReply(Status::InvalidArgument("STATS takes no frames"));
    return {"OK", StatsJson()};
  }
  if (verb != "GET" && verb != "WARM" && verb != "HAS" && verb != "EVICT") {
    LOG_EVERY_N(WARNING, 100) << "cache server " << endpoint << ": unknown request '"
                              << Printable(verb) << "'";
    return ErrorReply(Status::InvalidArgument("unknown request '" + Printable(verb) +
                                              "': expected GET, WARM, HAS, EVICT or STATS"));
  }
  // HAS takes an optional third frame, "verify".
  const bool verify =
      verb == "HAS" && request.size() == 3 && request[2].to_string_view() == "verify";
  if (request.size() != 2 && !verify) {
    return ErrorReply(Status::InvalidArgument(verb + " takes one frame (the block ref)" +
                                              (verb == "HAS" ? " and optionally \"verify\"" : "") +
                                              ", got " + std::to_string(request.size() - 1)));
  }
  Result<BlockRef> ref = DecodeRef(request[1].to_string_view());
  if (!ref.ok()) return ErrorReply(ref.status());
  VLOG(2) << "cache server " << endpoint << ": " << verb << " " << ref->id;
  using Presence = DiskCache::Presence;
  if (verb == "HAS") {
    const Presence p = options.cache->Check(*ref, verify);
    return {"OK", p == Presence::kIntact ? "1" : p == Presence::kDamaged ? "2" : "0"};
  }
  if (verb == "EVICT") {
    Result<bool> gone = options.cache->Evict(ref->id);
    if (!gone.ok()) return ErrorReply(gone.status());
    return {"OK", *gone ? "1" : "0"};
  }
  // WARM reads a cached block back before calling it warm: a damaged one is
  // replaced (Get, inside Fill, deletes it and fetches it again).
  if (verb == "WARM" && options.cache->Check(*ref, /*verify=*/true) == Presence::kIntact) {
    return {"OK"};
  }
  Result<std::string> bytes = Fill(*ref);
  if (!bytes.ok()) return ErrorReply(bytes.status());
  if (verb == "GET") return {"OK", std::move(bytes).value()};
  if (!options.cache->Contains(ref->id)) {  // fetched and verified, but not kept
    return ErrorReply(Status::IOError(BlockName(ref->id) +
                                      " was fetched but could not be cached (cache full or the "
                                      "block larger than max_bytes): see the node's log"));
  }
  return {"OK"};
}

Result<std::unique_ptr<CacheServer>> CacheServer::Start(CacheServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  MERIDIAN_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<CacheServer>(new CacheServer(std::move(impl)));
}

CacheServer::CacheServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CacheServer::~CacheServer() = default;
std::string CacheServer::endpoint() const { return impl_->endpoint; }

Status CacheServer::status() const {
  std::lock_guard<std::mutex> l(impl_->error_mu);
  return impl_->error;
}

CacheServerStats CacheServer::stats() const {
  return {impl_->requests.load(), impl_->fetched_blocks.load(), impl_->fetched_bytes.load()};
}

}  // namespace meridian::cache
