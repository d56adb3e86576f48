// reliability_test.cc - the reliability contract at the edges: a resend stores once, the
// same device id kicks its older connection, a reader that never reads is cut off and
// later resyncs everything, idle connections are closed, tokens expire, and a graceful
// shutdown tells every client why.
#include <sys/socket.h>

#include <thread>

#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

TEST(Reliability, ResendAfterReconnectStoresOnce) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  constexpr uint64_t kClientMsgId = 0x1234567890ull;
  im::client::SendReceipt first;
  {
    auto alice = login(server, "alice", "phone");
    auto r = alice->send_text_once(bob_uid, kClientMsgId, "only once");
    ASSERT_TRUE(r.ok()) << r.status().reason;
    first = r.value();
    EXPECT_FALSE(first.duplicate);
  }
  auto alice = login(server, "alice", "phone");  // a new connection of the same device
  auto again = alice->send_text_once(bob_uid, kClientMsgId, "only once");
  ASSERT_TRUE(again.ok()) << again.status().reason;
  EXPECT_TRUE(again.value().duplicate);
  EXPECT_EQ(again.value().msg_id, first.msg_id);
  EXPECT_EQ(again.value().inbox_seq, first.inbox_seq);
  // Even after a restart (the dedup rows are durable).
  ASSERT_TRUE(server.restart());
  auto alice2 = login(server, "alice", "laptop");
  auto third = alice2->send_text_once(bob_uid, kClientMsgId, "only once");
  ASSERT_TRUE(third.ok()) << third.status().reason;
  EXPECT_EQ(third.value().msg_id, first.msg_id);

  auto bob = login(server, "bob", "phone");
  auto inbox = whole_inbox(*bob);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].message.client_msg_id, kClientMsgId);
  EXPECT_EQ(whole_inbox(*alice2).size(), 1u);
  (void)alice_uid;
}

TEST(Reliability, SameDeviceLoginKicksTheOlderConnection) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  auto first = login(server, "alice", "phone");
  auto second = login(server, "alice", "phone");
  ASSERT_TRUE(first->wait_for_state(im::client::ConnectionState::Disconnected, 5000));
  auto kick = first->last_kick();
  ASSERT_TRUE(kick.has_value());
  EXPECT_EQ(kick->code, Code::Kicked);
  EXPECT_TRUE(second->ping().ok()) << "the newer connection stays";
}

TEST(Reliability, ReaderThatNeverReadsIsDisconnectedAndLaterResyncsAll) {
  TestServer server({"--max-outbound-bytes", "262144", "--max-unacked-bytes", "65536",
                     "--ack-timeout-ms", "1000"});
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  RawSession stuck(server);
  int small = 4096;
  setsockopt(stuck.conn().fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  ASSERT_EQ(stuck.login("bob", "phone"), Code::Ok);
  // Never read or ack again. ~1.5 MB is pushed at it: far more than its 64 KiB window.
  auto alice = login(server, "alice", "phone");
  const std::string text(15000, 'x');
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; i++) {
    auto r = alice->send_text(bob_uid, std::to_string(i) + text);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().reason;
  }
  // The server stops at the window, then cuts the reader off after the ack timeout.
  bool kicked = false;
  for (int i = 0; i < 200 && !kicked; i++) {
    auto f = stuck.conn().read_verified(100);
    if (f.ok() && f.value().type() == im::proto::Body::Kick) {
      EXPECT_EQ(f.value().frame().body_as_Kick()->code(), Code::SlowConsumer);
      kicked = true;
    }
  }
  EXPECT_TRUE(kicked) << "the server told the slow reader why";
  EXPECT_TRUE(stuck.conn().wait_closed(10000)) << "and closed it";
  // Logging in again resumes from the cursor: everything arrives, once, in order.
  auto bob = login(server, "bob", "phone");
  auto got = take(*bob, kMessages, 30000);
  ASSERT_EQ(got.size(), size_t(kMessages));
  for (int i = 0; i < kMessages; i++) {
    EXPECT_EQ(got[i].message.text.substr(0, std::to_string(i).size()), std::to_string(i));
  }
}

TEST(Reliability, OutboundBacklogOverTheCapDisconnects) {
  // Results count against the backlog too: a client that floods requests and never
  // reads its answers is cut off by max_outbound_bytes.
  TestServer server({"--max-outbound-bytes", "262144", "--max-unacked-bytes", "65536"});
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  RawSession flood(server);
  int small = 4096;
  setsockopt(flood.conn().fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  ASSERT_EQ(flood.login("alice", "phone"), Code::Ok);
  bool write_failed = false;
  for (int i = 0; i < 200000 && !write_failed; i++) {
    // History pages of an empty conversation are small; many of them fill the backlog.
    auto st = flood.conn().write_frame(
        im::client::build_conversations(flood.fbb(), flood.next_id(), 0), 2000);
    write_failed = !st.ok();
  }
  EXPECT_TRUE(flood.conn().wait_closed(20000));
  auto alice = login(server, "alice", "laptop");
  EXPECT_TRUE(alice->ping().ok()) << "the server is fine";
}

TEST(Reliability, IdleConnectionIsClosedWithAReason) {
  TestServer server({"--idle-timeout-ms", "500"});
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  RawSession idle(server);
  ASSERT_EQ(idle.login("alice", "phone"), Code::Ok);
  bool kicked = false;
  for (int i = 0; i < 20 && !kicked; i++) {
    auto f = idle.conn().read_verified(500);
    if (f.ok() && f.value().type() == im::proto::Body::Kick) {
      EXPECT_EQ(f.value().frame().body_as_Kick()->code(), Code::IdleTimeout);
      kicked = true;
    }
  }
  EXPECT_TRUE(kicked);
  EXPECT_TRUE(idle.conn().wait_closed(5000));
  // A client that pings stays connected past the timeout.
  ClientOptions opts;
  opts.ping_interval_ms = 150;
  auto alive = login(server, "alice", "laptop", opts);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(alive->state(), im::client::ConnectionState::LoggedIn);
  EXPECT_EQ(alive->stats().reconnects, 0u);
}

TEST(Reliability, TokensLogInUntilTheyExpire) {
  TestServer server({"--token-ttl-ms", "1500"});
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  auto alice = login(server, "alice", "phone");
  std::string token = alice->token();
  ASSERT_FALSE(token.empty());
  auto by_token = connect_client(server, "laptop");
  ASSERT_TRUE(by_token->login_token(token).ok());

  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  auto bad = connect_client(server, "tablet");
  EXPECT_EQ(bad->login_token(tampered).status().code, Code::AuthFailed);

  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  auto late = connect_client(server, "watch");
  EXPECT_EQ(late->login_token(token).status().code, Code::TokenExpired);
}

TEST(Reliability, GracefulShutdownTellsClientsAndExitsCleanly) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  RawSession raw(server);
  ASSERT_EQ(raw.login("alice", "phone"), Code::Ok);
  std::thread stopper([&] { EXPECT_TRUE(server.stop()) << "exit status 0"; });
  bool told = false;
  for (int i = 0; i < 20 && !told; i++) {
    auto f = raw.conn().read_verified(500);
    if (f.ok() && f.value().type() == im::proto::Body::Kick) {
      EXPECT_EQ(f.value().frame().body_as_Kick()->code(), Code::ServerShutdown);
      told = true;
    }
  }
  stopper.join();
  EXPECT_TRUE(told);
}

}  // namespace
}  // namespace im_it
