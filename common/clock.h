// Time, behind one narrow interface so that timers can be tested without
// waiting for them (STYLE.md: every I/O dependency, the clock included, is
// injected through an Options struct).
//
// NowUnixNs(): wall-clock time as stored in metadata and the change log,
// nanoseconds since the Unix epoch.
//
// Clock: what a daemon's timers read. Now() is monotonic (deadlines, retry
// pauses, tick intervals); WallNow() is the wall clock (times shown or
// stored). SleepUntil() waits for Now() to reach a point or for a stop flag.
// RealClock() is the process-wide real one (steady_clock, system_clock);
// components take a `Clock*` in their Options and use RealClock() when it is
// null. FakeClock stands still until a test calls Advance(), and wakes the
// sleepers whose deadline that passes: a test of a 10-second timer takes no
// time and does not depend on the machine's speed.
//
// Thread-safety: every method of both implementations may be called from any
// thread at any time.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace meridian {

inline int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  virtual WallTime WallNow() const = 0;
  // Returns once Now() >= until, or soon after *stop becomes true (stop may
  // be null: never).
  virtual void SleepUntil(SteadyTime until, const std::atomic<bool>* stop) = 0;

  void SleepFor(std::chrono::nanoseconds d, const std::atomic<bool>* stop) {
    SleepUntil(Now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d), stop);
  }
  // WallNow() in nanoseconds since the Unix epoch.
  int64_t UnixNs() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(WallNow().time_since_epoch())
        .count();
  }
};

// The real clock. A stop flag is looked at every 50 ms while sleeping.
class RealClockImpl final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepUntil(SteadyTime until, const std::atomic<bool>* stop) override {
    constexpr std::chrono::milliseconds kStopCheck{50};
    for (SteadyTime now = Now(); now < until && !(stop && stop->load()); now = Now()) {
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(until - now, kStopCheck));
    }
  }
};

// Never null; lives as long as the process.
inline Clock* RealClock() {
  static RealClockImpl clock;
  return &clock;
}

// `c` if set, else the real clock: for Options fields `Clock* clock = nullptr`.
inline Clock* OrRealClock(Clock* c) { return c != nullptr ? c : RealClock(); }

// A clock that moves only when told. Starts at an arbitrary steady time and
// at the real wall time of its construction; both advance together.
class FakeClock final : public Clock {
 public:
  FakeClock() : wall_(std::chrono::system_clock::now()) {}

  SteadyTime Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return steady_;
  }
  WallTime WallNow() const override {
    std::lock_guard<std::mutex> l(mu_);
    return wall_;
  }
  // Blocks until Advance() reaches `until` or *stop is set. A stop flag set
  // without Advance() is noticed within a millisecond of real time.
  void SleepUntil(SteadyTime until, const std::atomic<bool>* stop) override {
    std::unique_lock<std::mutex> l(mu_);
    auto it = deadlines_.insert(until);
    ++sleeps_;
    changed_.notify_all();
    while (steady_ < until && !(stop && stop->load())) {
      changed_.wait_for(l, std::chrono::milliseconds(1));
    }
    deadlines_.erase(it);
    changed_.notify_all();
  }

  // Moves both clocks forward by `d` and wakes every sleeper that is due.
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    changed_.notify_all();
  }

  // Threads inside SleepUntil() right now; the earliest deadline among them
  // (nullopt: none), which tests compare with Now() to see how long a timer is.
  int sleepers() const {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(deadlines_.size());
  }
  std::optional<SteadyTime> EarliestDeadline() const {
    std::lock_guard<std::mutex> l(mu_);
    if (deadlines_.empty()) return std::nullopt;
    return *deadlines_.begin();
  }
  // SleepUntil() calls so far.
  uint64_t sleeps() const {
    std::lock_guard<std::mutex> l(mu_);
    return sleeps_;
  }
  // Waits (real time, at most `limit`) until SleepUntil() has been entered
  // more than `n` times in all; false on timeout. With sleeps() read before
  // an action, says "the code under test is waiting on this clock again".
  bool WaitForSleepsPast(uint64_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> l(mu_);
    return changed_.wait_for(l, limit, [&] { return sleeps_ > n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  SteadyTime steady_{std::chrono::hours(1)};  // GUARDED_BY(mu_)
  WallTime wall_;                             // GUARDED_BY(mu_)
  std::multiset<SteadyTime> deadlines_;       // GUARDED_BY(mu_): of the sleepers
  uint64_t sleeps_ = 0;                       // GUARDED_BY(mu_)
};

}  // namespace meridian
