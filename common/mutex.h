// Mutex, MutexLock, CondVar: std::mutex and std::condition_variable with the
// clang thread-safety annotations of common/thread_annotations.h, so that
// scripts/thread_safety.sh (clang, -Wthread-safety -Werror) proves at compile
// time that every GUARDED_BY member is touched only with its lock held.
//
//   mutable Mutex mu_;
//   CondVar cv_;                          // waited on with mu_
//   std::deque<int> q_ GUARDED_BY(mu_);
//
//   int Pop() EXCLUDES(mu_) {
//     MutexLock l(&mu_);
//     while (q_.empty()) cv_.Wait(&mu_);  // a loop the analysis can read
//     ...
//   }
//
// Waits are written as explicit `while (!condition) cv.Wait(&mu)` loops rather
// than std::condition_variable predicates: the analysis does not know that a
// lambda runs with the lock held, a loop body it can check.
//
// Thread-safety: Mutex and CondVar are for use from many threads (that is their
// point); a MutexLock belongs to the thread that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/thread_annotations.h"

namespace meridian {

class CondVar;

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the lock is held here (a caller it cannot see took it,
  // e.g. around a callback). No run-time check: std::mutex has no owner query.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // BasicLockable, for std::scoped_lock and friends (prefer MutexLock).
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex from construction to destruction. Unlock()/Lock() drop and
// retake it in between (e.g. around a slow call); the destructor unlocks only if
// held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A condition variable waited on with a Mutex held. Like std::condition_variable,
// wake-ups may be spurious: always wait in a loop that re-checks the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu`, sleeps until notified (or spuriously), retakes `mu`.
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
  }
  // As Wait, but also returns at `deadline`: false if it returned because the
  // deadline passed (re-check the condition either way).
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    const bool notified = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return notified;
  }
  template <typename Rep, typename Period>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout) REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }

  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace meridian
