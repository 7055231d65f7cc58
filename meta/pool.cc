#include "meta/pool.h"

namespace meridian::meta {

PgPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Return(std::move(c_));
}

Result<std::unique_ptr<PgPool>> PgPool::Open(const std::string& conninfo, int size,
                                             int dead_peer_s) {
  std::unique_ptr<PgPool> p(new PgPool(conninfo, std::max(1, size), dead_peer_s));
  MERIDIAN_ASSIGN_OR_RETURN(auto c, PgConn::Connect(conninfo, dead_peer_s));
  MutexLock l(&p->mu_);  // not shared yet: for the analysis
  p->idle_.push_back(std::move(c));
  return p;
}

Result<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConn> c;
  {
    MutexLock l(&mu_);
    while (idle_.empty() && lent_ >= size_) cv_.Wait(&mu_);
    ++lent_;
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (c == nullptr) {
    auto fresh = PgConn::Connect(conninfo_, dead_peer_s_);
    if (!fresh.ok()) {
      Return(nullptr);
      return fresh.status();
    }
    c = std::move(fresh).value();
  }
  return Lease(this, std::move(c));
}

void PgPool::Return(std::unique_ptr<PgConn> c) {
  MutexLock l(&mu_);
  --lent_;
  if (c != nullptr) idle_.push_back(std::move(c));
  cv_.NotifyOne();
}

}  // namespace meridian::meta
