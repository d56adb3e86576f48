// reliability_test.cc - the reliability contract at the edges: a resend stores once, the
// same device id kicks its older connection (and the device's acked cursor survives
// reconnects), a reader that never reads is cut off and
// later resyncs everything, idle connections are closed, max_connections holds for the
// whole process, tokens expire, and a graceful shutdown tells every client why.
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
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

// The sender with the larger uid: step 1 writes the receiver's copy, step 2 the sender's,
// so it is the second shard that must find the sender's copy and answer "duplicate".
TEST(Reliability, ResendFromTheLargerUidStoresOnceAndAnswersTheFirstResult) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  register_user(server, "bob");  // the larger uid
  constexpr uint64_t kClientMsgId = 0x7777ull;
  auto bob = login(server, "bob", "phone");
  auto first = bob->send_text_once(alice_uid, kClientMsgId, "hello once");
  ASSERT_TRUE(first.ok()) << first.status().reason;
  EXPECT_FALSE(first.value().duplicate);
  auto again = bob->send_text_once(alice_uid, kClientMsgId, "hello once");
  ASSERT_TRUE(again.ok()) << again.status().reason;
  EXPECT_TRUE(again.value().duplicate);
  EXPECT_EQ(again.value().msg_id, first.value().msg_id);
  EXPECT_EQ(again.value().inbox_seq, first.value().inbox_seq);
  auto fresh = bob->send_text_once(alice_uid, kClientMsgId + 1, "and a new one");
  ASSERT_TRUE(fresh.ok()) << fresh.status().reason;
  EXPECT_FALSE(fresh.value().duplicate);
  EXPECT_GT(fresh.value().inbox_seq, first.value().inbox_seq);

  auto alice = login(server, "alice", "phone");
  EXPECT_EQ(whole_inbox(*alice).size(), 2u);
  EXPECT_EQ(whole_inbox(*bob).size(), 2u);
}

// The server knows each sender's highest client_msg_id with a dedup row and takes a higher id
// as new without a table read (ids grow per client). Ids that do not grow must still be
// checked against the table: every resend below, in any order, before and after a restart,
// is answered with its first result, from either side of the conversation.
TEST(Reliability, ResendsOfIdsInAnyOrderAreFoundWhateverTheHighestId) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");  // the larger uid: step 1 on alice's shard
  const uint64_t ids[] = {1000, 1001, 500, 2000, 1500, 1, 1999};
  std::map<std::pair<int, uint64_t>, im::client::SendReceipt> first;
  {
    auto alice = login(server, "alice", "phone");
    auto bob = login(server, "bob", "phone");
    for (uint64_t id : ids) {
      auto a = alice->send_text_once(bob_uid, id, "a" + std::to_string(id));
      auto b = bob->send_text_once(alice_uid, id, "b" + std::to_string(id));
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_FALSE(a.value().duplicate || b.value().duplicate) << id;
      first[{0, id}] = a.value();
      first[{1, id}] = b.value();
    }
  }
  for (int round = 0; round < 2; ++round) {
    auto alice = login(server, "alice", "laptop");
    auto bob = login(server, "bob", "laptop");
    for (auto it = std::rbegin(ids); it != std::rend(ids); ++it) {
      auto a = alice->send_text_once(bob_uid, *it, "a" + std::to_string(*it));
      auto b = bob->send_text_once(alice_uid, *it, "b" + std::to_string(*it));
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_TRUE(a.value().duplicate && b.value().duplicate) << *it << " round " << round;
      EXPECT_EQ(a.value().msg_id, (first[{0, *it}].msg_id));
      EXPECT_EQ(b.value().inbox_seq, (first[{1, *it}].inbox_seq));
    }
    EXPECT_EQ(whole_inbox(*alice).size(), 2 * std::size(ids));
    EXPECT_EQ(whole_inbox(*bob).size(), 2 * std::size(ids));
    if (round == 0) {
      ASSERT_TRUE(server.restart());
    }
  }
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

// The inbox_seqs a raw session was pushed up to the Pong of a Ping sent now (a login's
// catch-up leaves with its LoginOk, so it is all there by then).
std::vector<uint64_t> pushed_until_pong(RawSession& s) {
  uint64_t id = s.next_id();
  auto pong = s.call(im::client::build_ping(s.fbb(), id, 0), id);
  EXPECT_EQ(pong.type(), im::proto::Body::Pong);
  std::vector<uint64_t> seqs;
  for (auto& f : s.others()) {
    if (f.type() != im::proto::Body::Push) continue;
    for (const auto& e : im::client::decode_entry_blobs(f.frame().body_as_Push()->entries()))
      seqs.push_back(e.inbox_seq);
  }
  s.others().clear();
  return seqs;
}

void ack(RawSession& s, uint64_t inbox_seq) {
  auto st = s.conn().write_frame(im::client::build_ack(s.fbb(), s.next_id(), inbox_seq), 5000);
  EXPECT_TRUE(st.ok()) << st.reason;
}

// A login or a logout writes the device row only when it would change (shard_auth.cc):
// the acked cursor still comes back on every reconnect of the device (these Hellos carry
// ack_inbox_seq 0), also through a login that kicks a connection whose last ack the
// server has not written yet.
TEST(Reliability, AckedCursorSurvivesReconnectsOfTheDevice) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  register_user(server, "bob");
  auto bob = login(server, "bob", "phone");
  for (int i = 0; i < 3; i++) ASSERT_TRUE(bob->send_text(alice_uid, "m" + std::to_string(i)).ok());
  {
    RawSession first(server);
    ASSERT_EQ(first.login("alice", "phone"), Code::Ok);
    EXPECT_EQ(pushed_until_pong(first), (std::vector<uint64_t>{1, 2, 3}));
    ack(first, 3);
    EXPECT_TRUE(pushed_until_pong(first).empty());
    // Let the ack's batch commit before the device goes away (its logout writes nothing).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RawSession second(server);
  ASSERT_EQ(second.login("alice", "phone"), Code::Ok);
  EXPECT_TRUE(pushed_until_pong(second).empty()) << "resumes after the stored cursor";
  ASSERT_TRUE(bob->send_text(alice_uid, "m3").ok());
  auto live = second.conn().read_verified(5000);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live.value().type(), im::proto::Body::Push);
  ack(second, 4);
  EXPECT_TRUE(pushed_until_pong(second).empty());
  // At once, before that ack can be committed: the new connection takes it over.
  RawSession third(server);
  ASSERT_EQ(third.login("alice", "phone"), Code::Ok);
  EXPECT_TRUE(pushed_until_pong(third).empty()) << "the kicked connection's ack carried over";
  bool kicked = false;
  for (int i = 0; i < 50 && !kicked; i++) {
    auto f = second.conn().read_verified(100);
    kicked = f.ok() && f.value().type() == im::proto::Body::Kick;
  }
  EXPECT_TRUE(kicked) << "the older connection of the device was kicked";
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

// True when the server serves this connection: a Ping is answered with a Pong.
bool served(im::client::Connection& conn) {
  flatbuffers::FlatBufferBuilder fbb;
  if (!conn.write_frame(im::client::build_ping(fbb, 1, 0), 2000).ok()) return false;
  auto f = conn.read_verified(2000);
  return f.ok() && f.value().type() == im::proto::Body::Pong;
}

// A new connection that is served, retried for a few seconds: a slot freed by a close is
// counted free once the server has finished closing it.
std::unique_ptr<im::client::Connection> open_served(TestServer& server) {
  for (int attempt = 0; attempt < 50; attempt++) {
    auto conn = std::make_unique<im::client::Connection>();
    if (conn->connect(server.host(), server.port(), 2000).ok() && served(*conn)) return conn;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return nullptr;
}

TEST(Reliability, MaxConnectionsBoundsTheProcessNotEachWorker) {
  // The kernel spreads connections over the workers' listeners by hash, not evenly: a
  // per-worker share of the bound refused some below it and let the total pass it.
  constexpr int kMax = 6;
  TestServer server({"--workers", "2", "--max-connections", std::to_string(kMax)});
  ASSERT_TRUE(server.start()) << server.error();
  std::vector<std::unique_ptr<im::client::Connection>> held;
  for (int i = 0; i < kMax; i++) {
    held.push_back(open_served(server));
    ASSERT_NE(held.back(), nullptr) << "connection " << i << " of " << kMax << " refused";
  }
  for (int i = 0; i < 8; i++) {
    im::client::Connection extra;
    ASSERT_TRUE(extra.connect(server.host(), server.port(), 2000).ok());
    EXPECT_FALSE(served(extra)) << "a connection past max_connections is refused";
    EXPECT_TRUE(extra.wait_closed(5000));
  }
  for (auto& c : held) EXPECT_TRUE(served(*c)) << "the held connections go on";
  held.pop_back();  // closing one makes room for one more
  EXPECT_NE(open_served(server), nullptr);
}

TEST(Reliability, OutOfFileDescriptorsPausesAcceptingInsteadOfSpinning) {
  // The server runs under a small descriptor limit, set by a wrapper script.
  char dir_template[] = "/tmp/imserver-fdlimit-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string wrapper = std::string(dir_template) + "/imserver";
  {
    std::ofstream out(wrapper);
    const char* bin = std::getenv("IMSERVER_BIN");
    out << "#!/bin/sh\nulimit -n 64\nexec '" << (bin && *bin ? bin : IMSERVER_PATH) << "' \"$@\"\n";
  }
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  im::testing::TestServerOptions options;
  options.binary = wrapper;
  options.extra_args = {"--workers", "1", "--shards", "2"};
  TestServer server(options);
  ASSERT_TRUE(server.start()) << server.error();
  // More connections than descriptors: the rest wait in the listen queue.
  std::vector<std::unique_ptr<im::client::Connection>> flood;
  for (int i = 0; i < 100; i++) {
    flood.push_back(std::make_unique<im::client::Connection>());
    ASSERT_TRUE(flood.back()->connect(server.host(), server.port(), 2000).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  std::istringstream log(server.log());
  int accept_errors = 0;
  for (std::string line; std::getline(log, line);) {
    accept_errors += line.find("accept: Too many open files") != std::string::npos;
  }
  EXPECT_GE(accept_errors, 1) << "the limit was reached";
  EXPECT_LE(accept_errors, 5) << "accepting again waits for the tick instead of spinning";
  flood.clear();
  EXPECT_NE(open_served(server), nullptr) << "accepting resumes once descriptors are free";
  std::filesystem::remove_all(dir_template);
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
