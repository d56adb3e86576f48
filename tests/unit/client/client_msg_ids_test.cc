// The SDK's client_msg_ids (client/client_msg_ids.h): they grow per client across hours, clock
// steps back and counter overflow, carry the hour in their high bits, and two clients start
// at different points of the hour's range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

#include "client/client_msg_ids.h"

namespace im::client {
namespace {

constexpr int64_t kNow = 1'796'000'000;  // 2026-11-29
constexpr uint64_t hour_of(uint64_t id) {
  return id >> ClientMsgIds::kCounterBits;
}

TEST(ClientMsgIds, GrowByOneWithinAnHourAndCarryTheHour) {
  std::mt19937_64 rng(1);
  ClientMsgIds ids;
  const uint64_t first = ids.next(kNow, rng());
  EXPECT_NE(first, 0u);
  EXPECT_EQ(hour_of(first), uint64_t(kNow - ClientMsgIds::kEpochSeconds) / 3600 + 1);
  for (uint64_t i = 1; i < 1000; ++i) EXPECT_EQ(ids.next(kNow + int64_t(i % 60), rng()), first + i);
}

TEST(ClientMsgIds, KeepGrowingAcrossHoursAndWhenTheClockStepsBack) {
  std::mt19937_64 rng(2);
  ClientMsgIds ids;
  uint64_t last = 0;
  const int64_t times[] = {kNow,        kNow + 3600,  kNow + 7200, kNow,        kNow - 86400,
                           kNow + 7200, kNow + 10800, 0,           kNow + 14400};
  for (int64_t t : times) {
    for (int i = 0; i < 10; ++i) {
      const uint64_t id = ids.next(t, rng());
      EXPECT_GT(id, last) << t;
      last = id;
    }
  }
  EXPECT_EQ(hour_of(last), uint64_t(kNow + 14400 - ClientMsgIds::kEpochSeconds) / 3600 + 1);
}

TEST(ClientMsgIds, ClientsStartAtDifferentPointsOfTheHour) {
  std::mt19937_64 rng_a(11), rng_b(12);
  ClientMsgIds a, b;
  const uint64_t ida = a.next(kNow, rng_a()), idb = b.next(kNow, rng_b());
  EXPECT_EQ(hour_of(ida), hour_of(idb));
  EXPECT_NE(ida, idb);
  // 10,000 ids each from two clients in one hour: disjoint ranges (odds of overlap ~ 2^-30).
  const uint64_t lo = std::min(ida, idb), hi = std::max(ida, idb);
  EXPECT_GT(hi - lo, 10'000u);
}

}  // namespace
}  // namespace im::client
