// The site link: how a primary streams its change log to mirrors over ZeroMQ.
//
// One StreamServer per primary (ROUTER socket), one StreamClient per mirror
// (DEALER socket). The mirror says "send me everything after position p"; the
// server answers with batches (opaque change-log frames, docs/changelog-format.md)
// as long as the mirror has credit, so a slow mirror is never flooded and never
// stalls the others (each mirror's state is separate; the server never blocks
// on one). The mirror acknowledges what it has applied, which returns credit
// and tells the primary each mirror's position (for status and block GC).
// If p is older than the oldest retained entry, the server first sends a
// snapshot (a consistent copy of the namespace as of some position s) and then
// the stream after s. Heartbeats both ways detect dead peers; the client
// reconnects by itself and resumes from what the mirror says it has applied.
//
// Security: CURVE encryption always; the server runs a ZAP handler that accepts
// only the public keys on its allow-list (CURVE alone would accept anyone who
// knows the server's public key). Keys are Z85 strings (40 characters).
//
// The wire protocol (message types, fields, versioning) is in
// docs/site-link-protocol.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::sitelink {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 chars
  std::string secret_key;  // Z85, 40 chars
};
Result<CurveKeyPair> GenerateCurveKeyPair();

// Where the server reads the log from (at the primary: PostgreSQL). Called
// only from the server's own thread (or, for a snapshot, from the thread of
// a source opened by Options::snapshot_source).
class LogSource {
 public:
  virtual ~LogSource() = default;
  // Position of the newest entry that may be shipped (0 if none): committed,
  // and durable, since a mirror must never hold an entry the primary could
  // still lose in a crash.
  virtual Result<uint64_t> Head() = 0;
  // Position of the oldest entry still retained (Head()+1 if none retained).
  virtual Result<uint64_t> Oldest() = 0;
  // One encoded batch frame (changelog/codec.h EncodeBatch) holding the
  // entries after `after`, at most `max_entries` of them and about `max_bytes`
  // (always at least one entry if any exists), never past what Head() may
  // report. Empty string if none.
  virtual Result<std::string> ReadBatch(uint64_t after, size_t max_entries, size_t max_bytes) = 0;
  // A consistent snapshot: calls `begin(s)` with the position s it is taken
  // at, then `chunk(bytes)` for each chunk (opaque to the transport), in order.
  virtual Status Snapshot(const std::function<Status(uint64_t)>& begin,
                          const std::function<Status(std::string)>& chunk) = 0;
};

struct MirrorState {       // as the server sees one connected or known mirror
  std::string name;        // the mirror's site name (from its hello)
  std::string public_key;  // Z85
  uint64_t acked = 0;      // highest position it acknowledged as applied
  // A snapshot at this position is being sent to it, or was and is not
  // acknowledged yet: log retention must keep the entries after it (0: none).
  uint64_t snapshot_pos = 0;
  bool connected = false;
  std::chrono::system_clock::time_point last_seen;
};

class StreamServer {
 public:
  struct Options {
    std::string bind = "tcp://127.0.0.1:0";  // "tcp://*:7000"; port 0 = OS picks
    CurveKeyPair server_keys;
    std::vector<std::string> allowed_client_keys;  // Z85 public keys
    size_t batch_max_entries = 1024;
    size_t batch_max_bytes = 4 << 20;
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds peer_timeout{5000};  // no message for this long: disconnected
    size_t max_message_bytes = 64 << 20;           // larger client messages are dropped
    // The volume this primary serves: a mirror whose replica follows another
    // volume is refused (ERROR wrong volume). Empty: not checked.
    std::string volume_uuid;
    // Opens a LogSource for a snapshot's own thread (a PgLogSource has its
    // own connection). Set: a snapshot is taken on that thread while the
    // server keeps serving, its chunks spooled to an unlinked file in
    // `snapshot_spool_dir` ("" = $TMPDIR, else /var/tmp) until the mirror's
    // credit lets them go: memory stays one chunk, and the source's snapshot
    // (a transaction at the primary) ends when the database is read, however
    // slowly the mirror installs. Unset: it runs on the server thread and is
    // buffered whole in memory.
    std::function<Result<std::unique_ptr<LogSource>>()> snapshot_source;
    std::string snapshot_spool_dir;
    // At most this many snapshots are read from the source at once (each
    // holds a connection and a transaction there); more mirrors that need one
    // wait for a slot. With snapshot_source only.
    size_t max_snapshots = 4;
  };
  // `source` must outlive the server.
  static Result<std::unique_ptr<StreamServer>> Start(Options options, LogSource* source);
  virtual ~StreamServer() = default;  // stops the thread, closes the socket

  // The endpoint actually bound (with the real port).
  virtual std::string endpoint() const = 0;
  // Wakes the server: new entries were committed (from LISTEN/NOTIFY).
  // Thread-safe; cheap; coalesces.
  virtual void Notify() = 0;
  // Thread-safe snapshot of every mirror seen since start, one per key.
  virtual std::vector<MirrorState> Mirrors() const = 0;
};

class StreamClient {
 public:
  struct Options {
    std::string connect;  // "tcp://primary:7000"
    std::string server_public_key;
    CurveKeyPair client_keys;
    std::string site_name;
    // The volume the replica already follows ("" for a new, empty one): a
    // primary serving another volume refuses us (FailedPrecondition).
    std::string volume_uuid;
    uint32_t credit = 8;  // batches in flight
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds peer_timeout{5000};  // then reconnect
    size_t max_message_bytes = 64 << 20;
  };
  // What Next() delivers.
  struct Event {
    enum Kind { kBatch, kSnapshotBegin, kSnapshotChunk, kSnapshotEnd, kNone } kind = kNone;
    std::string frame;  // kBatch: an encoded batch frame; kSnapshotChunk: the chunk
    uint64_t pos = 0;   // kSnapshotBegin / kSnapshotEnd: the snapshot's position s
  };

  static Result<std::unique_ptr<StreamClient>> Connect(Options options);
  virtual ~StreamClient() = default;

  // Asks for everything after `after` (call again after a reconnect or when
  // the application restarts from its own applied position).
  virtual Status Subscribe(uint64_t after) = 0;
  // Waits up to `timeout` for the next event; kNone on timeout. Handles
  // heartbeats and reconnection internally: after a reconnect it re-subscribes
  // from the last position passed to Ack() (or to Subscribe()).
  virtual Result<Event> Next(std::chrono::milliseconds timeout) = 0;
  // Reports that everything up to `pos` is applied (returns credit).
  virtual Status Ack(uint64_t pos) = 0;
  // The volume the replica follows from now on (after installing a snapshot
  // into a new replica): every later HELLO carries it (Options::volume_uuid).
  virtual void SetVolume(const std::string& uuid) = 0;
  // True while the link is up (a message from the server within peer_timeout).
  virtual bool connected() const = 0;
  // The newest position the primary announced (heartbeats, batches); 0 until
  // the first. Thread-safe.
  virtual uint64_t primary_head() const = 0;
};

// How a daemon obtains its end of the link, so that tests can hand it an
// in-memory one (sitelink/fake_stream.h). An empty function means the real
// one: StreamClient::Connect, StreamServer::Start.
using StreamClientFactory =
    std::function<Result<std::unique_ptr<StreamClient>>(const StreamClient::Options&)>;
using StreamServerFactory =
    std::function<Result<std::unique_ptr<StreamServer>>(const StreamServer::Options&, LogSource*)>;

}  // namespace meridian::sitelink
