// clock.h - the one time source of imbench: CLOCK_MONOTONIC in nanoseconds. It is
// system-wide, so a send time written into a payload by one thread (or process) can be
// subtracted from a receive time taken by another.
#pragma once

#include <time.h>

#include <cstdint>

namespace im::bench {

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline double seconds_between(int64_t from_ns, int64_t to_ns) {
  return double(to_ns - from_ns) / 1e9;
}

}  // namespace im::bench
