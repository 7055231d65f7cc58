// RateLimiter: a bandwidth cap shared by many threads (--bwlimit). Each
// caller reserves its bytes in arrival order and sleeps until the cap has
// room for them, so N parallel transfers together stay at `bytes_per_second`.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "common/mutex.h"

namespace meridian {

class RateLimiter {
 public:
  // 0 = no cap.
  explicit RateLimiter(uint64_t bytes_per_second)
      : rate_(bytes_per_second), free_at_(std::chrono::steady_clock::now()) {}

  // Waits until `bytes` may go; false if *stop was set meanwhile (checked
  // every 50 ms).
  bool Acquire(uint64_t bytes, const std::atomic<bool>* stop = nullptr) {
    if (rate_ == 0) return true;
    using Clock = std::chrono::steady_clock;
    Clock::time_point start;
    {
      MutexLock l(&mu_);
      start = std::max(free_at_, Clock::now());
      free_at_ = start + std::chrono::nanoseconds(bytes * 1'000'000'000ull / rate_);
    }
    while (Clock::now() < start) {
      if (stop != nullptr && stop->load()) return false;
      std::this_thread::sleep_until(std::min(start, Clock::now() + std::chrono::milliseconds(50)));
    }
    return true;
  }

 private:
  const uint64_t rate_;
  Mutex mu_;
  std::chrono::steady_clock::time_point free_at_ GUARDED_BY(mu_);
};

}  // namespace meridian
