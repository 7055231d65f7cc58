// In-memory stand-ins for both ends of the site link (sitelink/stream.h), for
// testing the daemons' logic without sockets or timing: a test scripts what
// the "primary" sends and reads back what the daemon asked for.
//
// FakeLink is the mirror's side: its Connector() goes into
// MirrorSiteOptions::connect; every StreamClient it makes delivers the events
// the test Push()es, in order, and records Subscribe / Ack / SetVolume calls.
// FakePrimaryLink is the primary's side: its Starter() goes into
// PrimaryDaemonOptions::start_server; the server it starts reports the
// MirrorStates the test sets and counts Notify() and Mirrors() calls.
//
// Both are shared state that outlives the clients and servers they make (a
// daemon destroys those when it stops), so a test can inspect them after
// Run() returned. Test-only: linked into tests, never into the daemons.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sitelink/stream.h"

namespace meridian::sitelink {

class FakeLink {
 public:
  // One call of the client's API, in the order the daemon made them.
  struct Call {
    enum Kind { kSubscribe, kAck, kSetVolume } kind;
    uint64_t pos = 0;    // kSubscribe: `after`; kAck: `pos`
    std::string volume;  // kSetVolume
  };

  FakeLink() : state_(std::make_shared<State>()) {}

  // For MirrorSiteOptions::connect. Each call makes a new client (counted
  // by connects()); a Connect failure can be scripted with FailNextConnect.
  StreamClientFactory Connector() const;

  // Queues what the next Next() calls return. An error Result is returned
  // as the error (a link error for the daemon to handle).
  void Push(StreamClient::Event e);
  void PushBatch(std::string frame);
  void PushError(Status s);
  void FailNextConnect(Status s);

  void set_connected(bool c);
  void set_primary_head(uint64_t h);
  // Called (on the daemon's thread) inside each Ack(), before it returns:
  // lets a test look at the replica at the moment of the acknowledgement.
  void set_on_ack(std::function<void(uint64_t)> f);

  std::vector<Call> calls() const;
  std::vector<uint64_t> acks() const;        // Ack() positions, in order
  std::vector<uint64_t> subscribes() const;  // Subscribe() positions, in order
  int connects() const;
  uint64_t next_calls() const;  // Next() calls so far
  size_t pending() const;       // pushed events not yet delivered
  StreamClient::Options last_options() const;

  // Waits (real time, at most `limit`) for `done()` to hold; re-checked at
  // every call the daemon makes into the fake. False on timeout.
  bool WaitUntil(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(20)) const;

 private:
  struct State {
    mutable std::mutex mu;
    std::condition_variable changed;
    std::deque<Result<StreamClient::Event>> events;  // GUARDED_BY(mu)
    std::vector<Call> calls;                         // GUARDED_BY(mu)
    std::vector<Status> connect_failures;            // GUARDED_BY(mu)
    std::function<void(uint64_t)> on_ack;            // GUARDED_BY(mu)
    StreamClient::Options options;                   // GUARDED_BY(mu)
    bool connected = true;                           // GUARDED_BY(mu)
    uint64_t primary_head = 0;                       // GUARDED_BY(mu)
    int connects = 0;                                // GUARDED_BY(mu)
    uint64_t next_calls = 0;                         // GUARDED_BY(mu)
  };
  class Client;
  std::shared_ptr<State> state_;
};

class FakePrimaryLink {
 public:
  FakePrimaryLink() : state_(std::make_shared<State>()) {}

  // For PrimaryDaemonOptions::start_server.
  StreamServerFactory Starter() const;

  // What Mirrors() returns from now on.
  void set_mirrors(std::vector<MirrorState> m);

  int starts() const;
  uint64_t notifies() const;
  uint64_t mirrors_calls() const;
  StreamServer::Options last_options() const;
  LogSource* source() const;  // given to the last Start
  bool running() const;       // a started server not destroyed yet

  bool WaitUntil(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(20)) const;

 private:
  struct State {
    mutable std::mutex mu;
    std::condition_variable changed;
    std::vector<MirrorState> mirrors;  // GUARDED_BY(mu)
    StreamServer::Options options;     // GUARDED_BY(mu)
    LogSource* source = nullptr;       // GUARDED_BY(mu)
    int starts = 0;                    // GUARDED_BY(mu)
    bool running = false;              // GUARDED_BY(mu)
    uint64_t notifies = 0;             // GUARDED_BY(mu)
    uint64_t mirrors_calls = 0;        // GUARDED_BY(mu)
  };
  class Server;
  std::shared_ptr<State> state_;
};

}  // namespace meridian::sitelink
