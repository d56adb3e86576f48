// inbox_tracker_test.cc - the receive-side cursor: exactly once, in order, gaps detected,
// cumulative acks only when the cursor moves.
#include "client/inbox_tracker.h"

#include <gtest/gtest.h>

namespace im::client {
namespace {

using Verdict = InboxTracker::Verdict;

TEST(InboxTracker, DeliversTheNextSeqAndDropsWhatItHas) {
  InboxTracker tracker(5);
  EXPECT_EQ(tracker.check(5), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(3), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(6), Verdict::Deliver);
  tracker.accept(6);
  EXPECT_EQ(tracker.cursor(), 6u);
  EXPECT_EQ(tracker.check(6), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(7), Verdict::Deliver);
}

TEST(InboxTracker, ReportsAGapInsteadOfDeliveringPastIt) {
  InboxTracker tracker(5);
  EXPECT_EQ(tracker.check(7), Verdict::Gap);
  EXPECT_EQ(tracker.cursor(), 5u);
}

TEST(InboxTracker, UnknownCursorTrustsTheFirstEntryThenIsStrict) {
  InboxTracker tracker;
  EXPECT_FALSE(tracker.known());
  EXPECT_EQ(tracker.check(0), Verdict::Duplicate);
  EXPECT_EQ(tracker.check(41), Verdict::Deliver);
  tracker.accept(41);
  EXPECT_TRUE(tracker.known());
  EXPECT_EQ(tracker.check(43), Verdict::Gap);
  EXPECT_EQ(tracker.check(41), Verdict::Duplicate);
}

TEST(InboxTracker, AcceptNeverMovesTheCursorBack) {
  InboxTracker tracker(10);
  tracker.accept(4);
  EXPECT_EQ(tracker.cursor(), 10u);
}

TEST(InboxTracker, AckIsCumulativeAndOnlyWhenTheCursorMoved) {
  InboxTracker tracker(3);
  EXPECT_FALSE(tracker.take_ack().has_value());  // 3 was acked by the Hello
  tracker.accept(4);
  tracker.accept(5);
  EXPECT_EQ(tracker.take_ack(), std::optional<uint64_t>(5));
  EXPECT_FALSE(tracker.take_ack().has_value());
  tracker.accept(6);
  tracker.on_login();  // a new session: the Hello carries 6
  EXPECT_FALSE(tracker.take_ack().has_value());
  EXPECT_EQ(tracker.acked(), 6u);
}

TEST(InboxTracker, UnknownCursorSendsNoAckUntilSomethingArrives) {
  InboxTracker tracker;
  EXPECT_FALSE(tracker.take_ack().has_value());
  tracker.accept(9);
  EXPECT_EQ(tracker.take_ack(), std::optional<uint64_t>(9));
}

TEST(InboxTracker, BehindOnlyWhenTheCursorIsKnownAndBelowTheHead) {
  EXPECT_FALSE(InboxTracker().behind(100));
  EXPECT_TRUE(InboxTracker(50).behind(100));
  EXPECT_FALSE(InboxTracker(100).behind(100));
}

}  // namespace
}  // namespace im::client
