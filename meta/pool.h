// PgPool: a fixed set of connections to one database, lent to one thread at
// a time. For multi-threaded readers (the mount) that need a PgConn per
// in-flight request: Catalog and PgConn are single-threaded.
//
// A lease returns its connection on destruction. A connection that is gone
// (PgConn::broken(): server restarted, link lost) is dropped by the borrower
// with Lease::Broken() and replaced by a new one at the next Acquire().
// Thread-safety: Acquire() is thread-safe; a Lease is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

class PgPool {
 public:
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConn* get() const { return c_.get(); }
    PgConn* operator->() const { return c_.get(); }
    // The connection is unusable: close it instead of returning it.
    void Broken() { c_.reset(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> c_;
  };

  // Connects the first connection now (so a bad URL fails at once), the
  // others on demand, up to `size`; `dead_peer_s` as in PgConn::Connect.
  static Result<std::unique_ptr<PgPool>> Open(const std::string& conninfo, int size,
                                              int dead_peer_s = 0);

  // Blocks while all `size` connections are lent out.
  Result<Lease> Acquire();

 private:
  PgPool(std::string conninfo, int size, int dead_peer_s)
      : conninfo_(std::move(conninfo)), size_(size), dead_peer_s_(dead_peer_s) {}
  void Return(std::unique_ptr<PgConn> c) EXCLUDES(mu_);

  const std::string conninfo_;
  const int size_;
  const int dead_peer_s_;
  Mutex mu_;
  CondVar cv_;  // waited on with mu_
  std::vector<std::unique_ptr<PgConn>> idle_ GUARDED_BY(mu_);
  int lent_ GUARDED_BY(mu_) = 0;
};

}  // namespace meridian::meta
