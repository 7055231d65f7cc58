// Wall-clock time as stored in metadata and the change log: nanoseconds since
// the Unix epoch. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace meridian {

inline int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace meridian
