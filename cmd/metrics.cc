#include "cmd/metrics.h"

#include <cstdio>

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace meridian::cli {

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& bind) {
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(bind);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("cannot serve metrics on " + bind + ": " + e.what() +
                                   " (is the port in use? use --metrics HOST:PORT)");
  }
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->exposer_->RegisterCollectable(m->registry_);
  std::string host = bind.substr(0, bind.rfind(':'));
  auto ports = m->exposer_->GetListeningPorts();
  m->url_ = "http://" + host + ":" + std::to_string(ports.empty() ? 0 : ports[0]) + "/metrics";
  return m;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::Set(const std::string& name, const std::string& help, double value,
                        const std::string& label_key, const std::string& label_value) {
  std::lock_guard<std::mutex> l(mu_);
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
