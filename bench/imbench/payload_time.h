// payload_time.h - the send time carried in a message: the first kTimeHexChars bytes of the
// text are the sender's now_ns() (or intended send time, open loop) in hex, so the receiver
// computes send -> deliver latency from the payload alone (clock.h is system-wide).
#pragma once

#include <cstddef>
#include <cstdint>

namespace im::bench {

inline constexpr size_t kTimeHexChars = 16;

inline void write_send_time(char* p, int64_t ns) {
  static const char kDigits[] = "0123456789abcdef";
  uint64_t v = uint64_t(ns);
  for (size_t i = kTimeHexChars; i-- > 0; v >>= 4) p[i] = kDigits[v & 15];
}

// p holds at least kTimeHexChars bytes written by write_send_time.
inline int64_t read_send_time(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kTimeHexChars; ++i) {
    char c = p[i];
    v = v << 4 | uint64_t(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return int64_t(v);
}

}  // namespace im::bench
