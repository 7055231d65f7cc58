#include "tests/harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace meridian::harness {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxQueued = 16 * 1024 * 1024;  // per direction per connection

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with a RST instead of a FIN.
void Reset(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

Result<sockaddr_in> Resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Status::InvalidArgument("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  sockaddr_in a = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  freeaddrinfo(res);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// One direction's token bucket, shared by every connection.
struct Bucket {
  uint64_t rate = 0;  // bytes/s; 0 = unlimited
  double tokens = 0;
  Clock::time_point last{};

  double burst() const { return std::max<double>(16 * 1024, rate / 50.0); }
  void Set(uint64_t r) {
    rate = r;
    tokens = burst();
    last = Clock::now();
  }
  void Refill(Clock::time_point now) {
    if (rate == 0) return;
    tokens = std::min(burst(), tokens + rate * std::chrono::duration<double>(now - last).count());
    last = now;
  }
  // When `n` bytes will be available.
  Clock::time_point ReadyAt(Clock::time_point now, size_t n) const {
    double need = std::min<double>(n, burst()) - tokens;
    if (need <= 0) return now;
    return now + std::chrono::microseconds(static_cast<int64_t>(need * 1e6 / rate) + 1);
  }
};

struct Chunk {
  Clock::time_point at;
  std::string data;
  bool fin = false;  // forward a FIN (shutdown write) instead of data
};

struct Dir {
  std::deque<Chunk> q;
  size_t off = 0;     // into q.front().data
  size_t queued = 0;  // bytes in q
  bool src_eof = false;
  bool dst_shut = false;
  bool want_out = false;  // dst returned EAGAIN: wait for POLLOUT
};

struct Conn {
  int cfd = -1;
  int sfd = -1;
  bool connecting = false;
  bool dead = false;
  Dir up, down;  // up: cfd -> sfd; down: sfd -> cfd
  // Faults (Options::faults).
  bool answer_503 = false;
  uint64_t down_seen = 0;  // bytes read from the target
  uint64_t reset_at = UINT64_MAX;
  uint64_t corrupt_at = UINT64_MAX;
};

}  // namespace

struct TcpProxy::Impl {
  Options options;
  sockaddr_in target{};
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stop{false};
  std::thread thread;

  mutable std::mutex mu;  // guards the control state below
  std::chrono::microseconds delay_up{0}, delay_down{0};
  uint64_t rate_up = 0, rate_down = 0;
  bool rates_changed = true;
  bool partitioned = false;
  bool cut = false;
  bool cut_pending = false;
  uint64_t gen = 0;       // bumped by every control call
  uint64_t seen_gen = 0;  // the loop has applied control state up to here
  std::condition_variable applied;

  std::atomic<uint64_t> accepted{0}, active{0}, bytes_up{0}, bytes_down{0};
  std::atomic<uint64_t> injected_503{0}, injected_resets{0}, injected_corruptions{0};
  std::mt19937_64 rng;  // loop thread only

  // Loop thread only.
  std::list<Conn> conns;
  Bucket bucket_up, bucket_down;

  ~Impl() {
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd, &one, sizeof one);
  }

  // After a control change (under mu, gen bumped): wakes the loop and waits
  // until it runs with the new state, so that the change is in force when the
  // control method returns.
  void Apply(std::unique_lock<std::mutex>& l) {
    uint64_t want = ++gen;
    Wake();
    applied.wait_for(l, std::chrono::seconds(5), [&] { return seen_gen >= want || stop.load(); });
  }

  void Kill(Conn& c) {
    Reset(c.cfd);
    Reset(c.sfd);
    c.cfd = c.sfd = -1;
    c.dead = true;
  }

  void StartConnect(Conn& c) {
    c.sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.sfd < 0) return Kill(c);
    SetNoDelay(c.sfd);
    if (connect(c.sfd, reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0) return;
    if (errno == EINPROGRESS) {
      c.connecting = true;
      return;
    }
    Kill(c);  // refused: the client sees a reset, as if the target refused it
  }

  // Draws a new connection's faults.
  void DrawFaults(Conn& c) {
    const auto& f = options.faults;
    std::uniform_real_distribution<double> p(0, 1);
    std::uniform_int_distribution<uint64_t> at(0, std::max<uint64_t>(f.within, 1) - 1);
    if (p(rng) < f.http_503) {
      c.answer_503 = true;
      return;
    }
    if (p(rng) < f.reset) c.reset_at = at(rng);
    if (p(rng) < f.corrupt) c.corrupt_at = at(rng);
  }

  // A 503 connection: swallow the request, answer, close.
  void Answer503(Conn& c) {
    char buf[kReadChunk];
    while (recv(c.cfd, buf, sizeof buf, 0) > 0) {
    }
    static constexpr char kReply[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!send(c.cfd, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
    ++injected_503;
    shutdown(c.cfd, SHUT_WR);
    close(c.cfd);
    c.cfd = -1;
    c.dead = true;
  }

  // Reads what src has (bounded by the queue limit) into d, stamped now + delay.
  void ReadInto(Conn& c, Dir& d, int src, Clock::time_point now, std::chrono::microseconds delay) {
    char buf[kReadChunk];
    while (!d.src_eof && d.queued < kMaxQueued) {
      ssize_t n = recv(src, buf, sizeof buf, 0);
      if (n > 0 && &d == &c.down) {
        const uint64_t from = c.down_seen;
        c.down_seen += n;
        if (c.corrupt_at >= from && c.corrupt_at < c.down_seen) {
          buf[c.corrupt_at - from] ^= 0x20;
          ++injected_corruptions;
        }
        if (c.reset_at >= from && c.reset_at < c.down_seen) {
          ++injected_resets;
          return Kill(c);
        }
      }
      if (n > 0) {
        d.q.push_back(Chunk{now + delay, std::string(buf, n)});
        d.queued += n;
        continue;
      }
      if (n == 0) {
        d.src_eof = true;
        d.q.push_back(Chunk{now + delay, {}, true});
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Kill(c);  // reset by peer: reset the other
      return;
    }
  }

  // Writes what is due; returns when d next needs attention (max() if never).
  Clock::time_point WriteFrom(Conn& c, Dir& d, int dst, Bucket& b, Clock::time_point now,
                              std::atomic<uint64_t>& counter) {
    while (!d.q.empty() && !c.dead) {
      Chunk& f = d.q.front();
      if (f.at > now) return f.at;
      if (f.fin) {
        shutdown(dst, SHUT_WR);
        d.dst_shut = true;
        d.q.pop_front();
        continue;
      }
      size_t n = f.data.size() - d.off;
      if (b.rate > 0) {
        b.Refill(now);
        if (b.tokens < std::min<double>(n, 1024)) return b.ReadyAt(now, n);
        n = std::min<size_t>(n, static_cast<size_t>(b.tokens));
      }
      ssize_t w = send(dst, f.data.data() + d.off, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          d.want_out = true;
          return Clock::time_point::max();
        }
        Kill(c);
        break;
      }
      if (b.rate > 0) b.tokens -= w;
      counter += w;
      d.off += w;
      d.queued -= w;
      if (d.off == f.data.size()) {
        d.q.pop_front();
        d.off = 0;
      }
    }
    return Clock::time_point::max();
  }

  // What to poll for: the wake and listening fds, then each connection's
  // sides that have something to do (*owners: conn and side, 0=cfd 1=sfd).
  void PollSet(bool part, std::vector<pollfd>* fds, std::vector<std::pair<Conn*, int>>* owners) {
    fds->clear();
    owners->clear();
    fds->push_back({wake_fd, POLLIN, 0});
    fds->push_back({listen_fd, POLLIN, 0});
    for (Conn& c : conns) {
      if (c.dead) continue;
      short ce = 0, se = 0;
      if (!part) {
        if (c.connecting) {
          se |= POLLOUT;
        } else if (c.answer_503) {
          ce |= POLLIN;
        } else if (c.sfd >= 0) {
          if (!c.up.src_eof && c.up.queued < kMaxQueued) ce |= POLLIN;
          if (!c.down.src_eof && c.down.queued < kMaxQueued) se |= POLLIN;
          if (c.up.want_out) se |= POLLOUT;
          if (c.down.want_out) ce |= POLLOUT;
        }
      }
      // Not interested: not polled at all (no POLLHUP/POLLERR spinning while held).
      fds->push_back({ce ? c.cfd : -1, ce, 0});
      owners->push_back({&c, 0});
      if (c.sfd >= 0) {
        fds->push_back({se ? c.sfd : -1, se, 0});
        owners->push_back({&c, 1});
      }
    }
  }

  // Accepts every pending connection (refused while partitioned with cut).
  void AcceptAll() {
    for (;;) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      ++accepted;
      bool refuse;
      {
        std::lock_guard<std::mutex> l(mu);
        refuse = partitioned && cut;
      }
      if (refuse) {
        Reset(fd);
        continue;
      }
      SetNoDelay(fd);
      conns.emplace_back();
      conns.back().cfd = fd;
      DrawFaults(conns.back());
    }
  }

  // Writes what is due on every connection; returns when next to look.
  Clock::time_point Deliver(bool part, Clock::time_point now) {
    Clock::time_point next = now + std::chrono::seconds(1);
    for (Conn& c : conns) {
      if (c.dead || part || c.connecting || c.sfd < 0) continue;
      if (!c.up.want_out) {
        next = std::min(next, WriteFrom(c, c.up, c.sfd, bucket_up, now, bytes_up));
      }
      if (!c.down.want_out && !c.dead) {
        next = std::min(next, WriteFrom(c, c.down, c.cfd, bucket_down, now, bytes_down));
      }
      if (!c.dead && c.up.src_eof && c.down.src_eof && c.up.q.empty() && c.down.q.empty()) {
        close(c.cfd);
        close(c.sfd);
        c.cfd = c.sfd = -1;
        c.dead = true;
      }
    }
    return next;
  }

  void Loop() {
    std::vector<pollfd> fds;
    std::vector<std::pair<Conn*, int>> owners;  // per fds entry from index 2: conn, 0=cfd 1=sfd
    Clock::time_point next = Clock::now();
    while (!stop.load()) {
      // Control state.
      std::chrono::microseconds d_up, d_down;
      bool part, do_cut;
      {
        std::lock_guard<std::mutex> l(mu);
        d_up = delay_up;
        d_down = delay_down;
        part = partitioned;
        do_cut = cut_pending;
        cut_pending = false;
        if (rates_changed) {
          bucket_up.Set(rate_up);
          bucket_down.Set(rate_down);
          rates_changed = false;
        }
      }
      if (do_cut) {
        for (Conn& c : conns) Kill(c);
        conns.remove_if([](const Conn& c) { return c.dead; });
        active = conns.size();
      }
      {
        std::lock_guard<std::mutex> l(mu);
        seen_gen = gen;
      }
      applied.notify_all();

      // Poll.
      PollSet(part, &fds, &owners);
      auto now = Clock::now();
      auto wait = std::clamp<Clock::duration>(next - now, Clock::duration::zero(),
                                              std::chrono::milliseconds(200));
      timespec ts{
          static_cast<time_t>(wait / std::chrono::seconds(1)),
          static_cast<long>((wait % std::chrono::seconds(1)) / std::chrono::nanoseconds(1))};
      int rc = ppoll(fds.data(), fds.size(), &ts, nullptr);
      if (rc < 0 && errno != EINTR) break;
      now = Clock::now();
      if (fds[0].revents & POLLIN) {
        uint64_t v;
        (void)!read(wake_fd, &v, sizeof v);
      }

      // New connections.
      if (fds[1].revents & POLLIN) AcceptAll();

      // Events on connections.
      for (size_t i = 2; i < fds.size(); ++i) {
        Conn& c = *owners[i - 2].first;
        bool server_side = owners[i - 2].second == 1;
        short ev = fds[i].revents;
        if (c.dead || ev == 0 || part) continue;
        if (c.answer_503) {
          Answer503(c);
          continue;
        }
        if (server_side && c.connecting) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c.sfd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            Kill(c);
          } else {
            c.connecting = false;
          }
          continue;
        }
        if (ev & POLLOUT) (server_side ? c.up : c.down).want_out = false;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
          if (server_side) {
            ReadInto(c, c.down, c.sfd, now, d_down);
          } else {
            ReadInto(c, c.up, c.cfd, now, d_up);
          }
        }
      }

      // Start upstream connections (after a partition heals, too).
      if (!part) {
        for (Conn& c : conns) {
          if (!c.dead && c.sfd < 0 && !c.answer_503) StartConnect(c);
        }
      }

      // Deliver what is due.
      next = Deliver(part, now);
      conns.remove_if([](const Conn& c) { return c.dead; });
      active = conns.size();
    }
    for (Conn& c : conns) Kill(c);
    conns.clear();
    active = 0;
  }
};

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  MERIDIAN_ASSIGN_OR_RETURN(impl->target, Resolve(options.target_host, options.target_port));
  MERIDIAN_ASSIGN_OR_RETURN(sockaddr_in listen_addr,
                            Resolve(options.listen_host, options.listen_port));
  impl->delay_up = options.delay_up;
  impl->delay_down = options.delay_down;
  impl->rate_up = options.rate_up;
  impl->rate_down = options.rate_down;
  impl->rng.seed(options.faults.seed);
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return Status::IOError(Errno("eventfd"));
  impl->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (impl->listen_fd < 0) return Status::IOError(Errno("socket"));
  int one = 1;
  setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&listen_addr), sizeof listen_addr) != 0) {
    return Status::IOError(
        Errno("bind " + options.listen_host + ":" + std::to_string(options.listen_port)));
  }
  if (listen(impl->listen_fd, 128) != 0) return Status::IOError(Errno("listen"));
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::unique_ptr<TcpProxy> p(new TcpProxy(std::move(impl)));
  p->port_ = ntohs(bound.sin_port);
  p->impl_->thread = std::thread([raw = p->impl_.get()] { raw->Loop(); });
  return p;
}

TcpProxy::TcpProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpProxy::~TcpProxy() {
  impl_->stop = true;
  impl_->Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string TcpProxy::endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

void TcpProxy::SetDelay(std::chrono::microseconds up, std::chrono::microseconds down) {
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->delay_up = up;
  impl_->delay_down = down;
  impl_->Apply(l);
}

void TcpProxy::SetRate(uint64_t up_bytes_per_s, uint64_t down_bytes_per_s) {
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->rate_up = up_bytes_per_s;
  impl_->rate_down = down_bytes_per_s;
  impl_->rates_changed = true;
  impl_->Apply(l);
}

void TcpProxy::SetPartitioned(bool partitioned, bool cut) {
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->partitioned = partitioned;
  impl_->cut = partitioned && cut;
  if (impl_->cut) impl_->cut_pending = true;
  impl_->Apply(l);
}

bool TcpProxy::partitioned() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->partitioned;
}

TcpProxy::Stats TcpProxy::stats() const {
  return Stats{impl_->accepted.load(),
               impl_->active.load(),
               impl_->bytes_up.load(),
               impl_->bytes_down.load(),
               impl_->injected_503.load(),
               impl_->injected_resets.load(),
               impl_->injected_corruptions.load()};
}

}  // namespace meridian::harness
