// meridian-tcp-proxy: the fault tests' TcpProxy as a program, for benchmarks.
//
//   meridian-tcp-proxy --listen 127.0.0.1:7100 --target 10.0.0.5:7000 --delay-ms 25 --rate-mbit 200
//
// --delay-ms is one way, applied in each direction (25 = 50 ms RTT);
// --rate-mbit caps each direction (0 or absent: unlimited). Runs until
// SIGINT/SIGTERM; prints "listening on HOST:PORT" once ready.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/harness/tcp_proxy.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Usage(const char* why) {
  std::fprintf(stderr,
               "meridian-tcp-proxy: %s\n"
               "usage: meridian-tcp-proxy --listen HOST:PORT --target HOST:PORT"
               " [--delay-ms N] [--rate-mbit M]\n",
               why);
  return 2;
}

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535 || host->empty()) return false;
  *port = static_cast<int>(p);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  meridian::harness::TcpProxy::Options o;
  std::string listen = "127.0.0.1:0", target;
  double delay_ms = 0, rate_mbit = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return Usage(("missing value for " + a).c_str());
    }
    if (a == "--listen") {
      listen = v;
    } else if (a == "--target") {
      target = v;
    } else if (a == "--delay-ms") {
      delay_ms = std::atof(v.c_str());
    } else if (a == "--rate-mbit") {
      rate_mbit = std::atof(v.c_str());
    } else {
      return Usage(("unknown flag " + a).c_str());
    }
  }
  if (target.empty()) return Usage("--target is required");
  if (!SplitHostPort(listen, &o.listen_host, &o.listen_port)) return Usage("bad --listen");
  if (!SplitHostPort(target, &o.target_host, &o.target_port)) return Usage("bad --target");
  if (delay_ms < 0 || rate_mbit < 0) return Usage("negative --delay-ms or --rate-mbit");
  o.delay_up = o.delay_down = std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000));
  o.rate_up = o.rate_down = static_cast<uint64_t>(rate_mbit * 1e6 / 8);

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  auto proxy = meridian::harness::TcpProxy::Start(o);
  if (!proxy.ok()) {
    std::fprintf(stderr, "meridian-tcp-proxy: %s\n", proxy.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s:%d -> %s (delay %.1f ms each way, rate %s)\n", o.listen_host.c_str(),
              (*proxy)->port(), target.c_str(), delay_ms,
              rate_mbit > 0 ? (std::to_string(rate_mbit) + " Mbit/s").c_str() : "unlimited");
  std::fflush(stdout);
  while (!g_stop) pause();
  auto st = (*proxy)->stats();
  std::fprintf(stderr, "meridian-tcp-proxy: %llu connections, %llu bytes up, %llu bytes down\n",
               static_cast<unsigned long long>(st.accepted),
               static_cast<unsigned long long>(st.bytes_up),
               static_cast<unsigned long long>(st.bytes_down));
  return 0;
}
