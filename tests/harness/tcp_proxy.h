// A userspace TCP proxy for fault tests and benchmarks: what netem would do,
// on a machine without netem (see /work/shared/design/ENVIRONMENT.md).
//
// Listens on 127.0.0.1:0 (port()) and forwards each accepted connection to a
// target host:port, with
//   - a one-way delay per direction (25 ms each way = 50 ms RTT): bytes read at
//     t are written at t + delay, in order;
//   - an optional bandwidth cap per direction (bytes/s, token bucket shared by
//     all connections in that direction, like one link);
//   - a partition switch. SetPartitioned(true) black-holes the link: nothing is
//     forwarded either way, connections are held open (not closed), and new
//     connections are accepted but not connected upstream until the partition
//     heals. With cut = true the link breaks instead: every connection is reset
//     (RST both sides) and new ones are reset at once. SetPartitioned(false)
//     resumes; held bytes are delivered.
//
// "up" is client -> target, "down" is target -> client. A FIN is forwarded (as
// a FIN, after the delay), a reset as a reset.
//
// Faults (Options::faults), drawn for each accepted connection from a seeded
// generator, for a flaky object store in front of an HTTP server:
//   - http_503: the connection is never forwarded; its first request is
//     answered "503 Service Unavailable" and the connection closed;
//   - reset: both sides are reset after a random number of bytes (up to
//     `within`) have gone down;
//   - corrupt: one byte at a random offset (up to `within`) of the down
//     stream is flipped.
//
// One thread runs every connection (poll loop). Thread-safety: all public
// methods may be called from any thread; the destructor stops the thread and
// closes every socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace meridian::harness {

class TcpProxy {
 public:
  struct Options {
    std::string listen_host = "127.0.0.1";
    int listen_port = 0;  // 0: any free port
    std::string target_host = "127.0.0.1";
    int target_port = 0;
    std::chrono::microseconds delay_up{0};    // client -> target, one way
    std::chrono::microseconds delay_down{0};  // target -> client, one way
    uint64_t rate_up = 0;                     // bytes/s client -> target; 0: unlimited
    uint64_t rate_down = 0;                   // bytes/s target -> client; 0: unlimited
    struct Faults {
      double http_503 = 0;  // probability per connection
      double reset = 0;
      double corrupt = 0;
      uint64_t within = 1 << 20;  // bytes down within which a reset/corruption lands
      uint64_t seed = 1;
    } faults;
  };

  struct Stats {
    uint64_t accepted = 0;  // connections accepted, ever
    uint64_t active = 0;    // connections open now
    uint64_t bytes_up = 0;  // delivered to the target
    uint64_t bytes_down = 0;
    uint64_t injected_503 = 0;  // faults actually injected
    uint64_t injected_resets = 0;
    uint64_t injected_corruptions = 0;
  };

  // Binds, resolves the target (IPv4) and starts the forwarding thread.
  static Result<std::unique_ptr<TcpProxy>> Start(const Options& options);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // "tcp://127.0.0.1:PORT", for ZeroMQ endpoints.
  std::string endpoint() const;

  void SetDelay(std::chrono::microseconds up, std::chrono::microseconds down);
  void SetRate(uint64_t up_bytes_per_s, uint64_t down_bytes_per_s);
  void SetPartitioned(bool partitioned, bool cut = false);
  bool partitioned() const;
  Stats stats() const;

 private:
  struct Impl;
  explicit TcpProxy(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace meridian::harness
