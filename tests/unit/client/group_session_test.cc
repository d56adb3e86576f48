// group_session_test.cc - the Client's group delivery against a scripted fake server:
// GroupPush entries reach the app once and in group_seq order next to inbox entries, a gap
// is filled by GroupSync, the login's ListGroups catches up groups with new entries, and a
// group first seen mid-session is synced from the member's join.
#include <gtest/gtest.h>

#include "client/client.h"
#include "tests/unit/client/fake_server.h"
#include "tests/unit/client/server_frames.h"

namespace im::client {
namespace {

namespace proto = im::proto;
using namespace im::client::testing;

constexpr uint64_t kTeam = 16;
constexpr uint64_t kOther = 32;

ClientOptions fast_options() {
  ClientOptions options;
  options.device_id = "test-device";
  options.request_timeout_ms = 2000;
  options.reconnect_min_ms = 20;
  options.reconnect_max_ms = 100;
  return options;
}

// Answers Hello, Ping and Ack; ListGroups with groups, then sends after_list (pushes).
bool answer_session(FakeConn& conn, const proto::Frame& frame, const std::vector<GroupRow>& groups,
                    const std::vector<Bytes>& after_list = {}) {
  switch (frame.body_type()) {
    case proto::Body::Hello:
      conn.send(login_ok_frame(frame.req_id(), 1, "alice", "tok", 0));
      return true;
    case proto::Body::Ping:
      conn.send(pong_frame(frame.req_id(), frame.body_as_Ping()->client_time_ms(), 1));
      return true;
    case proto::Body::Ack:
      return true;
    case proto::Body::ListGroups:
      conn.send(group_list_frame(frame.req_id(), groups));
      for (const Bytes& push : after_list) conn.send(push);
      return true;
    default:
      return false;
  }
}

std::vector<InboxEntry> collect(Client& client, size_t n, uint32_t timeout_ms = 3000) {
  std::vector<InboxEntry> out;
  int64_t deadline = steady_now_ms() + timeout_ms;
  while (out.size() < n && steady_now_ms() < deadline) {
    if (auto e = client.next_entry(50)) out.push_back(std::move(*e));
  }
  return out;
}

std::vector<uint64_t> group_seqs(const std::vector<InboxEntry>& entries) {
  std::vector<uint64_t> out;
  for (const InboxEntry& e : entries) out.push_back(e.group_seq);
  return out;
}

TEST(GroupSession, PushedGroupEntriesArriveOnceInOrderBesideTheInbox) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    std::vector<Bytes> pushes = {group_push_frame({group_entry(kTeam, 3)}),
                                 push_frame({simple_entry(1)}),
                                 group_push_frame({group_entry(kTeam, 3), group_entry(kTeam, 4)})};
    answer_session(conn, frame, {{kTeam, 2, 2}}, pushes);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  std::vector<InboxEntry> got = collect(client, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].gid, kTeam);
  EXPECT_EQ(got[0].group_seq, 3u);
  EXPECT_EQ(got[0].inbox_seq, 0u);
  EXPECT_EQ(got[0].message.text, "g16-3");
  EXPECT_EQ(got[0].message.gid, kTeam);
  EXPECT_EQ(got[1].inbox_seq, 1u) << "inbox entries are not group duplicates";
  EXPECT_EQ(got[2].group_seq, 4u);
  EXPECT_FALSE(client.next_entry(200).has_value());
  EXPECT_EQ(client.stats().duplicates_dropped, 1u);
  EXPECT_EQ(client.group_cursor(kTeam), 4u);
  EXPECT_EQ(client.inbox_cursor(), 1u);
  EXPECT_TRUE(server.frames_of(proto::Body::GroupSync).empty());
}

TEST(GroupSession, GapIsFilledByGroupSync) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::GroupSync) {
      EXPECT_EQ(frame.body_as_GroupSync()->gid(), kTeam);
      EXPECT_EQ(frame.body_as_GroupSync()->after_group_seq(), 2u);
      conn.send(sync_page_frame(
          frame.req_id(), {group_entry(kTeam, 3), group_entry(kTeam, 4), group_entry(kTeam, 5)}, 5,
          false));
      return;
    }
    answer_session(conn, frame, {{kTeam, 2, 2}}, {group_push_frame({group_entry(kTeam, 5)})});
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_EQ(group_seqs(collect(client, 3)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_FALSE(client.next_entry(200).has_value());
  EXPECT_EQ(client.stats().group_gaps_detected, 1u);
  EXPECT_EQ(client.group_cursor(kTeam), 5u);
}

TEST(GroupSession, LoginCatchesUpGroupsPastTheirCursors) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::GroupSync) {
      const auto* sync = frame.body_as_GroupSync();
      if (sync->gid() == kTeam) {  // no cursor given: from the read cursor (4)
        EXPECT_EQ(sync->after_group_seq(), 4u);
        conn.send(sync_page_frame(frame.req_id(), {group_entry(kTeam, 5), group_entry(kTeam, 6)}, 6,
                                  false));
      } else {  // the app's persisted cursor (3), not the read cursor (0)
        EXPECT_EQ(sync->after_group_seq(), 3u);
        conn.send(sync_page_frame(frame.req_id(), {group_entry(kOther, 4)}, 4, false));
      }
      return;
    }
    answer_session(conn, frame, {{kTeam, 6, 4}, {kOther, 4, 0}, {48, 2, 2}});
  });
  ClientOptions options = fast_options();
  options.group_cursors = {{kOther, 3}};
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  std::vector<InboxEntry> got = collect(client, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_FALSE(client.next_entry(200).has_value());
  EXPECT_EQ(client.group_cursor(kTeam), 6u);
  EXPECT_EQ(client.group_cursor(kOther), 4u);
  EXPECT_EQ(client.group_cursor(48), 2u) << "read and up to date: nothing fetched";
  EXPECT_EQ(server.frames_of(proto::Body::GroupSync).size(), 2u);
}

TEST(GroupSession, GroupJoinedMidSessionIsSyncedFromTheJoin) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::GroupSync) {
      EXPECT_EQ(frame.body_as_GroupSync()->after_group_seq(), 0u);
      // The server clamps to what the member may see: the invitation (2) onward.
      conn.send(
          sync_page_frame(frame.req_id(),
                          {group_event_entry(kTeam, 2, proto::GroupEventKind::Invited, 2, {1}),
                           group_entry(kTeam, 3)},
                          3, false));
      return;
    }
    answer_session(conn, frame, {}, {group_push_frame({group_entry(kTeam, 3)})});
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  std::vector<InboxEntry> got = collect(client, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, EntryKind::GroupEvent);
  EXPECT_EQ(got[0].group_event.kind, proto::GroupEventKind::Invited);
  EXPECT_EQ(got[0].group_event.actor_uid, 2u);
  EXPECT_EQ(got[0].group_event.target_uids, (std::vector<uint64_t>{1}));
  EXPECT_EQ(got[1].group_seq, 3u);
  EXPECT_FALSE(client.next_entry(200).has_value());
}

TEST(GroupSession, SendOnlyClientIgnoresGroupPushes) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), 1, "alice", "tok", 0));
      conn.send(group_push_frame({group_entry(kTeam, 5)}));
      return;
    }
    answer_session(conn, frame, {});
  });
  ClientOptions options = fast_options();
  options.receive_entries = false;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_FALSE(client.next_entry(300).has_value());
  EXPECT_TRUE(server.frames_of(proto::Body::GroupSync).empty());
  EXPECT_TRUE(server.frames_of(proto::Body::ListGroups).empty());
}

}  // namespace
}  // namespace im::client
