// client_session_test.cc - the Client's session logic against a scripted fake server:
// exactly-once in-order delivery with acks, gap -> Sync, resend with the same
// client_msg_id after a reconnect, kicks, token fallback, timeouts, bounded queue.
#include "client/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "tests/unit/client/fake_server.h"
#include "tests/unit/client/server_frames.h"

namespace im::client {
namespace {

namespace proto = im::proto;
using namespace im::client::testing;

constexpr uint64_t kMe = 1;
constexpr uint64_t kPeer = 2;

// Answers Hello (uid 1, token "tok"), Ping, Logout; ignores Ack. Returns false for others.
bool answer_defaults(FakeConn& conn, const proto::Frame& frame, uint64_t head = 0) {
  switch (frame.body_type()) {
    case proto::Body::Hello:
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", head));
      return true;
    case proto::Body::Ping:
      conn.send(pong_frame(frame.req_id(), frame.body_as_Ping()->client_time_ms(), 1));
      return true;
    case proto::Body::Logout:
      conn.send(result_frame(frame.req_id(), proto::Code::Ok, ""));
      conn.close();
      return true;
    case proto::Body::Ack:
      return true;
    case proto::Body::ListGroups:  // the SDK's login catch-up: no groups
      conn.send(group_list_frame(frame.req_id(), {}));
      return true;
    default:
      return false;
  }
}

ClientOptions fast_options() {
  ClientOptions options;
  options.device_id = "test-device";
  options.request_timeout_ms = 2000;
  options.reconnect_min_ms = 20;
  options.reconnect_max_ms = 100;
  options.send_deadline_ms = 5000;
  return options;
}

std::vector<uint64_t> seqs(const std::vector<InboxEntry>& entries) {
  std::vector<uint64_t> out;
  for (const InboxEntry& e : entries) out.push_back(e.inbox_seq);
  return out;
}

// Collects entries from the client's queue until n arrived or the timeout passed.
std::vector<InboxEntry> collect(Client& client, size_t n, uint32_t timeout_ms = 3000) {
  std::vector<InboxEntry> out;
  int64_t deadline = steady_now_ms() + timeout_ms;
  while (out.size() < n && steady_now_ms() < deadline) {
    if (auto e = client.next_entry(50)) out.push_back(std::move(*e));
  }
  return out;
}

bool has_ack(const FakeServer& server, uint64_t seq) {
  return server.wait_for(
      [&](const LoggedFrame& f) {
        return f.frame().body_type() == proto::Body::Ack &&
               f.frame().body_as_Ack()->inbox_seq() == seq;
      },
      3000);
}

TEST(ClientSession, PushedEntriesArriveOnceInOrderAndAreAcked) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 3));
      conn.send(push_frame({simple_entry(1), simple_entry(2)}));
      conn.send(push_frame({simple_entry(2), simple_entry(3)}));  // 2 again: a re-push
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  Result<LoginInfo> login = client.login_password("alice", "password1");
  ASSERT_TRUE(login.ok()) << login.status().to_string();
  EXPECT_EQ(client.token(), "tok");
  std::vector<InboxEntry> got = collect(client, 3);
  EXPECT_EQ(seqs(got), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(got[0].message.text, "m1");
  EXPECT_TRUE(has_ack(server, 3));
  EXPECT_FALSE(client.next_entry(100).has_value());
  EXPECT_EQ(client.stats().duplicates_dropped, 1u);
  EXPECT_EQ(client.inbox_cursor(), 3u);
}

TEST(ClientSession, GapIsFilledBySyncBeforeLaterEntries) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 1));
      conn.send(push_frame({simple_entry(1)}));
      conn.send(push_frame({simple_entry(4)}));  // 2 and 3 never pushed
      return;
    }
    if (frame.body_type() == proto::Body::Sync) {
      EXPECT_EQ(frame.body_as_Sync()->after_inbox_seq(), 1u);
      conn.send(sync_page_frame(frame.req_id(), {simple_entry(2), simple_entry(3), simple_entry(4)},
                                4, false));
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_EQ(seqs(collect(client, 4)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(has_ack(server, 4));
  EXPECT_EQ(client.stats().gaps_detected, 1u);
}

TEST(ClientSession, KnownCursorBehindTheHeadSyncsAfterLogin) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      EXPECT_EQ(frame.body_as_Hello()->ack_inbox_seq(), 5u);
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 7));  // pushes nothing
      return;
    }
    if (frame.body_type() == proto::Body::Sync) {
      conn.send(sync_page_frame(frame.req_id(), {simple_entry(6), simple_entry(7)}, 7, false));
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.inbox_seq = 5;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_EQ(seqs(collect(client, 2)), (std::vector<uint64_t>{6, 7}));
}

TEST(ClientSession, BacklogPushedAfterLoginNeedsNoSync) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 7));
      conn.send(push_frame({simple_entry(6), simple_entry(7)}));  // the server's catch-up
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.inbox_seq = 5;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_EQ(seqs(collect(client, 2)), (std::vector<uint64_t>{6, 7}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  EXPECT_EQ(client.stats().syncs_sent, 0u);
  EXPECT_TRUE(server.frames_of(proto::Body::Sync).empty());
}

TEST(ClientSession, SendOnlyClientAcksPushesWithoutDeliveringThem) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 3));
      conn.send(push_frame({simple_entry(2), simple_entry(3)}));
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.receive_entries = false;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_TRUE(has_ack(server, 3));
  EXPECT_FALSE(client.next_entry(100).has_value());
  EXPECT_EQ(client.stats().entries_delivered, 0u);
}

TEST(ClientSession, SendIsResentWithTheSameClientMsgIdAfterReconnect) {
  std::atomic<int> sends{0};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Send) {
      if (sends++ == 0) return conn.close();  // stored, but the result is lost
      conn.send(send_result_frame(frame.req_id(), 900, 12, true));
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  Result<SendReceipt> receipt = client.send_text(kPeer, "hello bob");
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  EXPECT_EQ(receipt->msg_id, 900u);
  EXPECT_TRUE(receipt->duplicate);
  EXPECT_EQ(receipt->attempts, 2u);
  std::vector<LoggedFrame> send_frames = server.frames_of(proto::Body::Send);
  ASSERT_EQ(send_frames.size(), 2u);
  uint64_t first_id = send_frames[0].frame().body_as_Send()->client_msg_id();
  EXPECT_NE(first_id, 0u);
  EXPECT_EQ(send_frames[1].frame().body_as_Send()->client_msg_id(), first_id);
  EXPECT_EQ(receipt->client_msg_id, first_id);
  EXPECT_NE(send_frames[0].conn, send_frames[1].conn);
  // The re-login used the token from LoginOk, not the password.
  std::vector<LoggedFrame> hellos = server.frames_of(proto::Body::Hello);
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_EQ(hellos[1].frame().body_as_Hello()->token()->str(), "tok");
  EXPECT_EQ(hellos[1].frame().body_as_Hello()->password(), nullptr);
  EXPECT_EQ(hellos[1].frame().body_as_Hello()->device_id()->str(), "test-device");
}

TEST(ClientSession, RetryableServerErrorIsRetriedAndOthersAreReturned) {
  std::atomic<int> sends{0};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Send) {
      uint64_t to = frame.body_as_Send()->to_uid();
      if (to == 99)
        return conn.send(result_frame(frame.req_id(), proto::Code::UnknownUser, "no 99"));
      if (sends++ == 0)
        return conn.send(result_frame(frame.req_id(), proto::Code::Overloaded, "busy"));
      return conn.send(send_result_frame(frame.req_id(), 901, 13, false));
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  Result<SendReceipt> ok = client.send_text(kPeer, "x");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->attempts, 2u);
  Result<SendReceipt> bad = client.send_text(99, "x");
  EXPECT_EQ(bad.code(), proto::Code::UnknownUser);
  EXPECT_EQ(bad.reason(), "no 99");
}

TEST(ClientSession, OwnMessagePushedBackIsMarkedFromThisDevice) {
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Send) {
      const proto::Send* send = frame.body_as_Send();
      MessageSpec spec;
      spec.inbox_seq = 1;
      spec.sender_uid = kMe;
      spec.receiver_uid = send->to_uid();
      spec.client_msg_id = send->client_msg_id();
      conn.send(send_result_frame(frame.req_id(), 902, 1, false));
      MessageSpec other = spec;
      other.inbox_seq = 2;
      other.client_msg_id = 12345;  // sent by another device of mine
      conn.send(push_frame({message_entry(spec), message_entry(other)}));
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  ASSERT_TRUE(client.send_text(kPeer, "mine").ok());
  std::vector<InboxEntry> got = collect(client, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].is_own);
  EXPECT_TRUE(got[0].from_this_device);
  EXPECT_TRUE(got[1].is_own);
  EXPECT_FALSE(got[1].from_this_device);
}

TEST(ClientSession, KickedStopsReconnecting) {
  std::atomic<int> kicks{0};
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 0));
      conn.send(kick_frame(proto::Code::Kicked, "device test-device logged in elsewhere"));
      conn.close();
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.on_kick = [&](const KickInfo& kick) {
    if (kick.code == proto::Code::Kicked) kicks++;
  };
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  ASSERT_TRUE(client.wait_for_state(ConnectionState::Disconnected, 3000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(kicks.load(), 1);
  ASSERT_TRUE(client.last_kick().has_value());
  EXPECT_EQ(client.last_kick()->code, proto::Code::Kicked);
  EXPECT_EQ(client.send_text(kPeer, "x").code(), kNotConnected);
}

TEST(ClientSession, SlowConsumerKickReconnectsWithTheCursor) {
  std::atomic<int> hellos{0};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      if (hellos++ == 0) {
        conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 2));
        conn.send(push_frame({simple_entry(1), simple_entry(2)}));
        conn.send(kick_frame(proto::Code::SlowConsumer, "outbound queue over its cap"));
        conn.close();
      } else {
        EXPECT_EQ(frame.body_as_Hello()->ack_inbox_seq(), 2u);
        conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 3));
        conn.send(push_frame({simple_entry(2), simple_entry(3)}));
      }
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_EQ(seqs(collect(client, 3)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_GE(client.stats().reconnects, 1u);
}

TEST(ClientSession, RefusedTokenFallsBackToThePassword) {
  std::atomic<int> hellos{0};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      int n = hellos++;
      if (n == 0) {
        conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 0));
        conn.close();
      } else if (frame.body_as_Hello()->token() != nullptr) {
        conn.send(result_frame(frame.req_id(), proto::Code::TokenExpired, "expired"));
      } else {
        EXPECT_EQ(frame.body_as_Hello()->password()->str(), "password1");
        conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok2", 0));
      }
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  int64_t deadline = steady_now_ms() + 3000;
  while (client.token() != "tok2" && steady_now_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(client.token(), "tok2");
  EXPECT_EQ(client.state(), ConnectionState::LoggedIn);
}

TEST(ClientSession, WrongPasswordOnReloginStopsReconnecting) {
  std::atomic<int> hellos{0};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      if (hellos++ == 0) {
        conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "", 0));  // no token issued
        conn.close();
      } else {
        conn.send(result_frame(frame.req_id(), proto::Code::AuthFailed, "password changed"));
      }
      return;
    }
    answer_defaults(conn, frame);
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  ASSERT_TRUE(client.wait_for_state(ConnectionState::Disconnected, 3000));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(hellos.load(), 2);
  EXPECT_EQ(client.last_error().code, proto::Code::AuthFailed);
}

TEST(ClientSession, UnansweredRequestTimesOutAndLateAnswerIsIgnored) {
  FakeServer server(
      [](FakeConn& conn, const proto::Frame& frame) { answer_defaults(conn, frame); });
  ClientOptions options = fast_options();
  options.request_timeout_ms = 200;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  int64_t start = steady_now_ms();
  Result<HistoryPage> page = client.history(kPeer, 0, 0, 10);
  EXPECT_EQ(page.code(), kTimeout);
  EXPECT_GE(steady_now_ms() - start, 150);
  EXPECT_EQ(client.state(), ConnectionState::LoggedIn);
}

TEST(ClientSession, RequestsDecodeTheirResults) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    switch (frame.body_type()) {
      case proto::Body::History:
        return conn.send(
            history_page_frame(frame.req_id(), {simple_entry(3), simple_entry(2)}, true));
      case proto::Body::Conversations:
        return conn.send(conversation_list_frame(frame.req_id(), kPeer, simple_entry(3), 2, 2));
      case proto::Body::MarkRead:
        return conn.send(mark_read_ok_frame(frame.req_id(), 3, 0));
      case proto::Body::GetUsers:
        return conn.send(user_list_frame(frame.req_id(), {{kPeer, "bob"}}));
      case proto::Body::Register:
        return conn.send(register_ok_frame(frame.req_id(), 77));
      default:
        answer_defaults(conn, frame);
    }
  });
  Client client(fast_options());
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  Result<RegisterInfo> reg = client.register_user("bob", "password1");
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->uid, 77u);
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  Result<HistoryPage> page = client.history(kPeer, 0, 0, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(seqs(page->entries), (std::vector<uint64_t>{3, 2}));
  EXPECT_TRUE(page->has_more);
  Result<ConversationList> convs = client.conversations();
  ASSERT_TRUE(convs.ok());
  EXPECT_EQ(convs->conversations.at(0).unread, 2u);
  EXPECT_EQ(client.mark_read(kPeer).value().read_inbox_seq, 3u);
  Result<UserInfo> bob = client.find_user("BOB");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->uid, kPeer);
  EXPECT_EQ(client.find_user("carol").code(), proto::Code::UnknownUser);
  Result<PongInfo> pong = client.ping();
  ASSERT_TRUE(pong.ok());
  EXPECT_TRUE(client.logout().ok());
  EXPECT_EQ(client.state(), ConnectionState::Disconnected);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(server.connections(), 1);  // no reconnect after logout
}

TEST(ClientSession, LoginOkAfterTheTimeoutDropsTheConnection) {
  std::atomic<bool> release{false};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      for (int i = 0; i < 500 && !release; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 0));
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.request_timeout_ms = 200;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  EXPECT_EQ(client.login_password("alice", "password1").code(), kTimeout);
  EXPECT_EQ(client.state(), ConnectionState::Connected);
  release = true;
  // The late LoginOk must not leave a session the app does not know about.
  EXPECT_TRUE(client.wait_for_state(ConnectionState::Disconnected, 3000));
  EXPECT_EQ(client.uid(), 0u);
}

TEST(ClientSession, HeartbeatPingsWhenIdle) {
  FakeServer server(
      [](FakeConn& conn, const proto::Frame& frame) { answer_defaults(conn, frame); });
  ClientOptions options = fast_options();
  options.ping_interval_ms = 100;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  int64_t deadline = steady_now_ms() + 3000;
  while (server.frames_of(proto::Body::Ping).size() < 2 && steady_now_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(server.frames_of(proto::Body::Ping).size(), 2u);
  EXPECT_EQ(client.state(), ConnectionState::LoggedIn);
}

TEST(ClientSession, UnansweredHeartbeatDropsAndReconnects) {
  std::atomic<bool> answer_pings{false};
  FakeServer server([&](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Ping && !answer_pings) return;
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.ping_interval_ms = 100;
  options.request_timeout_ms = 500;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  ASSERT_TRUE(server.wait_for([](const LoggedFrame& f) { return f.conn == 2; }, 3000));
  answer_pings = true;
  EXPECT_TRUE(client.wait_for_state(ConnectionState::LoggedIn, 3000));
}

TEST(ClientSession, FullQueueStallsWithoutLossThenSyncs) {
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 6));
      std::vector<Bytes> entries;
      for (uint64_t s = 1; s <= 6; s++) entries.push_back(simple_entry(s));
      conn.send(push_frame(entries));
      return;
    }
    if (frame.body_type() == proto::Body::Sync) {
      uint64_t after = frame.body_as_Sync()->after_inbox_seq();
      std::vector<Bytes> entries;
      for (uint64_t s = after + 1; s <= 6; s++) entries.push_back(simple_entry(s));
      conn.send(sync_page_frame(frame.req_id(), entries, 6, false));
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  options.max_queued_entries = 4;
  Client client(options);
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_TRUE(has_ack(server, 4));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const LoggedFrame& f : server.frames_of(proto::Body::Ack)) {
    EXPECT_LE(f.frame().body_as_Ack()->inbox_seq(), 4u);  // 5 and 6 were refused, not acked
  }
  std::vector<InboxEntry> got = collect(client, 6);
  EXPECT_EQ(seqs(got), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(has_ack(server, 6));
}

TEST(ClientSession, BlockingCallFromCallbackIsRefused) {
  std::mutex mu;
  std::vector<Code> codes;
  FakeServer server([](FakeConn& conn, const proto::Frame& frame) {
    if (frame.body_type() == proto::Body::Hello) {
      conn.send(login_ok_frame(frame.req_id(), kMe, "alice", "tok", 1));
      conn.send(push_frame({read_event_entry(kMe, 1, kPeer, 7, "tablet")}));
      return;
    }
    answer_defaults(conn, frame);
  });
  ClientOptions options = fast_options();
  Client* self = nullptr;
  options.on_entry = [&](const InboxEntry& entry) {
    EXPECT_EQ(entry.kind, EntryKind::ReadEvent);
    EXPECT_EQ(entry.read_event.device_id, "tablet");
    std::lock_guard lock(mu);
    codes.push_back(self->ping().code());
  };
  Client client(options);
  self = &client;
  ASSERT_TRUE(client.connect("127.0.0.1", server.port()).ok());
  ASSERT_TRUE(client.login_password("alice", "password1").ok());
  EXPECT_TRUE(has_ack(server, 1));
  std::lock_guard lock(mu);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], kWrongThread);
}

TEST(ClientSession, ConnectFailureIsNotConnected) {
  uint16_t port;
  {
    FakeServer gone([](FakeConn&, const proto::Frame&) {});
    port = gone.port();
  }
  Client client(fast_options());
  Status status = client.connect("127.0.0.1", port);
  EXPECT_EQ(status.code, kNotConnected);
  EXPECT_EQ(client.state(), ConnectionState::Disconnected);
  EXPECT_EQ(client.login_password("alice", "password1").code(), kNotConnected);
}

}  // namespace
}  // namespace im::client
