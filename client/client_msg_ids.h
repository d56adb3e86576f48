// client_msg_ids.h - the client_msg_ids a Client gives its new messages: unique per sender
// and growing, so the server's dedup rows for them append to the sender's set instead of
// landing anywhere in it (docs/design.md, "How the tables lie on disk").
//
// An id is 20 bits of hours since 2020-01-01 (until 2139), then 44 bits that start at a
// random value each hour and count up by one per id; the next id is always above the last (a
// clock that steps back, or a counter that runs past its 44 bits, only carries on counting).
// Two clients of one user collide only if they send in the same hour from overlapping counter
// ranges: 2n / 2^44 for n ids each in that hour. Two devices sending 10 messages an hour, every
// hour for a year: about 1 in 10^8. Even a sender of 10 per second from two connections around
// the clock (1 in 30,000 a year) fares like 64 random bits, whose birthday odds over the 24 h
// dedup window are about the same.
#pragma once

#include <algorithm>
#include <cstdint>

namespace im::client {

class ClientMsgIds {
 public:
  static constexpr int64_t kEpochSeconds = 1577836800;  // 2020-01-01T00:00:00Z
  static constexpr int kCounterBits = 44;

  // A new id for a send at unix time now_seconds; never 0, always above the previous one.
  // random: 64 random bits (the Client's generator), used for the first id of an hour.
  uint64_t next(int64_t now_seconds, uint64_t random) {
    const uint64_t hour =
        static_cast<uint64_t>(std::max<int64_t>(now_seconds - kEpochSeconds, 0)) / 3600 + 1;
    if (hour != last_hour_) {
      last_hour_ = hour;
      const uint64_t start = (hour << kCounterBits) | (random >> (64 - kCounterBits));
      if (start > last_) last_ = start - 1;
    }
    return ++last_;
  }

 private:
  uint64_t last_hour_ = 0;
  uint64_t last_ = 0;
};

}  // namespace im::client
