// group_tracker_test.cc - the per-group receive cursor: each group's seqs are independent,
// duplicates are dropped, gaps detected, an unknown group counts as cursor 0, and the table
// stays within its bound (forgetting idle groups first).
#include "client/group_tracker.h"

#include <gtest/gtest.h>

namespace im::client {
namespace {

using Verdict = GroupTracker::Verdict;

TEST(GroupTracker, EachGroupHasItsOwnSequence) {
  GroupTracker tracker(16);
  tracker.set_cursor(10, 5);
  EXPECT_EQ(tracker.check(10, 6), Verdict::Deliver);
  EXPECT_EQ(tracker.check(20, 1), Verdict::Deliver);
  EXPECT_EQ(tracker.check(20, 6), Verdict::Gap);
  tracker.accept(10, 6);
  tracker.accept(20, 1);
  EXPECT_EQ(tracker.cursor(10), 6u);
  EXPECT_EQ(tracker.cursor(20), 1u);
}

TEST(GroupTracker, DropsDuplicatesAndSeqZero) {
  GroupTracker tracker(16);
  tracker.set_cursor(10, 5);
  EXPECT_EQ(tracker.check(10, 5), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(10, 2), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(10, 0), Verdict::Duplicate);
}

TEST(GroupTracker, UnknownGroupStartsAtZero) {
  GroupTracker tracker(16);
  EXPECT_FALSE(tracker.known(7));
  EXPECT_EQ(tracker.check(7, 1), Verdict::Deliver);
  EXPECT_EQ(tracker.check(7, 4), Verdict::Gap) << "synced from the member's join, not skipped";
}

TEST(GroupTracker, CursorNeverMovesBack) {
  GroupTracker tracker(16);
  tracker.accept(10, 8);
  tracker.accept(10, 3);
  tracker.set_cursor(10, 2);
  EXPECT_EQ(tracker.cursor(10), 8u);
}

TEST(GroupTracker, GapIsOutstandingUntilTheCursorReachesIt) {
  GroupTracker tracker(16);
  tracker.set_cursor(10, 2);
  tracker.note_gap(10, 6);
  EXPECT_TRUE(tracker.behind(10));
  EXPECT_EQ(tracker.groups_behind(), (std::vector<uint64_t>{10}));
  tracker.accept(10, 5);
  EXPECT_TRUE(tracker.behind(10));
  tracker.accept(10, 6);
  EXPECT_FALSE(tracker.behind(10));
  tracker.note_gap(10, 9);
  tracker.settle(10);  // e.g. the member was removed: stop chasing
  EXPECT_FALSE(tracker.behind(10));
  EXPECT_EQ(tracker.cursor(10), 6u);
}

TEST(GroupTracker, StaysWithinItsBoundForgettingIdleGroupsFirst) {
  GroupTracker tracker(3);
  tracker.accept(1, 1);
  tracker.note_gap(1, 9);  // behind: kept over idle ones even though least recently used
  tracker.accept(2, 1);
  tracker.accept(3, 1);
  tracker.accept(4, 1);
  EXPECT_EQ(tracker.size(), 3u);
  EXPECT_TRUE(tracker.known(1));
  EXPECT_FALSE(tracker.known(2)) << "the least recently used idle group is forgotten";
  EXPECT_TRUE(tracker.known(3));
  EXPECT_TRUE(tracker.known(4));
  for (uint64_t gid = 100; gid < 1000; gid++) tracker.accept(gid, 1);
  EXPECT_EQ(tracker.size(), 3u);
}

TEST(GroupTracker, CursorsListEveryGroupInGidOrder) {
  GroupTracker tracker(16);
  tracker.accept(30, 3);
  tracker.accept(10, 1);
  using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(tracker.cursors(), (Pairs{{10, 1}, {30, 3}}));
}

}  // namespace
}  // namespace im::client
