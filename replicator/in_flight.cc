#include "replicator/in_flight.h"

#include <glog/logging.h>

#include "meta/advisory_lock.h"

namespace meridian::replicator {
namespace {

constexpr uint32_t kBlockLockClass = 0x6d657231;  // "mer1"
constexpr int kDeadPeerSeconds = 30;

}  // namespace

std::pair<int32_t, int32_t> InFlight::Key(uint64_t id) {
  const uint32_t hi = kBlockLockClass + static_cast<uint32_t>(id >> 32);
  const uint32_t lo = static_cast<uint32_t>(id);
  return {static_cast<int32_t>(hi), static_cast<int32_t>(lo)};
}

Result<std::unique_ptr<InFlight>> InFlight::Open(const std::string& conninfo) {
  std::unique_ptr<InFlight> f(new InFlight(conninfo));
  MutexLock l(&f->mu_);
  MERIDIAN_RETURN_IF_ERROR(f->ConnectLocked());
  return f;
}

Status InFlight::ConnectLocked() {
  auto c = meta::PgConn::Connect(conninfo_, kDeadPeerSeconds);
  if (!c.ok()) return c.status().With("the site's in-flight set");
  c_ = std::move(c).value();
  return Status::OK();
}

Result<bool> InFlight::TryClaim(uint64_t id) {
  const auto [a, b] = Key(id);
  MutexLock l(&mu_);
  if (held_.count(id)) return false;
  if (c_ == nullptr || c_->broken()) {
    if (c_ != nullptr) {
      LOG(WARNING) << "in-flight set: connection lost; reconnecting";
      held_.clear();  // gone with the session
    }
    MERIDIAN_RETURN_IF_ERROR(ConnectLocked());
  }
  MERIDIAN_ASSIGN_OR_RETURN(bool claimed, meta::TryAdvisoryLock(c_.get(), a, b));
  if (!claimed) return false;
  held_.insert(id);
  return true;
}

void InFlight::Release(uint64_t id) {
  const auto [a, b] = Key(id);
  MutexLock l(&mu_);
  if (held_.erase(id) == 0) return;
  if (c_ == nullptr || c_->broken()) return;  // the session, and its claims, are gone
  Status s = meta::AdvisoryUnlock(c_.get(), a, b);
  if (!s.ok()) {
    LOG_EVERY_N(WARNING, 20) << "in-flight set: releasing block " << id << ": " << s.ToString();
  }
}

}  // namespace meridian::replicator
