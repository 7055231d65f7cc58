// The site-link server: one ROUTER socket, one thread, per-mirror state.
//
// Threads: the server thread owns router_, wake_rx_, peers_ and all calls into
// the LogSource. Notify() (any thread) writes one byte to wake_tx_ under
// wake_mu_; Mirrors() (any thread) copies mirrors_ under mirrors_mu_. Lock
// order: the two mutexes are never held together.
//
// Snapshots: with Options::snapshot_source, each snapshotting mirror gets a
// SnapshotJob: a thread with a LogSource of its own that spools chunks to
// an unlinked file, which the server thread reads as the mirror's credit
// allows (memory per mirror: a chunk; the source's transaction ends when the
// database is read; the server keeps serving everyone). Without it, the
// snapshot runs to completion on the server thread into memory (sources
// that must stay on one thread). A mirror being sent a snapshot, or sent one
// it has not acknowledged yet, holds the log after its position
// (MirrorState::snapshot_pos) so that log retention cannot undo it.
#include <fcntl.h>
#include <glog/logging.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/mutex.h"
#include "sitelink/snapshot_job.h"
#include "sitelink/stream_io.h"
#include "sitelink/stream_server.h"
#include "sitelink/zap.h"

namespace meridian::sitelink {
namespace {

using Clock = std::chrono::steady_clock;

struct Peer {
  std::string routing_id;  // == public_key (Server::HandleMessage)
  std::string public_key;  // Z85, from the ZAP User-Id
  std::string name;
  uint32_t session = 0;     // of the last valid HELLO
  bool joined = false;      // a HELLO was accepted once: Mirrors() reports it
  uint64_t next_after = 0;  // the next batch starts after this position
  // The highest position this session may acknowledge: its HELLO's, the
  // last batch sent, or its snapshot's once begun. An ACK or HEARTBEAT past
  // it is refused, never stored.
  uint64_t sent_upto = 0;
  uint32_t credit = 0;  // batches/chunks it may still be sent
  uint64_t acked = 0;
  bool connected = true;
  Clock::time_point last_seen;
  Clock::time_point retry_at;  // after EAGAIN, leave it alone until then
  // A snapshot in progress: BEGIN, chunks, END. `snapshot` without `job`:
  // waiting for one of Options::max_snapshots to free up.
  bool snapshot = false;
  bool snapshot_begun = false;
  uint64_t snapshot_pos = 0;
  uint64_t chunks_sent = 0;
  std::unique_ptr<SnapshotJob> job;    // produces the chunks
  std::optional<std::string> pending;  // taken from the job, not sent yet (no credit, EAGAIN)
  // A snapshot's position while it is being sent and until the mirror
  // acknowledges it: the log after it must stay (MirrorState::snapshot_pos).
  uint64_t hold = 0;
};

// Where snapshot spool files go: Options::snapshot_spool_dir, else $TMPDIR,
// else /var/tmp (on disk, unlike a tmpfs /tmp).
std::string SpoolDir(const StreamServer::Options& o) {
  if (!o.snapshot_spool_dir.empty()) return o.snapshot_spool_dir;
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp";
}

class Server final : public StreamServer {
 public:
  Server(Options options, LogSource* source, BatchSpanFn span)
      : options_(std::move(options)), source_(source), span_(std::move(span)) {}
  ~Server() override;

  Status Init();
  std::string endpoint() const override { return endpoint_; }
  void Notify() override;
  std::vector<MirrorState> Mirrors() const override;

 private:
  void Run();
  void Loop();
  void HandleMessage(Received& in, Clock::time_point now);
  void HandleHello(Peer& peer, const Message& m);
  // Asks for a snapshot for `peer`; it starts now if fewer than
  // Options::max_snapshots are running, else when one ends (Pump).
  bool StartSnapshot(Peer& peer);
  bool SnapshotSlotFree();
  void FailSnapshot(Peer& peer, const Status& why);
  // Ends the peer's snapshot: its producer is cancelled and destroyed once
  // finished (ReapSnapshots), never waited for on this thread.
  void DropSnapshot(Peer& peer);
  void ReapSnapshots();
  // Wakes the loop for snapshot news (no log head to re-read).
  void WakeForSnapshot();
  // Heartbeats to every connected peer with a session (no timeouts).
  void SendHeartbeats(Clock::time_point now);
  void PumpAll(Clock::time_point now);
  void Pump(Peer& peer, Clock::time_point now);
  bool Send(Peer& peer, const Header& h, const std::string* payload, Clock::time_point now);
  void SendError(std::string_view routing_id, uint32_t session, uint32_t code, std::string text);
  void Tick(Clock::time_point now);
  bool RefreshHead();  // false (head_ kept) if the source cannot say
  void Publish(const Peer& peer);

  const Options options_;
  LogSource* const source_;
  const BatchSpanFn span_;
  std::string endpoint_;  // set in Init, then immutable

  zmq::context_t ctx_;  // one per server; shut down in the destructor
  std::unique_ptr<ZapHandler> zap_;
  zmq::socket_t router_;   // server thread only (after Init)
  zmq::socket_t wake_rx_;  // server thread only (after Init)
  Mutex wake_mu_;
  zmq::socket_t wake_tx_ GUARDED_BY(wake_mu_);
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> head_dirty_{false};  // a Notify(): re-read the head when woken

  // Server-thread state.
  std::unordered_map<std::string, Peer> peers_;        // by routing id
  std::vector<std::unique_ptr<SnapshotJob>> retired_;  // cancelled, maybe still running
  uint64_t head_ = 0;                                  // cached source_->Head()
  Clock::time_point next_tick_;

  mutable Mutex mirrors_mu_;
  std::map<std::string, MirrorState> mirrors_ GUARDED_BY(mirrors_mu_);  // by public key

  std::thread thread_;
};

Server::~Server() {
  ctx_.shutdown();  // blocking calls in the server thread return ETERM
  if (thread_.joinable()) thread_.join();
  peers_.clear();  // snapshot producers stop before the wake socket goes
  retired_.clear();
  {
    MutexLock l(&wake_mu_);
    wake_tx_.close();
  }
  router_.close();
  wake_rx_.close();
  zap_.reset();
  ctx_.close();
}

Status Server::Init() {
  MERIDIAN_RETURN_IF_ERROR(CheckZ85Key(options_.server_keys.secret_key, "server secret key"));
  if (options_.heartbeat.count() <= 0 || options_.peer_timeout <= options_.heartbeat) {
    return Status::InvalidArgument("site-link server: need 0 < heartbeat < peer_timeout");
  }
  if (options_.batch_max_entries == 0 || options_.batch_max_bytes == 0) {
    return Status::InvalidArgument("site-link server: batch limits must be positive");
  }
  if (options_.max_snapshots == 0) {
    return Status::InvalidArgument("site-link server: max_snapshots must be at least 1");
  }
  // The ZAP handler must be bound before the CURVE socket binds.
  MERIDIAN_ASSIGN_OR_RETURN(zap_, ZapHandler::Start(&ctx_, options_.allowed_client_keys));
  try {
    const std::string wake =
        "inproc://meridian-stream-wake-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    wake_rx_ = zmq::socket_t(ctx_, zmq::socket_type::pair);
    wake_rx_.bind(wake);
    {
      MutexLock l(&wake_mu_);
      wake_tx_ = zmq::socket_t(ctx_, zmq::socket_type::pair);
      wake_tx_.set(zmq::sockopt::linger, 0);
      wake_tx_.connect(wake);
    }

    router_ = zmq::socket_t(ctx_, zmq::socket_type::router);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::router_mandatory, true);
    router_.set(zmq::sockopt::router_handover, true);  // a reconnecting mirror takes over its id
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes));
    router_.set(zmq::sockopt::curve_server, true);
    router_.set(zmq::sockopt::curve_secretkey, options_.server_keys.secret_key);
    router_.bind(options_.bind);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("site-link server: binding " + options_.bind + ": " + e.what() +
                               " (is the port in use or the address wrong?)");
  }
  RefreshHead();
  LOG(INFO) << "site-link server listening on " << endpoint_ << " ("
            << options_.allowed_client_keys.size() << " allowed mirror keys)";
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void Server::Notify() {
  head_dirty_ = true;
  WakeForSnapshot();
}

void Server::WakeForSnapshot() {
  if (wake_pending_.exchange(true)) return;  // a wake-up is already on its way
  MutexLock l(&wake_mu_);
  try {
    (void)wake_tx_.send(zmq::str_buffer("w"), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // Shutting down: nothing to wake.
  }
}

std::vector<MirrorState> Server::Mirrors() const {
  MutexLock l(&mirrors_mu_);
  std::vector<MirrorState> out;
  for (const auto& [id, m] : mirrors_) out.push_back(m);
  return out;
}

void Server::Publish(const Peer& peer) {
  if (!peer.joined) return;  // refused peers hold no position (GC would wait for them)
  MirrorState m;
  m.name = peer.name;
  m.public_key = peer.public_key;
  m.acked = peer.acked;
  m.snapshot_pos = peer.hold;
  m.connected = peer.connected;
  m.last_seen = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() -
                                                                                peer.last_seen);
  MutexLock l(&mirrors_mu_);
  mirrors_[peer.public_key] = std::move(m);
}

void Server::Run() {
  try {
    Loop();
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) LOG(ERROR) << "site-link server stopped: " << e.what();
  }
}

void Server::Loop() {
  next_tick_ = Clock::now() + options_.heartbeat;
  Received in;
  for (;;) {
    zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                               {wake_rx_.handle(), 0, ZMQ_POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick_ - Clock::now());
    // Peers that hit EAGAIN are retried after a short pause.
    for (const auto& [id, p] : peers_) {
      if (p.retry_at > Clock::now()) wait = std::min(wait, std::chrono::milliseconds(10));
    }
    try {
      zmq::poll(items, 2, std::max(wait, std::chrono::milliseconds(0)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    Clock::time_point now = Clock::now();
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t drop;
      while (wake_rx_.recv(drop, zmq::recv_flags::dontwait)) {
      }
      // After draining and before reading the head: a Notify() that still
      // saw `true` is covered by the RefreshHead() below; a later one sends a
      // new byte.
      wake_pending_ = false;
      if (head_dirty_.exchange(false)) RefreshHead();
    }
    // Bounded drain so that a chatty peer cannot starve the others' batches.
    for (int i = 0; i < 256 && RecvBounded(router_, 3, options_.max_message_bytes, &in); ++i) {
      HandleMessage(in, now);
    }
    if (now >= next_tick_) {
      Tick(now);
      next_tick_ = now + options_.heartbeat;
    }
    PumpAll(now);
  }
}

bool Server::RefreshHead() {
  Result<uint64_t> head = source_->Head();
  if (head.ok()) {
    head_ = *head;
    return true;
  }
  LOG_EVERY_N(WARNING, 100) << "site-link server: reading the log head: "
                            << head.status().ToString();
  return false;
}

void Server::HandleMessage(Received& in, Clock::time_point now) {
  if (in.frames.empty()) return;
  const std::string routing_id = in.frames[0].to_string();
  // A mirror's routing id is its public key (StreamClient), so a key holds
  // one route and one peer state here, whatever it sends: a connection that
  // calls itself anything else is not served (it could otherwise open
  // sessions, and snapshots, without bound).
  if (routing_id != in.user_id) {
    LOG_EVERY_N(WARNING, 100) << "site-link server: dropped a message from mirror key "
                              << in.user_id << " on a connection whose routing id is not its key";
    return;
  }
  if (in.oversized || in.frames.size() < 2) {
    LOG_EVERY_N(WARNING, 100) << "site-link server: dropped an oversized or empty message from "
                              << in.user_id;
    return;
  }
  Result<Message> parsed = ParseMessage(Views(in.frames, 1), options_.max_message_bytes);
  if (!parsed.ok()) {
    if (IsHelloOfOtherVersion(in.frames[1].to_string_view())) {
      SendError(routing_id, 0, kErrVersion,
                "this primary speaks site-link protocol version " + std::to_string(kVersion));
    }
    LOG_EVERY_N(WARNING, 100) << "site-link server: dropped a message from mirror key "
                              << in.user_id << ": " << parsed.status().ToString();
    return;
  }
  const Message& m = *parsed;
  auto it = peers_.find(routing_id);
  if (m.header.type == Type::kHello) {
    if (it == peers_.end() || it->second.public_key != in.user_id) {
      if (it != peers_.end()) DropSnapshot(it->second);  // never joined here
      Peer fresh;
      fresh.routing_id = routing_id;
      fresh.public_key = in.user_id;
      it = peers_.insert_or_assign(routing_id, std::move(fresh)).first;
    }
    it->second.last_seen = now;
    it->second.connected = true;
    HandleHello(it->second, m);
    return;
  }
  if (it == peers_.end() || it->second.session == 0 || it->second.public_key != in.user_id) {
    if (m.header.type == Type::kAck || m.header.type == Type::kHeartbeat) {
      SendError(routing_id, m.header.session, kErrNoSession, "send HELLO first");
    } else {
      LOG_EVERY_N(WARNING, 100) << "site-link server: unexpected " << TypeName(m.header.type)
                                << " from a mirror without a session";
    }
    return;
  }
  Peer& peer = it->second;
  const bool was_connected = peer.connected;
  peer.last_seen = now;
  peer.connected = true;
  if (!was_connected) LOG(INFO) << "site-link: mirror " << peer.name << " is back";
  switch (m.header.type) {
    case Type::kAck:
    case Type::kHeartbeat:
      if (m.header.session != peer.session) break;  // from before the last HELLO
      if (m.header.a > peer.sent_upto) {
        LOG_EVERY_N(WARNING, 100) << "site-link server: mirror " << peer.name << " (key "
                                  << peer.public_key << ") acknowledged position " << m.header.a
                                  << ", past the " << peer.sent_upto << " it was sent; ignored";
        break;
      }
      peer.acked = std::max(peer.acked, m.header.a);
      if (peer.hold != 0 && peer.acked >= peer.hold) {
        peer.hold = 0;  // installed: the log after it may go now
        Publish(peer);
      }
      if (m.header.type == Type::kAck) {
        peer.credit = std::min<uint64_t>(kMaxCredit, uint64_t{peer.credit} + m.header.credit);
      }
      break;
    default:
      LOG_EVERY_N(WARNING, 100) << "site-link server: mirror " << peer.name << " sent "
                                << TypeName(m.header.type) << ", which only servers send";
      break;
  }
  if (!was_connected || m.header.type == Type::kAck) Publish(peer);
}

void Server::HandleHello(Peer& peer, const Message& m) {
  // The name is the peer's only once its HELLO is accepted: a refused HELLO
  // of a key that had joined must not rename the position it holds.
  std::string name, volume;
  (void)SplitHello(m.payload, &name, &volume);  // checked when parsed
  if (!options_.volume_uuid.empty() && !volume.empty() && volume != options_.volume_uuid) {
    LOG(ERROR) << "site-link: mirror " << name << " (key " << peer.public_key << ") follows volume "
               << volume << ", not this primary's " << options_.volume_uuid << "; refused";
    DropSnapshot(peer);
    peer.hold = 0;
    SendError(peer.routing_id, m.header.session, kErrWrongVolume,
              "this primary serves volume " + options_.volume_uuid +
                  " but this mirror's replica follows volume " + volume +
                  ": point the mirror at its own primary, or give it a new, empty database to "
                  "follow this one");
    peer.session = 0;
    return;
  }
  peer.name = std::move(name);
  DropSnapshot(peer);
  peer.hold = 0;  // a new session: a snapshot it needs is started again
  peer.session = 0;
  peer.retry_at = {};
  // The position is checked against a head read now, never a cached one: a
  // mirror may legitimately be past what this server last read.
  Result<uint64_t> oldest = source_->Oldest();
  if (!RefreshHead() || !oldest.ok()) {
    LOG(WARNING) << "site-link server: reading the log head or oldest position: "
                 << (oldest.ok() ? "head unreadable" : oldest.status().ToString());
    SendError(peer.routing_id, m.header.session, kErrServer, "primary cannot read its log");
    Publish(peer);
    return;
  }
  if (m.header.a > head_) {
    LOG_EVERY_N(ERROR, 10) << "site-link: mirror " << peer.name << " (key " << peer.public_key
                           << ") claims position " << m.header.a << " beyond the primary's head "
                           << head_
                           << ": refused. Either this primary lost changes that mirror applied "
                              "(restored from a backup?) and the mirror must be rebuilt from an "
                              "empty database, or the peer is not a real mirror";
    SendError(peer.routing_id, m.header.session, kErrAhead,
              "the primary's log ends at position " + std::to_string(head_) +
                  " but this mirror has applied up to " + std::to_string(m.header.a) +
                  ": the primary lost changes this mirror has (restored from a backup, or "
                  "re-formatted). Check the primary; then give this mirror a new, empty database "
                  "(it bootstraps from a snapshot of the primary as it is now)");
    Publish(peer);
    return;
  }
  peer.joined = true;
  peer.session = m.header.session;
  peer.next_after = m.header.a;
  peer.sent_upto = m.header.a;
  peer.acked = m.header.a;
  peer.credit = m.header.credit;
  LOG(INFO) << "site-link: mirror " << peer.name << " (key " << peer.public_key
            << ") subscribed after " << m.header.a << " with credit " << m.header.credit;
  if (m.header.a + 1 < *oldest) StartSnapshot(peer);
  Publish(peer);
}

bool Server::SnapshotSlotFree() {
  ReapSnapshots();
  // Producers still reading the database (each holds a connection and a
  // transaction there); one that is done holds only its spool file.
  size_t running = retired_.size();  // cancelled, not finished yet
  for (const auto& [id, p] : peers_) running += p.job != nullptr && !p.job->finished();
  return running < options_.max_snapshots;
}

bool Server::StartSnapshot(Peer& peer) {
  DropSnapshot(peer);
  peer.snapshot = true;
  peer.snapshot_begun = false;
  peer.chunks_sent = 0;
  if (options_.snapshot_source) {
    if (!SnapshotSlotFree()) {
      LOG(INFO) << "site-link: mirror " << peer.name << " is behind the log retention; its "
                << "snapshot waits for one of the " << options_.max_snapshots << " running";
      return true;  // Pump starts it when a slot frees
    }
    LOG(INFO) << "site-link: mirror " << peer.name << " is behind the log retention; snapshotting";
    peer.job = std::make_unique<SnapshotJob>(options_.snapshot_source, SpoolDir(options_),
                                             [this] { WakeForSnapshot(); });
    return true;
  }
  LOG(INFO) << "site-link: mirror " << peer.name << " is behind the log retention; snapshotting";
  peer.job = std::make_unique<SnapshotJob>(source_, [this] {
    // A large snapshot takes longer than a peer timeout to build: keep every
    // link alive meanwhile (peers are not timed out here, since their
    // messages are not being read).
    if (Clock::now() >= next_tick_) {
      SendHeartbeats(Clock::now());
      next_tick_ = Clock::now() + options_.heartbeat;
    }
  });
  // Messages that arrived while we were busy count from now.
  for (auto& [id, p] : peers_) {
    if (p.connected) p.last_seen = std::max(p.last_seen, Clock::now() - options_.heartbeat);
  }
  if (Status error; peer.job->Failed(&error)) {
    FailSnapshot(peer, error);
    return false;
  }
  LOG(INFO) << "site-link: snapshot for " << peer.name << " at " << peer.job->pos().value_or(0)
            << ": " << peer.job->chunks() << " chunks";
  return true;
}

void Server::DropSnapshot(Peer& peer) {
  peer.snapshot = false;
  peer.pending.reset();
  if (!peer.job) return;
  peer.job->Cancel();
  retired_.push_back(std::move(peer.job));
  ReapSnapshots();
}

void Server::ReapSnapshots() {
  std::erase_if(retired_, [](const std::unique_ptr<SnapshotJob>& j) { return j->finished(); });
}

void Server::FailSnapshot(Peer& peer, const Status& why) {
  LOG(WARNING) << "site-link server: snapshot for " << peer.name << " failed: " << why.ToString();
  DropSnapshot(peer);
  peer.hold = 0;
  SendError(peer.routing_id, peer.session, kErrServer, "primary failed to snapshot");
  peer.session = 0;
}

void Server::PumpAll(Clock::time_point now) {
  for (auto& [id, peer] : peers_) {
    if (peer.connected && peer.session != 0 && peer.retry_at <= now) Pump(peer, now);
  }
}

void Server::Pump(Peer& peer, Clock::time_point now) {
  Header h;
  h.session = peer.session;
  for (;;) {
    if (peer.snapshot) {
      if (!peer.job) {  // waiting for a slot
        if (!SnapshotSlotFree()) return;
        if (!StartSnapshot(peer) || !peer.job) return;
      }
      if (!peer.snapshot_begun) {
        const std::optional<uint64_t> pos = peer.job->pos();
        if (!pos) {
          if (Status error; peer.job->Failed(&error)) FailSnapshot(peer, error);
          return;  // still taking it; the job wakes us
        }
        peer.snapshot_pos = *pos;
        head_ = std::max(head_, *pos);  // heartbeats never announce less than a snapshot gives
        h.type = Type::kSnapshotBegin;
        h.a = *pos;
        h.b = 0;
        if (!Send(peer, h, nullptr, now)) return;
        peer.snapshot_begun = true;
        peer.hold = *pos;
        peer.sent_upto = *pos;
        Publish(peer);
        continue;
      }
      h.a = peer.snapshot_pos;
      if (!peer.pending) {
        std::string chunk;
        Status error;
        switch (peer.job->Next(&chunk, &error)) {
          case SnapshotJob::Got::kWaiting:
            return;  // the job wakes us
          case SnapshotJob::Got::kFailed:
            FailSnapshot(peer, error);
            return;
          case SnapshotJob::Got::kChunk:
            peer.pending = std::move(chunk);
            break;
          case SnapshotJob::Got::kDone:
            h.type = Type::kSnapshotEnd;
            h.b = peer.chunks_sent;
            if (!Send(peer, h, nullptr, now)) return;
            LOG(INFO) << "site-link: snapshot " << peer.snapshot_pos << " sent to " << peer.name
                      << " (" << peer.chunks_sent << " chunks)";
            DropSnapshot(peer);
            peer.next_after = peer.snapshot_pos;
            continue;
        }
      }
      if (peer.credit == 0) return;
      h.type = Type::kSnapshotChunk;
      h.b = peer.chunks_sent;
      if (!Send(peer, h, &*peer.pending, now)) return;
      peer.pending.reset();
      ++peer.chunks_sent;
      --peer.credit;
      continue;
    }
    if (peer.credit == 0 || peer.next_after >= head_) return;
    Result<std::string> frame =
        source_->ReadBatch(peer.next_after, options_.batch_max_entries, options_.batch_max_bytes);
    if (!frame.ok()) {
      LOG_EVERY_N(WARNING, 100) << "site-link server: reading the log after " << peer.next_after
                                << ": " << frame.status().ToString();
      return;
    }
    if (frame->empty()) return;
    Result<BatchSpan> span = span_(*frame);
    if (!span.ok() || span->first > span->last) {
      LOG_EVERY_N(ERROR, 100) << "site-link server: unreadable batch after " << peer.next_after
                              << ": " << (span.ok() ? "bad range" : span.status().ToString());
      return;
    }
    if (span->first != peer.next_after + 1) {
      Result<uint64_t> oldest = source_->Oldest();
      if (oldest.ok() && peer.next_after + 1 < *oldest) {  // retention passed it meanwhile
        if (!StartSnapshot(peer)) return;
        continue;
      }
      LOG_EVERY_N(ERROR, 100) << "site-link server: log gap: asked after " << peer.next_after
                              << ", got a batch from " << span->first;
      return;
    }
    h.type = Type::kBatch;
    h.a = span->first;
    h.b = span->last;
    if (!Send(peer, h, &*frame, now)) return;  // dropped; read again on retry
    peer.next_after = span->last;
    peer.sent_upto = span->last;
    --peer.credit;
  }
}

bool Server::Send(Peer& peer, const Header& h, const std::string* payload, Clock::time_point now) {
  try {
    if (SendNoWait(router_, peer.routing_id, h, payload)) return true;
    peer.retry_at = now + std::chrono::milliseconds(10);  // queue full: never block
    VLOG(1) << "site-link: send queue to " << peer.name << " full; retrying later";
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) throw;
    if (e.num() != EHOSTUNREACH)
      LOG(WARNING) << "site-link: sending to " << peer.name << ": " << e.what();
    peer.connected = false;  // gone; a new HELLO revives it
    DropSnapshot(peer);      // and stops its snapshot's producer
    peer.hold = 0;           // and releases the log it held
    Publish(peer);
  }
  return false;
}

void Server::SendError(std::string_view routing_id, uint32_t session, uint32_t code,
                       std::string text) {
  Header h;
  h.type = Type::kError;
  h.session = session;
  h.credit = code;
  try {
    (void)SendNoWait(router_, routing_id, h, &text);
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) throw;
  }
}

void Server::Tick(Clock::time_point now) {
  RefreshHead();
  ReapSnapshots();
  for (auto& [id, peer] : peers_) {
    if (!peer.connected) {
      // A silent mirror keeps its snapshot (it may be busy installing a
      // chunk, not gone): probe its route; a send to a mirror whose
      // connection is gone fails and drops the snapshot (Send).
      if ((peer.job || peer.hold != 0) && peer.session != 0) {
        Header h;
        h.type = Type::kHeartbeat;
        h.session = peer.session;
        h.a = head_;
        Send(peer, h, nullptr, now);
      }
      continue;
    }
    if (now - peer.last_seen > options_.peer_timeout) {
      peer.connected = false;
      LOG(INFO) << "site-link: mirror " << peer.name << " silent for "
                << options_.peer_timeout.count() << " ms; marked disconnected";
    }
    Publish(peer);  // last_seen moves on while a link is idle (heartbeats)
  }
  SendHeartbeats(now);
}

void Server::SendHeartbeats(Clock::time_point now) {
  for (auto& [id, peer] : peers_) {
    if (!peer.connected || peer.session == 0) continue;
    Header h;
    h.type = Type::kHeartbeat;
    h.session = peer.session;
    h.a = head_;
    Send(peer, h, nullptr, now);
  }
}

}  // namespace

Result<std::unique_ptr<StreamServer>> StartStreamServer(StreamServer::Options options,
                                                        LogSource* source, BatchSpanFn span) {
  if (source == nullptr || !span) {
    return Status::InvalidArgument("site-link server needs a log source and a batch reader");
  }
  auto server = std::make_unique<Server>(std::move(options), source, std::move(span));
  MERIDIAN_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<StreamServer>(std::move(server));
}

}  // namespace meridian::sitelink
