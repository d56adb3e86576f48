// storage_full_test.cc - a full store refuses writes with StorageFull (retryable) and
// keeps reads and logins working; nothing acknowledged is lost.
#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

// Registers alice and bob; alice (logged in) sends large messages to bob until the server
// refuses one. The acknowledged msg_ids, in order, and the refusal.
struct Filled {
  std::unique_ptr<Client> alice;
  uint64_t bob_uid = 0;
  std::vector<uint64_t> acknowledged;
  Code refused = Code::Ok;
};
Filled fill_until_refused(TestServer& server) {
  Filled out;
  register_user(server, "alice");
  out.bob_uid = register_user(server, "bob");
  out.alice = login(server, "alice", "phone");
  const std::string text(15000, 'f');
  for (int i = 0; i < 400 && out.refused == Code::Ok; i++) {
    auto r = out.alice->send_text_once(out.bob_uid, 1000 + i, text);
    if (r.ok()) out.acknowledged.push_back(r.value().msg_id);
    if (!r.ok()) out.refused = r.status().code;
  }
  return out;
}

TEST(StorageFull, FullMapRefusesWritesButKeepsReadsAndLogins) {
  // 1 MiB per shard, no growth: a few dozen large messages fill the receiver's shard.
  TestServer server({"--map-bytes", "1048576", "--max-map-bytes", "1048576"});
  ASSERT_TRUE(server.start()) << server.error();
  auto [alice, bob_uid, acknowledged, refused] = fill_until_refused(server);
  EXPECT_EQ(refused, Code::StorageFull);
  ASSERT_FALSE(acknowledged.empty());
  // Logins and reads keep working.
  auto bob = login(server, "bob", "phone");
  auto inbox = whole_inbox(*bob);
  ASSERT_GE(inbox.size(), acknowledged.size());
  for (size_t i = 0; i < acknowledged.size(); i++) {
    EXPECT_EQ(inbox[i].message.msg_id, acknowledged[i]) << "every acknowledged message is there";
  }
  auto h = alice->history(bob_uid, 0, 0, 10);
  EXPECT_TRUE(h.ok()) << h.status().reason;
  EXPECT_TRUE(bob->ping().ok());
  // After a restart the acknowledged messages are all still there.
  ASSERT_TRUE(server.restart()) << server.error();
  auto bob2 = login(server, "bob", "laptop");
  auto again = whole_inbox(*bob2);
  ASSERT_GE(again.size(), acknowledged.size());
  for (size_t i = 0; i < acknowledged.size(); i++) {
    EXPECT_EQ(again[i].message.msg_id, acknowledged[i]);
  }
}

// One worker: every 1:1 send is fused (both copies go into one log record, the two shards'
// batches coupled). When one shard's map is full, the other shard's batch fails with it, so a
// message is in both inboxes or in neither, acknowledged or not.
TEST(StorageFull, FusedSendsLeaveNoCopyWithoutItsTwinWhenAShardIsFull) {
  TestServer server({"--workers", "1", "--map-bytes", "1048576", "--max-map-bytes", "1048576"});
  ASSERT_TRUE(server.start()) << server.error();
  auto [alice, bob_uid, acknowledged, refused] = fill_until_refused(server);
  EXPECT_EQ(refused, Code::StorageFull);
  ASSERT_FALSE(acknowledged.empty());
  for (int round = 0; round < 2; ++round) {
    auto bob = login(server, "bob", round == 0 ? "phone" : "laptop");
    auto reader = login(server, "alice", round == 0 ? "tablet" : "desk");
    std::vector<uint64_t> at_bob, at_alice;
    for (const auto& e : whole_inbox(*bob)) at_bob.push_back(e.message.msg_id);
    for (const auto& e : whole_inbox(*reader)) at_alice.push_back(e.message.msg_id);
    EXPECT_EQ(at_bob, at_alice) << "round " << round;
    ASSERT_GE(at_bob.size(), acknowledged.size());
    for (size_t i = 0; i < acknowledged.size(); i++) EXPECT_EQ(at_bob[i], acknowledged[i]);
    if (round == 0) {
      ASSERT_TRUE(server.restart()) << server.error();
    }
  }
}

}  // namespace
}  // namespace im_it
