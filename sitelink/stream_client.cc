// The site-link client: one DEALER socket, no thread of its own. All work
// (heartbeats, HELLO retries, reconnection, credit) happens inside the calls,
// so a StreamClient is used from one thread at a time; connected() alone may
// be called from any thread.
//
// Credit: the HELLO grants `credit` units; a BATCH costs one and is returned
// when the application Ack()s its last position; a SNAPSHOT_CHUNK costs one
// and is returned once the application comes back to Next() for more (chunks
// are not acknowledged by position, and a snapshot may hold millions).
#include <glog/logging.h>

#include <atomic>
#include <deque>
#include <optional>

#include "sitelink/stream.h"
#include "sitelink/stream_io.h"
#include "sitelink/zap.h"

namespace meridian::sitelink {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Client final : public StreamClient {
 public:
  explicit Client(Options options) : options_(std::move(options)) {}
  ~Client() override {
    sock_.close();
    ctx_.close();
  }

  Status Init();
  Status Subscribe(uint64_t after) override;
  Result<Event> Next(milliseconds timeout) override;
  Status Ack(uint64_t pos) override;
  bool connected() const override;
  uint64_t primary_head() const override { return head_.load(); }
  void SetVolume(const std::string& uuid) override {
    // A value HELLO cannot carry would make every HELLO malformed: keep the old.
    if (uuid.size() <= kMaxVolumeId && uuid.find('\0') == std::string::npos) volume_ = uuid;
  }

 private:
  void OpenSocket();  // throws zmq::error_t
  void StartSession(uint64_t after);
  void Maintain(Clock::time_point now);      // HELLO retry, credit, heartbeat
  void CheckSilence(Clock::time_point now);  // reconnect after peer_timeout of silence
  bool SendHeader(const Header& h, const std::string* payload);
  // Handles one valid message; an event for the application or nullopt.
  Result<std::optional<Event>> Handle(Message& m, Clock::time_point now);
  Clock::time_point NextDeadline() const;

  const Options options_;
  std::string volume_ = options_.volume_uuid;  // sent in every HELLO (SetVolume())
  zmq::context_t ctx_;                         // one per client
  zmq::socket_t sock_;                         // DEALER; replaced on reconnect

  bool subscribed_ = false;
  uint32_t session_ = 0;
  int behind_heartbeats_ = 0;   // consecutive heartbeats announcing a head below resume_after_
  uint64_t resume_after_ = 0;   // HELLO position after a reconnect: last Ack() or Subscribe()
  uint64_t expected_ = 0;       // the next BATCH must start here (this session)
  bool hello_pending_ = false;  // HELLO not yet accepted by the socket
  Clock::time_point hello_not_before_;
  std::deque<uint64_t> unacked_;   // last positions of delivered batches (this session)
  uint32_t owed_credit_ = 0;       // grants not yet sent (this session)
  uint32_t chunks_delivered_ = 0;  // chunk credit to return on the next Next()
  bool in_snapshot_ = false;
  uint64_t snapshot_pos_ = 0;
  uint64_t next_chunk_ = 0;

  Clock::time_point link_start_;  // when the current socket was opened
  Clock::time_point last_recv_;   // last message from the server (this socket)
  Clock::time_point last_send_;
  std::atomic<int64_t> last_recv_ns_{0};  // for connected(); 0 = nothing since (re)connect
  std::atomic<uint64_t> head_{0};         // for primary_head()
};

Status Client::Init() {
  MERIDIAN_RETURN_IF_ERROR(CheckZ85Key(options_.server_public_key, "server public key"));
  MERIDIAN_RETURN_IF_ERROR(CheckZ85Key(options_.client_keys.public_key, "client public key"));
  MERIDIAN_RETURN_IF_ERROR(CheckZ85Key(options_.client_keys.secret_key, "client secret key"));
  if (options_.volume_uuid.size() > kMaxVolumeId ||
      options_.volume_uuid.find('\0') != std::string::npos) {
    return Status::InvalidArgument("site-link client: volume uuid '" + options_.volume_uuid +
                                   "' is not a uuid");
  }
  MERIDIAN_RETURN_IF_ERROR(CheckSiteName(options_.site_name).With("site-link client"));
  if (options_.credit == 0 || options_.credit > kMaxCredit) {
    return Status::InvalidArgument("site-link client: credit must be 1-65536");
  }
  if (options_.heartbeat.count() <= 0 || options_.peer_timeout <= options_.heartbeat) {
    return Status::InvalidArgument("site-link client: need 0 < heartbeat < peer_timeout");
  }
  try {
    OpenSocket();
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("site-link client: connecting to '" + options_.connect +
                                   "': " + e.what());
  }
  return Status::OK();
}

void Client::OpenSocket() {
  sock_.close();
  sock_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
  sock_.set(zmq::sockopt::linger, 0);
  // Stable across reconnects, so the server's ROUTER hands the id over.
  sock_.set(zmq::sockopt::routing_id, options_.client_keys.public_key);
  sock_.set(zmq::sockopt::immediate, true);
  sock_.set(zmq::sockopt::reconnect_ivl, 100);
  sock_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  sock_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes));
  sock_.set(zmq::sockopt::curve_serverkey, options_.server_public_key);
  sock_.set(zmq::sockopt::curve_publickey, options_.client_keys.public_key);
  sock_.set(zmq::sockopt::curve_secretkey, options_.client_keys.secret_key);
  sock_.connect(options_.connect);
  link_start_ = last_send_ = Clock::now();
  last_recv_ = {};
  last_recv_ns_ = 0;
}

bool Client::connected() const {
  const int64_t ns = last_recv_ns_.load();
  return ns != 0 && Clock::now().time_since_epoch().count() - ns <
                        std::chrono::nanoseconds(options_.peer_timeout).count();
}

void Client::StartSession(uint64_t after) {
  ++session_;
  if (session_ == 0) session_ = 1;
  expected_ = after + 1;
  unacked_.clear();
  owed_credit_ = 0;
  chunks_delivered_ = 0;
  in_snapshot_ = false;
  hello_pending_ = true;
}

bool Client::SendHeader(const Header& h, const std::string* payload) {
  if (!SendNoWait(sock_, {}, h, payload)) return false;
  last_send_ = Clock::now();
  return true;
}

Status Client::Subscribe(uint64_t after) {
  subscribed_ = true;
  resume_after_ = after;
  StartSession(after);
  hello_not_before_ = {};
  try {
    Maintain(Clock::now());
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("site-link subscribe: ") + e.what());
  }
  return Status::OK();
}

Status Client::Ack(uint64_t pos) {
  if (pos + 1 > expected_ && pos > resume_after_) {
    return Status::InvalidArgument("site-link ack of " + std::to_string(pos) +
                                   " beyond the last delivered position " +
                                   std::to_string(expected_ - 1));
  }
  resume_after_ = std::max(resume_after_, pos);
  while (!unacked_.empty() && unacked_.front() <= pos) {
    unacked_.pop_front();
    ++owed_credit_;
  }
  try {
    Maintain(Clock::now());
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("site-link ack: ") + e.what());
  }
  return Status::OK();
}

void Client::CheckSilence(Clock::time_point now) {
  const Clock::time_point heard = std::max(last_recv_, link_start_);
  if (now - heard <= options_.peer_timeout) return;
  LOG(WARNING) << "site link: nothing from " << options_.connect << " for "
               << std::chrono::duration_cast<milliseconds>(now - heard).count()
               << " ms; reconnecting and resuming after " << resume_after_;
  OpenSocket();
  StartSession(resume_after_);
}

void Client::Maintain(Clock::time_point now) {
  if (!subscribed_) return;
  Header h;
  h.session = session_;
  if (hello_pending_) {
    if (now < hello_not_before_) return;
    h.type = Type::kHello;
    h.a = expected_ - 1;
    h.credit = options_.credit;
    std::string hello = options_.site_name;
    if (!volume_.empty()) hello += '\0' + volume_;
    if (!SendHeader(h, &hello)) return;  // no connection yet; retried
    hello_pending_ = false;
    return;
  }
  // Chunk credit coalesces up to half the window; ACK credit goes out at once.
  if (chunks_delivered_ >= std::max<uint32_t>(1, options_.credit / 2)) {
    owed_credit_ += chunks_delivered_;
    chunks_delivered_ = 0;
  }
  if (owed_credit_ > 0) {
    h.type = Type::kAck;
    h.a = resume_after_;
    h.credit = owed_credit_;
    if (SendHeader(h, nullptr)) owed_credit_ = 0;
  } else if (now - last_send_ >= options_.heartbeat) {
    h.type = Type::kHeartbeat;
    h.a = resume_after_;
    (void)SendHeader(h, nullptr);
  }
}

Clock::time_point Client::NextDeadline() const {
  Clock::time_point t = std::max(last_recv_, link_start_) + options_.peer_timeout + milliseconds(1);
  t = std::min(t, last_send_ + options_.heartbeat);
  if (hello_pending_ || owed_credit_ > 0) {
    t = std::min(t, std::max(hello_not_before_, Clock::now() + milliseconds(20)));
  }
  return t;
}

Result<StreamClient::Event> Client::Next(milliseconds timeout) {
  if (!subscribed_) return Status::FailedPrecondition("site-link client: Subscribe() first");
  const Clock::time_point deadline = Clock::now() + timeout;
  Received in;
  try {
    Maintain(Clock::now());  // the application is back: return credit it freed
    for (;;) {
      Clock::time_point now = Clock::now();
      // Read before judging silence: messages may have queued while the
      // application was busy.
      if (RecvBounded(sock_, 2, options_.max_message_bytes, &in)) {
        last_recv_ = now;
        last_recv_ns_ = now.time_since_epoch().count();
        if (in.oversized) {
          LOG_EVERY_N(WARNING, 100) << "site link: dropped an oversized message";
          continue;
        }
        Result<Message> m = ParseMessage(Views(in.frames, 0), options_.max_message_bytes);
        if (!m.ok()) {
          LOG_EVERY_N(WARNING, 100) << "site link: dropped a message: " << m.status().ToString();
          continue;
        }
        MERIDIAN_ASSIGN_OR_RETURN(std::optional<Event> ev, Handle(*m, now));
        if (ev) return *std::move(ev);
        continue;
      }
      CheckSilence(now);
      Maintain(now);
      now = Clock::now();
      if (now >= deadline) return Event{};
      const auto wait =
          std::chrono::duration_cast<milliseconds>(std::min(deadline, NextDeadline()) - now);
      zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::max(wait, milliseconds(1)));
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("site-link client: ") + e.what());
  }
}

Result<std::optional<StreamClient::Event>> Client::Handle(Message& m, Clock::time_point now) {
  const Header& h = m.header;
  if (h.type == Type::kHeartbeat) {
    head_ = h.a;  // the server's head as of now (it may have been restored from a backup)
    // Positions only grow at a primary and we only ever get flushed ones, so
    // a head below what we applied means the primary lost history (restored
    // from a backup, re-formatted): following it would reuse positions we
    // already applied with other contents.
    // Three heartbeats in a row, so that no single stale one can trip it.
    behind_heartbeats_ = h.a < resume_after_ ? behind_heartbeats_ + 1 : 0;
    if (behind_heartbeats_ >= 3) {
      return Status::FailedPrecondition(
          "the primary's log ends at position " + std::to_string(h.a) +
          " but this mirror has applied up to " + std::to_string(resume_after_) +
          ": the primary lost changes this mirror has (restored from a backup, or "
          "re-formatted). Check the primary; then give this mirror a new, empty database "
          "(it bootstraps from a snapshot of the primary as it is now)");
    }
    return std::optional<Event>();
  }
  if (h.type == Type::kError) {
    if (h.session != 0 && h.session != session_) return std::optional<Event>();  // stale
    switch (h.credit) {
      case kErrNoSession:  // e.g. the server restarted under a live connection
        LOG(INFO) << "site link: server has no session for us; resuming after " << resume_after_;
        StartSession(resume_after_);
        return std::optional<Event>();
      case kErrServer:
        LOG(WARNING) << "site link: server error: " << m.payload << "; retrying";
        StartSession(resume_after_);
        hello_not_before_ = now + options_.heartbeat;
        return std::optional<Event>();
      case kErrVersion:
      case kErrWrongVolume:
      case kErrAhead:
        return Status::FailedPrecondition("site link: " + m.payload);
      default:
        return Status::InvalidArgument("site link refused our request: " + m.payload);
    }
  }
  if (h.session != session_ || hello_pending_) return std::optional<Event>();  // old session
  Event ev;
  switch (h.type) {
    case Type::kBatch:
      if (in_snapshot_ || h.a != expected_) {
        LOG(WARNING) << "site link: batch " << h.a << "-" << h.b << " but expected " << expected_
                     << "; re-subscribing";
        StartSession(expected_ - 1);
        return std::optional<Event>();
      }
      expected_ = h.b + 1;
      unacked_.push_back(h.b);
      if (h.b > head_) head_ = h.b;
      ev.kind = Event::kBatch;
      ev.frame = std::move(m.payload);
      return std::optional<Event>(std::move(ev));
    case Type::kSnapshotBegin:
      if (in_snapshot_) break;
      in_snapshot_ = true;
      snapshot_pos_ = h.a;
      next_chunk_ = 0;
      ev.kind = Event::kSnapshotBegin;
      ev.pos = h.a;
      return std::optional<Event>(std::move(ev));
    case Type::kSnapshotChunk:
      if (!in_snapshot_ || h.a != snapshot_pos_ || h.b != next_chunk_) break;
      ++next_chunk_;
      ++chunks_delivered_;
      ev.kind = Event::kSnapshotChunk;
      ev.frame = std::move(m.payload);
      return std::optional<Event>(std::move(ev));
    case Type::kSnapshotEnd:
      if (!in_snapshot_ || h.a != snapshot_pos_ || h.b != next_chunk_) break;
      in_snapshot_ = false;
      expected_ = h.a + 1;
      owed_credit_ += chunks_delivered_;  // do not shrink the window for the batches
      chunks_delivered_ = 0;
      ev.kind = Event::kSnapshotEnd;
      ev.pos = h.a;
      return std::optional<Event>(std::move(ev));
    default:
      LOG_EVERY_N(WARNING, 100) << "site link: server sent " << TypeName(h.type)
                                << ", which only clients send";
      return std::optional<Event>();
  }
  // A snapshot message out of order: start over from what was applied.
  LOG(WARNING) << "site link: out-of-order " << TypeName(h.type) << "; re-subscribing";
  StartSession(resume_after_);
  return std::optional<Event>();
}

}  // namespace

Result<std::unique_ptr<StreamClient>> StreamClient::Connect(Options options) {
  auto client = std::make_unique<Client>(std::move(options));
  MERIDIAN_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<StreamClient>(std::move(client));
}

}  // namespace meridian::sitelink
