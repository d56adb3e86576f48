// RecentEntries: the in-memory tail of an inbox that live pushes are built from. It serves a
// range only when it holds its first entry, holds consecutive seqs only, and stays within its
// bounds; anything else falls back to storage (read returns false).
#include "core/recent_entries.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace im::core {
namespace {

std::vector<uint8_t> entry(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// "seq=text" for each entry read, or {"storage"} when the cache declined.
std::vector<std::string> read(const RecentEntries& r, uint64_t after, uint64_t last, size_t limit) {
  std::vector<std::string> out;
  bool held = r.read(after, last, limit, [&](uint64_t seq, std::span<const uint8_t> bytes) {
    out.push_back(std::to_string(seq) + "=" + std::string(bytes.begin(), bytes.end()));
  });
  if (!held) return {"storage"};
  return out;
}

TEST(RecentEntries, ServesConsecutiveEntriesUpToTheLastAndTheLimit) {
  RecentEntries r;
  for (uint64_t s = 5; s <= 8; ++s) r.add(s, entry("e" + std::to_string(s)));
  EXPECT_EQ(read(r, 4, 8, 10), (std::vector<std::string>{"5=e5", "6=e6", "7=e7", "8=e8"}));
  EXPECT_EQ(read(r, 5, 7, 10), (std::vector<std::string>{"6=e6", "7=e7"}));  // 8 not durable
  EXPECT_EQ(read(r, 4, 8, 2), (std::vector<std::string>{"5=e5", "6=e6"}));
}

TEST(RecentEntries, DeclinesWhatItDoesNotHoldTheStartOf) {
  RecentEntries r;
  EXPECT_EQ(read(r, 0, 10, 10), (std::vector<std::string>{"storage"}));
  for (uint64_t s = 5; s <= 6; ++s) r.add(s, entry("e"));
  EXPECT_EQ(read(r, 3, 6, 10), (std::vector<std::string>{"storage"}));  // 4 is not here
  EXPECT_EQ(read(r, 6, 9, 10), (std::vector<std::string>{"storage"}));  // nothing after 6
}

TEST(RecentEntries, AGapOrAReassignedSeqStartsOver) {
  RecentEntries r;
  r.add(1, entry("a"));
  r.add(2, entry("b"));
  r.add(4, entry("d"));  // 3 was written elsewhere
  EXPECT_EQ(read(r, 0, 4, 10), (std::vector<std::string>{"storage"}));
  EXPECT_EQ(read(r, 3, 4, 10), (std::vector<std::string>{"4=d"}));
  r.add(4, entry("D"));  // seq 4 assigned again after a failed commit
  EXPECT_EQ(read(r, 3, 4, 10), (std::vector<std::string>{"4=D"}));
}

TEST(RecentEntries, ForgetsWhatEveryDeviceWasSent) {
  RecentEntries r;
  for (uint64_t s = 1; s <= 4; ++s) r.add(s, entry("e" + std::to_string(s)));
  r.forget_through(2);
  EXPECT_EQ(read(r, 1, 4, 10), (std::vector<std::string>{"storage"}));
  EXPECT_EQ(read(r, 2, 4, 10), (std::vector<std::string>{"3=e3", "4=e4"}));
  r.forget_through(4);
  EXPECT_TRUE(r.empty());
  r.add(5, entry("e5"));
  EXPECT_EQ(read(r, 4, 5, 10), (std::vector<std::string>{"5=e5"}));
}

TEST(RecentEntries, StaysWithinItsBoundsByDroppingTheOldest) {
  RecentEntries r;
  const uint64_t n = RecentEntries::kMaxEntries + 5;
  for (uint64_t s = 1; s <= n; ++s) r.add(s, entry("x"));
  EXPECT_EQ(read(r, 4, n, 1), (std::vector<std::string>{"storage"}));  // 1..5 dropped
  EXPECT_EQ(read(r, 5, n, 1), (std::vector<std::string>{"6=x"}));

  RecentEntries big;
  big.add(1, std::vector<uint8_t>(RecentEntries::kMaxBytes / 2, 'a'));
  big.add(2, std::vector<uint8_t>(RecentEntries::kMaxBytes / 2, 'b'));
  big.add(3, std::vector<uint8_t>(10, 'c'));
  EXPECT_EQ(read(big, 0, 3, 10), (std::vector<std::string>{"storage"}));
  EXPECT_EQ(read(big, 1, 3, 10).size(), 2u);
  big.add(4, std::vector<uint8_t>(RecentEntries::kMaxBytes + 1, 'd'));  // larger than the bound
  EXPECT_TRUE(big.empty());
}

}  // namespace
}  // namespace im::core
