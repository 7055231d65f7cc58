// Prometheus /metrics for the daemons (prometheus-cpp's pull exposer).
//
// The daemons' libraries stay free of metrics: the CLI reads their state once
// a second (MirrorSite::stats(), the primary's tick callback) and sets gauges
// here. Metric names and labels are listed in docs/metrics.md.
// The endpoint serves on several threads with a per-request timeout (a slow
// client cannot hold it), and stopping it lets go of the port at once.
// Thread-safety: Set() may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "common/status.h"

namespace prometheus {
class Exposer;
class Registry;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace meridian::cli {

class MetricsServer {
 public:
  // `bind` is "HOST:PORT" (port 0 picks one). Fails with a clear message if
  // the address cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& bind);
  // A daemon's --metrics: null when `bind` is empty; otherwise Start(bind),
  // announcing "metrics on URL" on stderr.
  static Result<std::unique_ptr<MetricsServer>> StartIfAsked(const std::string& bind);
  ~MetricsServer();

  // "http://HOST:PORT/metrics"
  std::string url() const { return url_; }
  // Sets gauge `name` (with one optional label) to `value`, creating it on
  // first use with `help`.
  void Set(const std::string& name, const std::string& help, double value,
           const std::string& label_key = "", const std::string& label_value = "");

 private:
  MetricsServer() = default;
  // Opens and closes a connection to the listening port.
  void Knock() const;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string host_;  // as bound ("127.0.0.1", "0.0.0.0", "[::1]")
  int port_ = 0;
  std::shared_ptr<prometheus::Registry> registry_;
  std::string url_;
  Mutex mu_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> families_ GUARDED_BY(mu_);
};

}  // namespace meridian::cli
