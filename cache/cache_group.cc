// CacheGroup (cache/cache_service.h): the client side of a site's cache
// group over ZeroMQ CURVE.
//
// Client: per node a pool of idle REQ sockets. A request checks one out (or
// opens a new one), sends, polls until its deadline and puts the socket
// back. A socket that timed out is closed instead (a REQ socket cannot send
// again before it has received) and the node is skipped for `down_for`.
// Lock order: Node::mu is a leaf (held only to move sockets in and out).
#include <glog/logging.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cache/cache_service.h"
#include "cache/cache_wire.h"
#include "common/hash.h"
#include "sitelink/zap.h"

namespace meridian::cache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using wire::BlockName;
using wire::Frames;
using wire::kMaxReplyFrame;
using wire::Printable;
using wire::StatusFromWire;

constexpr size_t kMaxIdleSockets = 16;  // per node; more concurrent requests open more

// FNV-1a, then mixed: stable across processes and builds (std::hash is not),
// so every client of a site agrees on the owners.
uint64_t EndpointHash(std::string_view endpoint) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : endpoint) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return Mix64(h);
}

uint64_t Score(uint64_t endpoint_hash, uint64_t id) {
  return Mix64(Mix64(id + 0x9e3779b97f4a7c15ULL) ^ endpoint_hash);
}

struct Node {
  std::string endpoint;
  uint64_t hash = 0;
  std::atomic<int64_t> down_until{0};  // Clock ticks; skipped while now < this
  std::mutex mu;                       // leaf
  std::vector<zmq::socket_t> idle;     // GUARDED_BY(mu)

  bool down(Clock::time_point now) const {
    return now.time_since_epoch().count() < down_until.load();
  }
};

// True if nothing listens at a tcp:// endpoint (the connection is refused):
// a node whose process died, on a machine that is up. False when unsure
// (accepted, timed out, not tcp://).
bool ConnectionRefused(const std::string& endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  if (endpoint.rfind(kTcp, 0) != 0) return false;
  const std::string hostport = endpoint.substr(kTcp.size());
  const size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = hostport.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), hostport.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return false;
  }
  bool refused = false;
  for (addrinfo* a = res; a != nullptr && !refused; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int err = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      socklen_t len = sizeof err;
      err = ::poll(&p, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
                ? err
                : ETIMEDOUT;
    }
    refused = err == ECONNREFUSED;
    close(fd);
  }
  freeaddrinfo(res);
  return refused;
}

// What one node said.
struct Reply {
  Status status;             // OK, the node's ERR, or why there was no usable reply
  bool node_failed = false;  // no answer, or nonsense: another node may do better
  Frames frames;             // after "OK"
};

// Whether another node may succeed where this reply failed. A definitive
// answer (NotFound, Corruption from the origin, a bad ref) would be the same
// from every node, which would only fetch it again.
bool TryNext(const Reply& r) {
  const Code c = r.status.code();
  return r.node_failed || c == Code::kUnavailable || c == Code::kIOError || c == Code::kInternal;
}

}  // namespace

struct CacheGroup::Impl {
  explicit Impl(CacheGroupOptions o) : options(std::move(o)) {}
  ~Impl() {
    nodes.clear();  // closes the idle sockets first
    ctx.close();
  }
  Status Init();
  std::vector<Node*> Order(uint64_t id) const;
  zmq::socket_t OpenSocket(const Node& node);  // throws zmq::error_t
  Reply Call(Node& node, const Frames& request);
  // Sends `request` to the nodes for `id` in rendezvous order, skipping down
  // ones (the owner is tried if all are), until one answers definitively.
  // `check` vets an OK reply's frames (an error: the node failed).
  Result<Frames> Route(uint64_t id, const Frames& request,
                       const std::function<Status(const Frames&)>& check);

  const CacheGroupOptions options;
  zmq::context_t ctx;
  std::vector<std::unique_ptr<Node>> nodes;  // immutable after Init
};

Status CacheGroup::Impl::Init() {
  if (options.nodes.empty()) return Status::InvalidArgument("cache group: no nodes");
  MERIDIAN_RETURN_IF_ERROR(
      sitelink::CheckZ85Key(options.server_public_key, "cache server public key"));
  MERIDIAN_RETURN_IF_ERROR(sitelink::CheckZ85Key(options.public_key, "cache client public key"));
  MERIDIAN_RETURN_IF_ERROR(sitelink::CheckZ85Key(options.secret_key, "cache client secret key"));
  if (options.timeout.count() <= 0 || options.timeout > std::chrono::hours(1) ||
      options.down_for.count() < 0) {
    return Status::InvalidArgument("cache group: need 0 < timeout <= 1h and down_for >= 0");
  }
  for (const std::string& e : options.nodes) {
    if (std::count(options.nodes.begin(), options.nodes.end(), e) > 1) {
      return Status::InvalidArgument("cache group: node " + e + " listed twice");
    }
    auto node = std::make_unique<Node>();
    node->endpoint = e;
    node->hash = EndpointHash(e);
    try {  // connects now: checks the endpoint and starts the handshake early
      node->idle.push_back(OpenSocket(*node));
    } catch (const zmq::error_t& err) {
      return Status::InvalidArgument("cache group: node '" + e + "': " + err.what() +
                                     " (expected e.g. tcp://10.0.0.5:7100)");
    }
    nodes.push_back(std::move(node));
  }
  return Status::OK();
}

std::vector<Node*> CacheGroup::Impl::Order(uint64_t id) const {
  std::vector<std::pair<uint64_t, Node*>> scored;
  for (const auto& n : nodes) scored.emplace_back(Score(n->hash, id), n.get());
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->endpoint < b.second->endpoint;
  });
  std::vector<Node*> out;
  for (const auto& [score, n] : scored) out.push_back(n);
  return out;
}

zmq::socket_t CacheGroup::Impl::OpenSocket(const Node& node) {
  zmq::socket_t s(ctx, zmq::socket_type::req);
  const int ms = static_cast<int>(options.timeout.count());
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndtimeo, ms);
  s.set(zmq::sockopt::rcvtimeo, ms);
  s.set(zmq::sockopt::maxmsgsize, kMaxReplyFrame);
  s.set(zmq::sockopt::curve_serverkey, options.server_public_key);
  s.set(zmq::sockopt::curve_publickey, options.public_key);
  s.set(zmq::sockopt::curve_secretkey, options.secret_key);
  s.connect(node.endpoint);
  return s;
}

Reply CacheGroup::Impl::Call(Node& node, const Frames& request) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  // A reply that is slow to come may be a node that is busy fetching, or one
  // that is gone: then ask the node's port once, so a dead process costs a
  // fraction of the timeout instead of all of it.
  const Clock::time_point probe_at =
      Clock::now() + std::min<milliseconds>(options.timeout / 4, milliseconds(200));
  bool probed = false, refused = false;
  zmq::socket_t s;
  {
    std::lock_guard<std::mutex> l(node.mu);
    if (!node.idle.empty()) {
      s = std::move(node.idle.back());
      node.idle.pop_back();
    }
  }
  std::vector<zmq::message_t> in;
  bool answered = false;
  try {
    if (!s) s = OpenSocket(node);
    bool sent = true;
    for (size_t i = 0; i < request.size() && sent; ++i) {
      sent = s.send(zmq::buffer(request[i]),
                    i + 1 < request.size() ? zmq::send_flags::sndmore : zmq::send_flags::none)
                 .has_value();
    }
    // zmq_poll may return a little early (a coarse clock): wait out the deadline.
    for (Clock::time_point now = Clock::now(); sent && !answered && !refused && now < deadline;
         now = Clock::now()) {
      if (!probed && now >= probe_at) {
        probed = true;
        refused = ConnectionRefused(node.endpoint);
        continue;
      }
      const Clock::time_point until = probed ? deadline : std::min(deadline, probe_at);
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      // The parts of a message arrive together: readable means all of it.
      if (zmq::poll(&item, 1, std::chrono::ceil<milliseconds>(until - now)) > 0) {
        answered =
            zmq::recv_multipart(s, std::back_inserter(in), zmq::recv_flags::dontwait).has_value();
      }
    }
  } catch (const zmq::error_t& e) {
    Reply r;
    r.status = Status::Unavailable("cache node " + node.endpoint + ": " + e.what());
    r.node_failed = true;
    return r;  // the socket (if any) is closed here
  }
  Reply r;
  if (!answered) {
    const Clock::time_point now = OrRealClock(options.clock)->Now();
    const std::string what =
        refused ? "refuses connections (not running)"
                : "did not answer within " + std::to_string(options.timeout.count()) + " ms";
    if (!node.down(now)) {  // log once per outage, not once per waiting request
      LOG(WARNING) << "cache node " << node.endpoint << " " << what << "; skipping it for "
                   << options.down_for.count() << " ms";
    }
    node.down_until = (now + options.down_for).time_since_epoch().count();
    r.status = Status::Unavailable(
        "cache node " + node.endpoint + " " + what +
        (refused ? "" : " (down, overloaded, or this client's key is not on its allow-list)"));
    r.node_failed = true;
    return r;  // the socket is closed here: its REQ state is broken
  }
  {
    std::lock_guard<std::mutex> l(node.mu);
    if (node.idle.size() < kMaxIdleSockets) node.idle.push_back(std::move(s));
  }
  if (!in.empty() && in[0].to_string_view() == "OK") {
    for (size_t i = 1; i < in.size(); ++i) r.frames.push_back(in[i].to_string());
  } else if (in.size() == 3 && in[0].to_string_view() == "ERR") {
    r.status = StatusFromWire(in[1].to_string_view(), in[2].to_string())
                   .With("cache node " + node.endpoint);
  } else {
    r.status = Status::Corruption("cache node " + node.endpoint + ": malformed reply");
    r.node_failed = true;
  }
  return r;
}

Result<Frames> CacheGroup::Impl::Route(uint64_t id, const Frames& request,
                                       const std::function<Status(const Frames&)>& check) {
  const Clock::time_point now = OrRealClock(options.clock)->Now();
  std::vector<Node*> order = Order(id);
  std::vector<Node*> live;
  for (Node* n : order) {
    if (!n->down(now)) live.push_back(n);
  }
  if (live.empty()) live.push_back(order.front());
  std::string errors;
  Status last;
  for (Node* n : live) {
    Reply r = Call(*n, request);
    if (r.status.ok()) {
      r.status = check(r.frames).With("cache node " + n->endpoint);
      r.node_failed = !r.status.ok();
    }
    if (r.status.ok()) return std::move(r.frames);
    if (!TryNext(r)) return r.status;
    VLOG(1) << BlockName(id) << ": " << r.status.ToString() << "; trying the next node";
    errors += (errors.empty() ? "" : "; ") + r.status.ToString();
    last = r.status;
  }
  return Status(last.code(), BlockName(id) + ": no cache node could serve it: " + errors,
                last.retryable());
}

Result<std::unique_ptr<CacheGroup>> CacheGroup::Open(CacheGroupOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  MERIDIAN_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<CacheGroup>(new CacheGroup(std::move(impl)));
}

CacheGroup::CacheGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CacheGroup::~CacheGroup() = default;

std::vector<std::string> CacheGroup::NodesFor(uint64_t id) const {
  std::vector<std::string> out;
  for (const Node* n : impl_->Order(id)) out.push_back(n->endpoint);
  return out;
}

Result<std::string> CacheGroup::Get(const BlockRef& ref) {
  MERIDIAN_ASSIGN_OR_RETURN(
      Frames f, impl_->Route(ref.id, {"GET", EncodeRef(ref)}, [&](const Frames& f) {
        if (f.size() != 1) return Status::Corruption("malformed GET reply");
        return VerifyStoredBlock(ref, f[0], BlockName(ref.id) + " from the cache");
      }));
  return std::move(f[0]);
}

Status CacheGroup::Warm(const BlockRef& ref) {
  return impl_
      ->Route(ref.id, {"WARM", EncodeRef(ref)},
              [](const Frames& f) {
                return f.empty() ? Status::OK() : Status::Corruption("malformed WARM reply");
              })
      .status();
}

Result<DiskCache::Presence> CacheGroup::Has(const BlockRef& ref, bool verify) {
  Frames request = {"HAS", EncodeRef(ref)};
  if (verify) request.push_back("verify");
  MERIDIAN_ASSIGN_OR_RETURN(Frames f, impl_->Route(ref.id, request, [](const Frames& f) {
    return f.size() == 1 && (f[0] == "0" || f[0] == "1" || f[0] == "2")
               ? Status::OK()
               : Status::Corruption("malformed HAS reply");
  }));
  return f[0] == "1"   ? DiskCache::Presence::kIntact
         : f[0] == "2" ? DiskCache::Presence::kDamaged
                       : DiskCache::Presence::kMissing;
}

Result<bool> CacheGroup::Evict(const BlockRef& ref) {
  const Frames request = {"EVICT", EncodeRef(ref)};
  const Clock::time_point now = OrRealClock(impl_->options.clock)->Now();
  bool evicted = false;
  std::string evicted_at, errors;
  Status last;
  for (const auto& n : impl_->nodes) {
    Reply r;
    if (n->down(now)) {
      r.status = Status::Unavailable("cache node " + n->endpoint + " is down (timed out recently)");
    } else {
      r = impl_->Call(*n, request);
      if (r.status.ok() && (r.frames.size() != 1 || (r.frames[0] != "0" && r.frames[0] != "1"))) {
        r.status = Status::Corruption("cache node " + n->endpoint + ": malformed EVICT reply");
      }
    }
    if (r.status.ok()) {
      if (r.frames[0] == "1") {
        evicted = true;
        evicted_at += " " + n->endpoint;
      }
      continue;
    }
    errors += (errors.empty() ? "" : "; ") + r.status.ToString();
    last = r.status;
  }
  if (!last.ok()) {
    return Status(last.code(),
                  "evicting " + BlockName(ref.id) + ": " + errors +
                      (evicted ? " (evicted from" + evicted_at + ")" : "") + ": retry",
                  last.retryable());
  }
  return evicted;
}

std::string CacheGroup::StatsJson() {
  nlohmann::json out = nlohmann::json::object();
  const Clock::time_point now = OrRealClock(impl_->options.clock)->Now();
  for (const auto& n : impl_->nodes) {
    if (n->down(now)) {
      out[n->endpoint] = {{"error", "Unavailable: down (timed out recently)"}};
      continue;
    }
    Reply r = impl_->Call(*n, {"STATS"});
    if (r.status.ok()) {
      nlohmann::json j;
      if (r.frames.size() == 1) j = nlohmann::json::parse(r.frames[0], nullptr, false);
      if (j.is_object()) {
        out[n->endpoint] = std::move(j);
        continue;
      }
      r.status = Status::Corruption("cache node " + n->endpoint + ": malformed STATS reply");
    }
    out[n->endpoint] = {{"error", r.status.ToString()}};
  }
  return out.dump();
}

std::string CacheGroup::Describe() const {
  std::string out = "cache group ";
  for (size_t i = 0; i < impl_->options.nodes.size(); ++i) {
    out += (i ? "," : "") + impl_->options.nodes[i];
  }
  return out;
}

}  // namespace meridian::cache
