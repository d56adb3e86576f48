// group_test.cc - group chat on a real imserver (--workers 2): delivery to members on both
// workers, once and in the same order; visibility (late joiners, kicked and departed
// members); refusals with their documented codes (non-member, muted, role, dismissed);
// unread counts, mentions and read state across devices; offline catch-up; restart; and
// the imcli group commands.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

using im::client::EntryKind;
using im::proto::GroupEventKind;

struct User {
  std::string name;
  uint64_t uid = 0;
};

class Groups : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.error(); }
  User add(const std::string& name) { return {name, register_user(server_, name)}; }
  std::unique_ptr<Client> as(const User& u, const std::string& device = "phone") {
    return login(server_, u.name, device);
  }
  TestServer server_{{"--workers", "2"}};
};

std::vector<uint64_t> seqs_of(const std::vector<InboxEntry>& entries) {
  std::vector<uint64_t> out;
  for (const auto& e : entries) out.push_back(e.group_seq);
  return out;
}

// Every entry of a group the client may see, oldest first, through GroupSync pages.
std::vector<InboxEntry> whole_log(Client& c, uint64_t gid) {
  std::vector<InboxEntry> all;
  uint64_t after = 0;
  for (int pages = 0; pages < 1000; pages++) {
    auto page = c.group_sync(gid, after, 50);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    if (!page.ok()) break;
    for (auto& e : page->entries) {
      after = e.group_seq;
      all.push_back(std::move(e));
    }
    if (!page->has_more || page->entries.empty()) break;
  }
  return all;
}

TEST_F(Groups, MembersOnBothWorkersGetEveryMessageOnceInTheSameOrder) {
  std::vector<User> users;
  for (int i = 0; i < 8; i++) users.push_back(add("user" + std::to_string(i)));
  bool both = false;
  for (const User& u : users) both |= worker_of(u.uid, 2) != worker_of(users[0].uid, 2);
  ASSERT_TRUE(both) << "members on both workers";
  std::vector<std::unique_ptr<Client>> clients;
  for (const User& u : users) clients.push_back(as(u));
  std::vector<uint64_t> others;
  for (size_t i = 1; i < users.size(); i++) others.push_back(users[i].uid);
  auto created = clients[0]->create_group("everyone", others);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  uint64_t gid = created->gid;
  EXPECT_EQ(created->group_seq, 1u);

  // Three senders at once, 20 messages each.
  constexpr int kEach = 20;
  std::vector<std::thread> senders;
  for (int s = 0; s < 3; s++) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kEach; i++) {
        auto r = clients[s * 3]->group_send_text(gid, users[s * 3].name + "-" + std::to_string(i));
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        EXPECT_EQ(r->gid, gid);
      }
    });
  }
  for (auto& t : senders) t.join();

  const size_t total = 1 + 3 * kEach;  // the Created event and the messages
  std::vector<uint64_t> first_order;
  for (size_t m = 0; m < clients.size(); m++) {
    auto got = take_group(*clients[m], gid, total);
    ASSERT_EQ(got.size(), total) << users[m].name;
    std::vector<uint64_t> expected(total);
    for (size_t i = 0; i < total; i++) expected[i] = i + 1;
    EXPECT_EQ(seqs_of(got), expected) << users[m].name << ": gapless, in order, once";
    EXPECT_EQ(got[0].kind, EntryKind::GroupEvent);
    EXPECT_EQ(got[0].group_event.kind, GroupEventKind::Created);
    EXPECT_EQ(got[0].group_event.text, "everyone");
    std::vector<uint64_t> order;
    for (const auto& e : got) order.push_back(e.kind == EntryKind::Message ? e.message.msg_id : 0);
    if (m == 0) first_order = order;
    EXPECT_EQ(order, first_order) << users[m].name << " sees the same order";
    std::map<std::string, int> next;  // each sender's messages in the order sent
    for (const auto& e : got) {
      if (e.kind != EntryKind::Message) continue;
      std::string who = e.message.text.substr(0, e.message.text.find('-'));
      EXPECT_EQ(e.message.text, who + "-" + std::to_string(next[who]++));
    }
    EXPECT_FALSE(clients[m]->next_entry(200).has_value()) << "nothing twice";
    // Members are indexed before the Created event fans out: it arrives live, no gap.
    EXPECT_EQ(clients[m]->stats().group_gaps_detected, 0u) << users[m].name;
  }
}

// Waits for a GroupPush of gid on a raw session (frames of other kinds are skipped).
bool group_push_arrives(RawSession& s, uint64_t gid, uint32_t timeout_ms = 5000) {
  int64_t deadline = im::client::steady_now_ms() + timeout_ms;
  while (im::client::steady_now_ms() < deadline) {
    auto f = s.conn().read_verified(uint32_t(deadline - im::client::steady_now_ms()));
    if (!f.ok()) return false;
    if (f.value().type() != im::proto::Body::GroupPush) continue;
    for (const auto& e :
         im::client::decode_entry_blobs(f.value().frame().body_as_GroupPush()->entries())) {
      if (e.gid == gid) return true;
    }
  }
  return false;
}

// A worker remembers users whose login found them in no group, and their later logins
// skip the gather of their groups (gather.cc). Joining a group must still reach the
// connection online at that moment and every connection of theirs after it, live.
TEST_F(Groups, UserInNoGroupAtLoginGetsLivePushesAfterJoining) {
  User alice = add("alice"), bob = add("bob");
  auto a = as(alice);
  // Several logins, so that both workers (all but surely) remember bob as groupless.
  for (int i = 0; i < 8; i++) {
    RawSession s(server_);
    ASSERT_EQ(s.login(bob.name, "phone"), Code::Ok);
  }
  RawSession online(server_);
  ASSERT_EQ(online.login(bob.name, "phone"), Code::Ok);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_TRUE(group_push_arrives(online, g->gid)) << "the Created event, live";
  for (int i = 0; i < 8; i++) {
    RawSession s(server_);
    ASSERT_EQ(s.login(bob.name, "tablet"), Code::Ok);
    // A login that gathers its groups may answer before the gather is done; a ListGroups
    // (a gather after it over the same queues) answered means it is.
    uint64_t id = s.next_id();
    ASSERT_EQ(RawSession::code_of(s.call(im::client::build_list_groups(s.fbb(), id), id)),
              Code::Ok);
    ASSERT_TRUE(a->group_send_text(g->gid, "m" + std::to_string(i)).ok());
    EXPECT_TRUE(group_push_arrives(s, g->gid)) << "login " << i << " is indexed under the group";
  }
}

TEST_F(Groups, LateJoinerSeesOnlyFromItsInvitation) {
  User alice = add("alice"), bob = add("bob"), carol = add("carol");
  auto a = as(alice);
  auto c = as(carol);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
  ASSERT_TRUE(g.ok());
  for (int i = 0; i < 5; i++) ASSERT_TRUE(a->group_send_text(g->gid, "early").ok());
  auto invited = a->invite(g->gid, std::vector<uint64_t>{carol.uid});
  ASSERT_TRUE(invited.ok()) << invited.status().to_string();
  EXPECT_EQ(invited->group_seq, 7u);
  ASSERT_TRUE(a->group_send_text(g->gid, "welcome").ok());

  auto info = c->group_info(g->gid);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->join_group_seq, 6u);
  EXPECT_TRUE(info->is_member);
  auto log = whole_log(*c, g->gid);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].group_event.kind, GroupEventKind::Invited);
  EXPECT_EQ(log[1].message.text, "welcome");
  auto h = c->group_history(g->gid, 0, 0, 50);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 2u);
  EXPECT_EQ(h->entries[0].group_seq, 8u) << "newest first";
  auto older = c->group_history(g->gid, 7, 0, 50);
  ASSERT_TRUE(older.ok());
  EXPECT_TRUE(older->entries.empty()) << "nothing before the invitation";
  // Live: the SDK delivers the invitation and what follows, nothing earlier.
  auto live = take_group(*c, g->gid, 2);
  EXPECT_EQ(seqs_of(live), (std::vector<uint64_t>{7, 8}));
}

TEST_F(Groups, KickedAndDepartedMembersCannotSendOrReadNewEntries) {
  User alice = add("alice"), bob = add("bob"), carol = add("carol");
  auto a = as(alice);
  auto b = as(bob);
  auto c = as(carol);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid, carol.uid});
  ASSERT_TRUE(g.ok());
  uint64_t gid = g->gid;
  ASSERT_TRUE(a->group_send_text(gid, "one").ok());
  auto removed = a->remove_member(gid, bob.uid);
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  ASSERT_TRUE(c->group_send_text(gid, "after bob").ok());
  auto quit = c->quit_group(gid);
  ASSERT_TRUE(quit.ok()) << quit.status().to_string();
  ASSERT_TRUE(a->group_send_text(gid, "after carol").ok());

  EXPECT_EQ(b->group_send_text(gid, "let me in").code(), Code::NotMember);
  EXPECT_EQ(c->group_send_text(gid, "let me in").code(), Code::NotMember);
  auto bob_log = whole_log(*b, gid);
  ASSERT_FALSE(bob_log.empty());
  EXPECT_EQ(bob_log.back().group_seq, removed->group_seq) << "up to its removal";
  EXPECT_EQ(bob_log.back().group_event.kind, GroupEventKind::Removed);
  auto carol_log = whole_log(*c, gid);
  ASSERT_FALSE(carol_log.empty());
  EXPECT_EQ(carol_log.back().group_event.kind, GroupEventKind::Left);
  auto info = b->group_info(gid);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->is_member);
  EXPECT_EQ(info->last_group_seq, removed->group_seq);
  // Live delivery stopped at the removal too.
  auto live = take_group(*b, gid, removed->group_seq);
  EXPECT_EQ(live.back().group_event.kind, GroupEventKind::Removed);
  EXPECT_FALSE(b->next_entry(300).has_value());
  // Neither lists the group any more; the owner may not quit.
  auto groups = b->list_groups();
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->empty());
  EXPECT_EQ(a->quit_group(gid).code(), Code::NotAllowed);
  auto members = a->list_members(gid);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->members.size(), 1u);
  EXPECT_EQ(members->members[0].uid, alice.uid);
}

TEST_F(Groups, NonMembersMutedMembersAndRolesAreRefusedWithTheirCodes) {
  User alice = add("alice"), bob = add("bob"), carol = add("carol"), dave = add("dave");
  auto a = as(alice);
  auto b = as(bob);
  auto d = as(dave);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid, carol.uid});
  ASSERT_TRUE(g.ok());
  uint64_t gid = g->gid;
  EXPECT_EQ(d->group_send_text(gid, "hi").code(), Code::NotMember);
  EXPECT_EQ(d->group_history(gid, 0, 0, 10).code(), Code::NotMember);
  EXPECT_EQ(d->group_sync(gid, 0).code(), Code::NotMember);
  EXPECT_EQ(d->group_info(gid).code(), Code::NotMember);
  EXPECT_EQ(d->group_send_text(gid + 16 * 1000, "hi").code(), Code::UnknownGroup);
  EXPECT_EQ(a->create_group("", {}).code(), Code::BadRequest);
  EXPECT_EQ(a->create_group("x", std::vector<uint64_t>{987654321}).code(), Code::UnknownUser);

  // A plain member may not manage.
  EXPECT_EQ(b->remove_member(gid, carol.uid).code(), Code::NotAllowed);
  EXPECT_EQ(b->invite(gid, std::vector<uint64_t>{dave.uid}).code(), Code::NotAllowed);
  EXPECT_EQ(b->mute_member(gid, carol.uid, true).code(), Code::NotAllowed);
  EXPECT_EQ(b->dismiss_group(gid).code(), Code::NotAllowed);
  // Muted by the owner: sends refused until unmuted.
  ASSERT_TRUE(a->mute_member(gid, bob.uid, true).ok());
  EXPECT_EQ(b->group_send_text(gid, "shh").code(), Code::MutedInGroup);
  auto info = b->group_info(gid);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->my_muted);
  ASSERT_TRUE(a->mute_member(gid, bob.uid, false).ok());
  EXPECT_TRUE(b->group_send_text(gid, "back").ok());
  // An admin invites and removes plain members, but not the owner.
  ASSERT_TRUE(a->set_admin(gid, bob.uid, true).ok());
  EXPECT_TRUE(b->invite(gid, std::vector<uint64_t>{dave.uid}).ok());
  EXPECT_TRUE(b->remove_member(gid, dave.uid).ok());
  EXPECT_EQ(b->remove_member(gid, alice.uid).code(), Code::NotAllowed);
  im::client::GroupUpdate rename;
  rename.name = "renamed";
  auto renamed = b->update_group(gid, rename);
  ASSERT_TRUE(renamed.ok()) << renamed.status().to_string();
  auto after = a->group_info(gid);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->name, "renamed");
  EXPECT_EQ(after->admins, (std::vector<uint64_t>{bob.uid}));
  // Ownership moves; the old owner becomes an admin and may then quit.
  ASSERT_TRUE(a->transfer_ownership(gid, bob.uid).ok());
  EXPECT_TRUE(a->quit_group(gid).ok());
  auto final_info = b->group_info(gid);
  ASSERT_TRUE(final_info.ok());
  EXPECT_EQ(final_info->owner_uid, bob.uid);
  EXPECT_EQ(final_info->my_role, im::proto::GroupRole::Owner);
}

TEST_F(Groups, DismissedGroupRefusesChangesButKeepsItsHistory) {
  User alice = add("alice"), bob = add("bob"), carol = add("carol");
  auto a = as(alice);
  auto b = as(bob);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(b->group_send_text(g->gid, "last words").ok());
  ASSERT_TRUE(a->dismiss_group(g->gid).ok());
  EXPECT_EQ(b->group_send_text(g->gid, "hello?").code(), Code::GroupDismissed);
  EXPECT_EQ(a->group_send_text(g->gid, "hello?").code(), Code::GroupDismissed);
  EXPECT_EQ(a->invite(g->gid, std::vector<uint64_t>{carol.uid}).code(), Code::GroupDismissed);
  auto h = b->group_history(g->gid, 0, 0, 10);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->entries.size(), 3u);
  EXPECT_EQ(h->entries[0].group_event.kind, GroupEventKind::Dismissed);
  EXPECT_EQ(h->entries[1].message.text, "last words");
  auto groups = b->list_groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_TRUE(groups->at(0).dismissed);
}

TEST_F(Groups, UnreadCountsMentionsAndReadStateAcrossDevices) {
  User alice = add("alice"), bob = add("bob"), carol = add("carol");
  auto a = as(alice);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid, carol.uid});
  ASSERT_TRUE(g.ok());
  uint64_t gid = g->gid;
  ASSERT_TRUE(a->group_send_text(gid, "one").ok());
  ASSERT_TRUE(a->group_send_text(gid, "@bob two", std::vector<uint64_t>{bob.uid}).ok());
  auto three = a->group_send_text(gid, "three");
  ASSERT_TRUE(three.ok());
  ASSERT_TRUE(a->send_text(bob.uid, "a direct message").ok());

  auto phone = as(bob, "phone");
  auto laptop = as(bob, "laptop");
  auto groups = phone->list_groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ(groups->at(0).unread, 3u) << "messages of others; events are not unread";
  EXPECT_TRUE(groups->at(0).mentioned);
  EXPECT_EQ(groups->at(0).last_group_seq, three->group_seq);
  auto convs = phone->conversations();
  ASSERT_TRUE(convs.ok());
  ASSERT_EQ(convs->conversations.size(), 2u);
  EXPECT_EQ(convs->total_unread, 4u);
  const auto& group_row =
      convs->conversations[1].is_group() ? convs->conversations[1] : convs->conversations[0];
  EXPECT_EQ(group_row.gid, gid);
  EXPECT_EQ(group_row.name, "team");
  EXPECT_EQ(group_row.unread, 3u);
  EXPECT_TRUE(group_row.mentioned);
  EXPECT_TRUE(group_row.has_last);
  EXPECT_EQ(group_row.last.message.text, "three");
  // carol's view: the mention was not hers.
  auto c = as(carol);
  auto carol_groups = c->list_groups();
  ASSERT_TRUE(carol_groups.ok());
  EXPECT_FALSE(carol_groups->at(0).mentioned);

  // Read up to the mention: one unread left, no longer mentioned.
  auto partial = phone->mark_group_read(gid, three->group_seq - 1);
  ASSERT_TRUE(partial.ok()) << partial.status().to_string();
  EXPECT_EQ(partial->unread, 1u);
  EXPECT_EQ(partial->read_group_seq, three->group_seq - 1);
  auto all = phone->mark_group_read(gid);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->unread, 0u);
  EXPECT_EQ(all->read_group_seq, three->group_seq);
  // Own messages never count as unread.
  ASSERT_TRUE(phone->group_send_text(gid, "bob here").ok());
  // The laptop hears of both through its inbox.
  std::vector<InboxEntry> events;
  int64_t deadline = im::client::steady_now_ms() + 10000;
  while (events.size() < 2 && im::client::steady_now_ms() < deadline) {
    auto e = laptop->next_entry(200);
    if (e && e->kind == EntryKind::ReadEvent) events.push_back(*e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].read_event.gid, gid);
  EXPECT_EQ(events[1].read_event.peer_uid, 0u);
  EXPECT_EQ(events[1].read_event.read_inbox_seq, three->group_seq);
  EXPECT_EQ(events[1].read_event.device_id, "phone");
  auto after = laptop->list_groups();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->at(0).unread, 0u);
  EXPECT_FALSE(after->at(0).mentioned);
  auto after_convs = laptop->conversations();
  ASSERT_TRUE(after_convs.ok());
  EXPECT_EQ(after_convs->total_unread, 1u) << "only the direct message";
}

TEST_F(Groups, OfflineMemberCatchesUpBySync) {
  User alice = add("alice"), bob = add("bob");
  auto a = as(alice);
  std::vector<std::pair<uint64_t, uint64_t>> cursors;
  uint64_t gid = 0;
  {
    auto b = as(bob);
    auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
    ASSERT_TRUE(g.ok());
    gid = g->gid;
    ASSERT_TRUE(a->group_send_text(gid, "while online").ok());
    ASSERT_EQ(take_group(*b, gid, 2).size(), 2u);
    cursors = b->group_cursors();
    b->close();
  }
  ASSERT_EQ(cursors, (std::vector<std::pair<uint64_t, uint64_t>>{{gid, 2}}));
  for (int i = 0; i < 150; i++) {  // more than one GroupSync page
    ASSERT_TRUE(a->group_send_text(gid, "m" + std::to_string(i)).ok());
  }
  // The same device comes back with its cursors: exactly what it missed, in order.
  ClientOptions options;
  options.group_cursors = cursors;
  auto b = login(server_, "bob", "phone", options);
  auto got = take_group(*b, gid, 150);
  ASSERT_EQ(got.size(), 150u);
  for (int i = 0; i < 150; i++) {
    EXPECT_EQ(got[i].group_seq, uint64_t(i + 3));
    EXPECT_EQ(got[i].message.text, "m" + std::to_string(i));
  }
  EXPECT_FALSE(b->next_entry(300).has_value());
  // A new device without cursors starts at the read cursor: bob read up to 100.
  ASSERT_TRUE(b->mark_group_read(gid, 100).ok());
  auto tablet = as(bob, "tablet");
  auto unread = take_group(*tablet, gid, 52);
  ASSERT_EQ(unread.size(), 52u);
  EXPECT_EQ(unread.front().group_seq, 101u);
  EXPECT_EQ(unread.back().group_seq, 152u);
}

TEST_F(Groups, RestartKeepsTheLogCursorsAndDedup) {
  User alice = add("alice"), bob = add("bob");
  uint64_t gid = 0;
  im::client::SendReceipt first;
  {
    auto a = as(alice);
    auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
    ASSERT_TRUE(g.ok());
    gid = g->gid;
    auto sent = a->group_send_text_once(gid, 4242, "kept");
    ASSERT_TRUE(sent.ok());
    first = sent.value();
    for (int i = 0; i < 9; i++) ASSERT_TRUE(a->group_send_text(gid, std::to_string(i)).ok());
    auto b = as(bob);
    ASSERT_TRUE(b->mark_group_read(gid, 6).ok());
  }
  ASSERT_TRUE(server_.restart()) << server_.error();
  auto a = as(alice);
  auto b = as(bob, "laptop");
  auto log = whole_log(*b, gid);
  ASSERT_EQ(log.size(), 11u);
  EXPECT_EQ(log[1].message.text, "kept");
  auto info = b->group_info(gid);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->read_group_seq, 6u);
  EXPECT_EQ(info->last_group_seq, 11u);
  auto groups = b->list_groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ(groups->at(0).unread, 5u);
  auto again = a->group_send_text_once(gid, 4242, "kept");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->msg_id, first.msg_id);
  EXPECT_EQ(again->group_seq, first.group_seq);
  auto next = a->group_send_text(gid, "after restart");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->group_seq, 12u);
  // Live pushes work after the restart (the online index is rebuilt at login).
  auto live = take_group(*b, gid, 6);  // unread 7..11 by catch-up, then 12 pushed
  ASSERT_EQ(live.size(), 6u);
  EXPECT_EQ(live.back().message.text, "after restart");
}

TEST_F(Groups, ResendWithTheSameClientMsgIdIsStoredOnce) {
  User alice = add("alice"), bob = add("bob");
  auto a = as(alice);
  auto b = as(bob);
  auto g = a->create_group("team", std::vector<uint64_t>{bob.uid});
  ASSERT_TRUE(g.ok());
  auto one = a->group_send_text_once(g->gid, 99, "once");
  auto two = a->group_send_text_once(g->gid, 99, "once");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_FALSE(one->duplicate);
  EXPECT_TRUE(two->duplicate);
  EXPECT_EQ(one->group_seq, two->group_seq);
  EXPECT_EQ(one->msg_id, two->msg_id);
  EXPECT_EQ(whole_log(*b, g->gid).size(), 2u);
}

TEST_F(Groups, ImcliGroupCommandsWorkOneShotAndWithJson) {
  add("alice");
  add("bob");
  User carol = add("carol");
  const std::string as_alice = "--user alice --password alice-password ";
  const std::string as_bob = "--user bob --password bob-password ";
  CliRun created = run_imcli(server_, as_alice + "group create team bob");
  ASSERT_EQ(created.status, 0) << created.err;
  uint64_t gid = std::stoull(created.out);  // the text form prints just the gid
  EXPECT_GT(gid, 0u);
  CliRun created_json = run_imcli(server_, as_alice + "--json group create other bob");
  ASSERT_EQ(created_json.status, 0) << created_json.err;
  EXPECT_GT(nlohmann::json::parse(created_json.out)["gid"].get<uint64_t>(), 0u);

  std::string g = std::to_string(gid);
  CliRun sent = run_imcli(server_, as_alice + "--json group send " + g + " 'hello team'");
  ASSERT_EQ(sent.status, 0) << sent.err;
  auto s = nlohmann::json::parse(sent.out);
  EXPECT_EQ(s["gid"].get<uint64_t>(), gid);
  EXPECT_EQ(s["group_seq"].get<uint64_t>(), 2u);
  ASSERT_EQ(run_imcli(server_, as_alice + "group invite " + g + " carol").status, 0);

  CliRun members = run_imcli(server_, as_bob + "--json group members " + g);
  ASSERT_EQ(members.status, 0) << members.err;
  auto m = nlohmann::json::parse(members.out);
  ASSERT_EQ(m["members"].size(), 3u);
  CliRun history = run_imcli(server_, as_bob + "--json group history " + g + " --limit 5");
  ASSERT_EQ(history.status, 0) << history.err;
  auto h = nlohmann::json::parse(history.out);
  ASSERT_EQ(h["entries"].size(), 3u);
  EXPECT_EQ(h["entries"][0]["type"], "group_event");
  EXPECT_EQ(h["entries"][0]["kind"], "Created");
  EXPECT_EQ(h["entries"][1]["text"], "hello team");
  EXPECT_EQ(h["entries"][1]["sender"], "alice");
  EXPECT_EQ(h["entries"][2]["kind"], "Invited");
  EXPECT_EQ(h["entries"][2]["targets"][0], "carol");
  CliRun groups = run_imcli(server_, as_bob + "--json groups");
  ASSERT_EQ(groups.status, 0) << groups.err;
  auto gl = nlohmann::json::parse(groups.out);
  ASSERT_EQ(gl["groups"].size(), 2u);
  EXPECT_EQ(gl["groups"][0]["name"], "team") << "newest activity first";
  EXPECT_EQ(gl["groups"][0]["unread"], 1);
  CliRun info = run_imcli(server_, as_bob + "--json group info " + g);
  ASSERT_EQ(info.status, 0) << info.err;
  EXPECT_EQ(nlohmann::json::parse(info.out)["owner"], "alice");

  // Refusals keep the documented codes and exit status 1; bad input is a usage error (2).
  ASSERT_EQ(run_imcli(server_, as_alice + "group kick " + g + " bob").status, 0);
  CliRun refused = run_imcli(server_, as_bob + "group send " + g + " 'still here?'");
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("NotMember (308)"), std::string::npos) << refused.err;
  CliRun owner_quit = run_imcli(server_, as_alice + "group quit " + g);
  EXPECT_EQ(owner_quit.status, 1);
  EXPECT_NE(owner_quit.err.find("NotAllowed (312)"), std::string::npos) << owner_quit.err;
  EXPECT_EQ(run_imcli(server_, as_alice + "group send notanumber hi").status, 2);
  EXPECT_EQ(run_imcli(server_, as_alice + "group frobnicate " + g).status, 2);
  // carol quits; the text history shows the events in words.
  ASSERT_EQ(run_imcli(server_, "--user carol --password carol-password group quit " + g).status, 0);
  CliRun text = run_imcli(server_, as_alice + "group history " + g);
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("alice: hello team"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("alice removed bob"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("carol left"), std::string::npos) << text.out;
  (void)carol;
}

}  // namespace
}  // namespace im_it
