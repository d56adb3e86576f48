// chat_test.cc - one-to-one chat on a real imserver: both directions, offline delivery,
// the sender's other devices, users on different workers, restart, history paging,
// conversation list, unread counts and read state across devices.
#include <filesystem>

#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

TEST(Chat, TwoUsersChatBothWays) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  auto alice = login(server, "alice", "phone");
  auto bob = login(server, "bob", "phone");
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(alice->send_text(bob_uid, "a" + std::to_string(i)).ok());
    ASSERT_TRUE(bob->send_text(alice_uid, "b" + std::to_string(i)).ok());
  }
  // Each inbox holds 6 entries: 3 received, 3 of its own sent (write diffusion).
  auto at_bob = take(*bob, 6);
  auto at_alice = take(*alice, 6);
  auto from_alice = incoming(at_bob);
  auto from_bob = incoming(at_alice);
  ASSERT_EQ(from_alice.size(), 3u);
  ASSERT_EQ(from_bob.size(), 3u);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(from_alice[i].message.text, "a" + std::to_string(i));
    EXPECT_EQ(from_alice[i].message.sender_uid, alice_uid);
    EXPECT_EQ(from_bob[i].message.text, "b" + std::to_string(i));
  }
  for (size_t i = 0; i < at_bob.size(); i++) EXPECT_EQ(at_bob[i].inbox_seq, i + 1);
}

TEST(Chat, OfflineReceiverGetsEverythingInOrderOnLogin) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  auto alice = login(server, "alice", "phone");
  constexpr int kMessages = 300;  // more than one page and more than one push frame
  for (int i = 0; i < kMessages; i++) {
    ASSERT_TRUE(alice->send_text(bob_uid, "m" + std::to_string(i)).ok());
  }
  auto bob = login(server, "bob", "laptop");
  auto got = take(*bob, kMessages);
  ASSERT_EQ(got.size(), size_t(kMessages));
  for (int i = 0; i < kMessages; i++) {
    EXPECT_EQ(got[i].message.text, "m" + std::to_string(i));
    EXPECT_EQ(got[i].inbox_seq, uint64_t(i + 1));
  }
  EXPECT_FALSE(bob->next_entry(300).has_value()) << "nothing is delivered twice";
}

TEST(Chat, SendersOtherDeviceSeesItsOwnSentMessages) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  auto phone = login(server, "alice", "phone");
  auto laptop = login(server, "alice", "laptop");
  auto sent = phone->send_text(bob_uid, "from my phone");
  ASSERT_TRUE(sent.ok());
  auto got = take(*laptop, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].is_own);
  EXPECT_FALSE(got[0].from_this_device);
  EXPECT_EQ(got[0].message.text, "from my phone");
  EXPECT_EQ(got[0].message.receiver_uid, bob_uid);
  EXPECT_EQ(got[0].message.msg_id, sent.value().msg_id);
  EXPECT_EQ(got[0].inbox_seq, sent.value().inbox_seq);
}

TEST(Chat, UsersOnShardsOfDifferentWorkersChat) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  // 16 shards over 2 workers: worker = (uid % 16) % 2. Register until both workers own
  // at least one of our users, then chat across them.
  std::vector<std::pair<std::string, uint64_t>> users;
  for (int i = 0; i < 12; i++) {
    std::string name = "user" + std::to_string(i);
    users.emplace_back(name, register_user(server, name));
  }
  const std::pair<std::string, uint64_t>* even = nullptr;
  const std::pair<std::string, uint64_t>* odd = nullptr;
  for (auto& u : users) {
    if ((u.second % 16) % 2) {
      odd = &u;
    } else {
      even = &u;
    }
  }
  ASSERT_TRUE(even && odd) << "users on both workers";
  auto a = login(server, even->first, "d");
  auto b = login(server, odd->first, "d");
  for (int i = 0; i < 20; i++) {
    ASSERT_TRUE(a->send_text(odd->second, "x" + std::to_string(i)).ok());
    ASSERT_TRUE(b->send_text(even->second, "y" + std::to_string(i)).ok());
  }
  auto at_b = incoming(take(*b, 40));
  auto at_a = incoming(take(*a, 40));
  ASSERT_EQ(at_b.size(), 20u);
  ASSERT_EQ(at_a.size(), 20u);
  for (int i = 0; i < 20; i++) {
    EXPECT_EQ(at_b[i].message.text, "x" + std::to_string(i));
    EXPECT_EQ(at_a[i].message.text, "y" + std::to_string(i));
  }
}

TEST(Chat, RestartKeepsMessagesCursorsAndTokens) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  std::string token;
  {
    auto alice = login(server, "alice", "phone");
    token = alice->token();
    for (int i = 0; i < 10; i++) ASSERT_TRUE(alice->send_text(bob_uid, std::to_string(i)).ok());
    auto bob = login(server, "bob", "phone");
    ASSERT_EQ(take(*bob, 10).size(), 10u);
    bob->close();
  }
  ASSERT_TRUE(server.restart()) << server.error();
  // The token survives (the secret is in the data dir) and the history is intact.
  auto alice = connect_client(server, "tablet");
  ASSERT_TRUE(alice->login_token(token).ok());
  auto h = alice->history(bob_uid, 0, 0, 50);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h.value().entries.size(), 10u);
  EXPECT_EQ(h.value().entries.front().message.text, "9");  // newest first
  // bob's phone acked everything before the restart: nothing is pushed again.
  auto bob = login(server, "bob", "phone");
  EXPECT_FALSE(bob->next_entry(500).has_value());
  // A new device of bob's gets the whole inbox.
  auto bob2 = login(server, "bob", "laptop");
  EXPECT_EQ(take(*bob2, 10).size(), 10u);
  // Sending continues with the next seqs.
  auto r = alice->send_text(bob_uid, "after restart");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().inbox_seq, 11u);
}

// The commit logs are per worker (data/log-NNN): a server killed with unapplied writes and
// started with fewer workers applies the logs of the workers that are gone, and one started
// with more workers again finds everything; nothing acknowledged is lost either way.
TEST(Chat, KilledServerRestartedWithOtherWorkerCountsKeepsEveryMessage) {
  TestServer server({"--workers", "3"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  {
    auto alice = login(server, "alice", "phone");
    for (int i = 0; i < 30; i++) ASSERT_TRUE(alice->send_text(bob_uid, std::to_string(i)).ok());
  }
  server.kill();
  ASSERT_TRUE(std::filesystem::exists(server.data_dir() + "/log-002"));
  server.set_extra_args({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  EXPECT_FALSE(std::filesystem::exists(server.data_dir() + "/log-002"));
  {
    auto bob = login(server, "bob", "phone");
    auto got = take(*bob, 30);
    ASSERT_EQ(got.size(), 30u);
    for (int i = 0; i < 30; i++) EXPECT_EQ(got[i].message.text, std::to_string(i));
    auto alice = login(server, "alice", "phone");
    ASSERT_TRUE(alice->send_text(bob_uid, "30").ok());
    EXPECT_EQ(take(*bob, 1).size(), 1u);
  }
  server.kill();
  server.set_extra_args({"--workers", "4"});
  ASSERT_TRUE(server.start()) << server.error();
  auto bob = login(server, "bob", "laptop");
  auto h = bob->history(alice_uid, 0, 0, 50);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h.value().entries.size(), 31u);
  EXPECT_EQ(h.value().entries.front().message.text, "30");  // newest first
  auto r = login(server, "alice", "phone")->send_text(bob_uid, "31");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().inbox_seq, 32u);
}

TEST(Chat, HistoryPagesBothWays) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  uint64_t carol_uid = register_user(server, "carol");
  auto alice = login(server, "alice", "phone");
  for (int i = 0; i < 120; i++) {
    ASSERT_TRUE(alice->send_text(bob_uid, "b" + std::to_string(i)).ok());
    if (i % 10 == 0) {
      ASSERT_TRUE(alice->send_text(carol_uid, "c").ok());
    }
  }
  auto bob = login(server, "bob", "phone");
  // Newest first, 50 at a time, only this conversation.
  std::vector<std::string> texts;
  uint64_t before = 0;
  for (int page = 0; page < 5; page++) {
    auto h = bob->history(alice_uid, before, 0, 50);
    ASSERT_TRUE(h.ok()) << h.status().reason;
    for (auto& e : h.value().entries) {
      texts.push_back(e.message.text);
      before = e.inbox_seq;
    }
    if (!h.value().has_more) break;
  }
  ASSERT_EQ(texts.size(), 120u);
  for (int i = 0; i < 120; i++) EXPECT_EQ(texts[i], "b" + std::to_string(119 - i));
  // Oldest first after a seq.
  auto h = bob->history(alice_uid, 0, 100, 50);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h.value().entries.size(), 20u);
  EXPECT_EQ(h.value().entries.front().message.text, "b100");
  EXPECT_FALSE(h.value().has_more);
  // A limit above the cap is capped, not refused.
  auto big = bob->history(alice_uid, 0, 0, 100000);
  ASSERT_TRUE(big.ok());
  EXPECT_LE(big.value().entries.size(), 200u);
}

TEST(Chat, UnreadCountsAndMarkReadAcrossDevices) {
  TestServer server({"--workers", "2"});
  ASSERT_TRUE(server.start()) << server.error();
  uint64_t alice_uid = register_user(server, "alice");
  uint64_t bob_uid = register_user(server, "bob");
  uint64_t carol_uid = register_user(server, "carol");
  auto alice = login(server, "alice", "phone");
  auto carol = login(server, "carol", "phone");
  for (int i = 0; i < 5; i++) ASSERT_TRUE(alice->send_text(bob_uid, "hi").ok());
  for (int i = 0; i < 2; i++) ASSERT_TRUE(carol->send_text(bob_uid, "yo").ok());
  auto phone = login(server, "bob", "phone");
  auto laptop = login(server, "bob", "laptop");
  ASSERT_EQ(take(*laptop, 7).size(), 7u);

  auto convs = phone->conversations();
  ASSERT_TRUE(convs.ok());
  ASSERT_EQ(convs.value().conversations.size(), 2u);
  EXPECT_EQ(convs.value().total_unread, 7u);
  EXPECT_EQ(convs.value().conversations[0].peer_uid, carol_uid) << "newest activity first";
  EXPECT_EQ(convs.value().conversations[0].unread, 2u);
  EXPECT_EQ(convs.value().conversations[1].unread, 5u);
  EXPECT_TRUE(convs.value().conversations[0].has_last);

  // Read alice's conversation up to her third message: two stay unread.
  auto h = phone->history(alice_uid, 0, 0, 50);
  ASSERT_TRUE(h.ok());
  uint64_t third = h.value().entries[2].inbox_seq;  // newest first: index 2 = 3rd newest
  auto partial = phone->mark_read(alice_uid, third);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial.value().unread, 2u);
  auto all = phone->mark_read(alice_uid);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value().unread, 0u);

  // The laptop learns of both read-state changes through its inbox.
  auto events = take(*laptop, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, im::client::EntryKind::ReadEvent);
  EXPECT_EQ(events[1].read_event.peer_uid, alice_uid);
  EXPECT_EQ(events[1].read_event.device_id, "phone");
  auto after = laptop->conversations();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().total_unread, 2u);
  (void)alice_uid;
}

}  // namespace
}  // namespace im_it
