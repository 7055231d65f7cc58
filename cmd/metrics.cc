#include "cmd/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace meridian::cli {
namespace {

// civetweb (behind prometheus-cpp's Exposer) gives each connection one
// worker thread until its request is read and answered. Its defaults (2
// threads, 30 s to send a request) let two clients that trickle their
// headers block every scraper for half a minute, so: enough threads that a
// few slow clients leave the rest free, and a whole request must arrive
// within a scrape's budget. A scraper sends its request at once.
constexpr int kServingThreads = 8;
constexpr int kRequestTimeoutMs = 2000;  // the whole request, from its first byte; and each write

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& bind) {
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", bind,                         //
                                 "num_threads", std::to_string(kServingThreads),  //
                                 "request_timeout_ms", std::to_string(kRequestTimeoutMs)});
  } catch (const std::exception& e) {
    return Status::InvalidArgument("cannot serve metrics on " + bind + ": " + e.what() +
                                   " (is the port in use? use --metrics HOST:PORT)");
  }
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->exposer_->RegisterCollectable(m->registry_);
  std::string host = bind.substr(0, bind.rfind(':'));
  auto ports = m->exposer_->GetListeningPorts();
  m->host_ = host;
  m->port_ = ports.empty() ? 0 : ports[0];
  m->url_ = "http://" + host + ":" + std::to_string(m->port_) + "/metrics";
  return m;
}

MetricsServer::~MetricsServer() {
  // civetweb's accept loop looks at its stop flag only between polls of the
  // listening socket, every 2 s, and stopping waits for it: so a stopped
  // daemon would hold its ports that long, and an immediate restart fail.
  // Connections to the port wake the loop at once.
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    while (!stopped.load()) {
      Knock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer_.reset();
  stopped = true;
  waker.join();
}

void MetricsServer::Knock() const {
  // The bound host, or loopback for a wildcard address.
  std::string host = host_;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port_).c_str(), &hints, &res) != 0) return;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const bool ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (ok) break;
  }
  freeaddrinfo(res);
}

void MetricsServer::Set(const std::string& name, const std::string& help, double value,
                        const std::string& label_key, const std::string& label_value) {
  MutexLock l(&mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
    it = families_.emplace(name, &family).first;
  }
  std::map<std::string, std::string> labels;
  if (!label_key.empty()) labels[label_key] = label_value;
  it->second->Add(labels).Set(value);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::StartIfAsked(const std::string& bind) {
  if (bind.empty()) return std::unique_ptr<MetricsServer>();
  MERIDIAN_ASSIGN_OR_RETURN(auto m, Start(bind));
  std::fprintf(stderr, "metrics on %s\n", m->url().c_str());
  return m;
}

}  // namespace meridian::cli
