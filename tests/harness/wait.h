// WaitUntil: wait for the condition a test needs, not for a guessed time.
//
//   ASSERT_TRUE(WaitUntil([&] { return server->Mirrors().size() == 1; }, 10s,
//                         "the mirror to connect"));
//
// Polls `done` (first at once, then after 1 ms, doubling up to 50 ms between
// polls) until it returns true or `timeout` has passed, and says which: on
// time out, the failure names `what` and how long it waited. `done` runs on
// the calling thread and should be cheap and free of side effects a test
// depends on (it may run any number of times). A fixed sleep is either too
// short on a loaded machine (flaky) or too long everywhere (slow); a wait
// is as short as the condition allows and as patient as `timeout`.
//
// Header-only (gtest and the standard library): any test binary can include
// it, with or without linking meridian_testing.
// Thread-safety: WaitUntil itself shares nothing; `done` must be safe to call
// while other threads change what it reads.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>

namespace meridian::harness {

template <typename Pred>
::testing::AssertionResult WaitUntil(Pred&& done, std::chrono::steady_clock::duration timeout,
                                     std::string_view what) {
  using std::chrono::milliseconds;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration pause = milliseconds(1);
  for (;;) {
    if (done()) return ::testing::AssertionSuccess();
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited >= timeout) {
      return ::testing::AssertionFailure()
             << "timed out after " << std::chrono::duration_cast<milliseconds>(waited).count()
             << " ms waiting for " << what;
    }
    // The last pause ends at the deadline, so `done` gets a look there too.
    std::this_thread::sleep_for(std::min(pause, timeout - waited));
    pause = std::min<std::chrono::steady_clock::duration>(pause * 2, milliseconds(50));
  }
}

}  // namespace meridian::harness
