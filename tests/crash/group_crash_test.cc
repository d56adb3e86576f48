// group_crash_test.cc - group traffic runs while the real imserver (sync durability, 16
// shards, 2 workers) is SIGKILLed and restarted on the same data dir more than 20 times;
// then every group send that got a SendResult must be in its group's log exactly once at
// the answered group_seq, nothing else may be stored, every member must read the same log
// from its join, every device that stayed online must have delivered exactly that, and no
// acknowledged read cursor may be lost (group_audit.h says what is checked).
//
// Threads: the test's main thread creates the groups, starts, kills and restarts the server
// (it must: the child dies with the thread that forked it, tests/support/test_server.h) and
// invites one member mid-load; one thread per (sender, group); one thread moving read
// cursors; each Client's reader thread.
// A sender sends strictly one message at a time and moves on only after a SendResult, so
// "the order they were sent" is well defined: when the SDK gives up on a send (deadline),
// the sender resends the SAME client_msg_id itself before sending anything newer.
// Set IM_CRASH_SEED to replay a run's kill timing and client_msg_ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "client/client.h"
#include "tests/crash/crash_support.h"
#include "tests/crash/group_audit.h"
#include "tests/support/test_server.h"

namespace im::crash {
namespace {

using client::Client;
using client::InboxEntry;
using client::steady_now_ms;

// Every bound of the test, in one place.
constexpr int kKillsUnderLoad = 24;        // SIGKILLs while the senders run
constexpr int kKillsAtRest = 1;            // and one more once they are done
constexpr int kInviteAfterKills = 8;       // the late member joins mid-load, after this many
constexpr uint32_t kKillDelayMinMs = 100;  // after the restarted server answered a send
constexpr uint32_t kKillDelayMaxMs = 400;
constexpr uint64_t kMaxMessagesPerSender = 20000;
constexpr uint64_t kMessagesAfterLastRestart = 20;  // per sender, with no more kills
constexpr int64_t kLoadBudgetMs = 90000;            // kills plus the senders' last sends
constexpr uint32_t kStartTimeoutMs = 15000;         // a (re)started server answers a Ping
constexpr uint32_t kProgressTimeoutMs = 20000;      // a restarted server answers a send
constexpr uint32_t kConvergeTimeoutMs = 30000;      // online devices reach each group's head
constexpr uint32_t kResendPauseMs = 50;             // between the test's own resends
constexpr uint32_t kMarkReadPauseMinMs = 10;        // between two mark_group_read calls
constexpr uint32_t kMarkReadPauseMaxMs = 60;
constexpr uint32_t kShards = 16;
constexpr const char* kPassword = "gcrash-test-password";

// Users, and the shard their name hashes to (xxh64 % 16; worker = shard % 2): four on
// each worker, so every group has members on both.
struct UserSpec {
  const char* name;
  uint32_t shard;
};
constexpr UserSpec kUsers[] = {{"gcrash_amy", 4},  {"gcrash_ben", 0},  {"gcrash_eli", 12},
                               {"gcrash_fox", 6},  {"gcrash_cal", 15}, {"gcrash_dot", 11},
                               {"gcrash_kim", 13}, {"gcrash_ned", 1}};
enum : size_t { kAmy, kBen, kEli, kFox, kCal, kDot, kKim, kNed, kUserCount };
constexpr size_t kNobody = kUserCount;

// A group lives on its creator's shard.
struct GroupSpec {
  const char* name;
  size_t creator;
  std::vector<size_t> members;  // besides the creator, from the start
  std::vector<size_t> senders;  // one thread each
  size_t late_member;           // invited by the creator mid-load, or kNobody
};
const std::vector<GroupSpec> kGroups = {
    {"amy-w0", kAmy, {kBen, kCal, kDot, kKim}, {kAmy, kCal, kDot}, kNed},           // shard 4
    {"cal-w1", kCal, {kAmy, kEli, kFox, kKim, kNed}, {kCal, kEli, kNed}, kNobody},  // shard 15
    {"ben-w0",
     kBen,
     {kAmy, kEli, kFox, kCal, kDot, kKim, kNed},
     {kBen, kFox, kKim, kAmy},
     kNobody},  // shard 0, everyone
};

// Who moves a read cursor during the load (user, group index), taken in turn.
const std::vector<std::pair<size_t, size_t>> kReaders = {{kBen, 0}, {kNed, 0}, {kKim, 1}, {kAmy, 1},
                                                         {kEli, 2}, {kDot, 2}, {kCal, 2}};

// One user's Client that stays online through the crashes, and what it delivered.
struct OnlineUser {
  std::string name;
  uint64_t uid = 0;
  std::mutex mu;
  std::vector<InboxEntry> delivered;  // guarded by mu
  std::unique_ptr<Client> client;
};

struct Sender {
  size_t user = 0;
  size_t group = 0;
  std::vector<GroupSentMessage> sent;  // written by the sender thread, read after join
  uint64_t test_resends = 0;           // sends the SDK gave up on and the test sent again
  std::string failure;
  std::thread thread;
};

// The acknowledged read cursors of one reader; written by the marker thread only.
struct ReadMarks {
  uint64_t last_acked = 0;  // read_group_seq of the last MarkReadOk
  uint64_t acks = 0;
  std::vector<std::string> regressions;  // a MarkReadOk lower than an earlier one
};

struct LoadControl {
  std::atomic<uint64_t> results{0};  // sends answered with a SendResult, all senders
  std::atomic<bool> last_restart_done{false};
  std::atomic<bool> senders_done{false};
  std::atomic<bool> abort{false};
  int64_t deadline_ms = 0;
  uint64_t seed = 0;
};

client::ClientOptions online_options(OnlineUser* user) {
  client::ClientOptions o;
  o.device_id = "gcrash-online";
  o.connect_timeout_ms = 2000;
  o.request_timeout_ms = 5000;
  o.reconnect_min_ms = 20;  // the server is back in ~0.2 s; keep the backoff near that
  o.reconnect_max_ms = 300;
  o.send_deadline_ms = 1500;  // short: a slow restart makes the SDK give up, the test resends
  o.on_entry = [user](const InboxEntry& e) {
    std::lock_guard lock(user->mu);
    user->delivered.push_back(e);
  };
  return o;
}

// Sends numbered texts to one group one at a time until told to stop; each one until it
// has a result.
void run_sender(Sender* s, Client* c, uint64_t gid, LoadControl* ctl) {
  uint64_t after_last_restart = 0;
  for (uint64_t n = 0; n < kMaxMessagesPerSender && !ctl->abort.load(); n++) {
    if (ctl->last_restart_done.load() && after_last_restart++ >= kMessagesAfterLastRestart) return;
    GroupSentMessage m;
    m.gid = gid;
    m.from_uid = c->uid();
    m.client_msg_id = splitmix64(ctl->seed ^ (m.from_uid << 24) ^ (s->group << 20) ^ n);
    m.n = n;
    m.text = c->username() + "@" + std::to_string(gid) + "-" + std::to_string(n);
    for (;;) {
      auto r = c->group_send_text_with_id(gid, m.client_msg_id, m.text);
      if (r.ok()) {
        m.receipt = r.value();
        break;
      }
      if (ctl->abort.load()) return;  // the test failed elsewhere: stop quietly
      if (!client::status_is_retryable(r.code()) || steady_now_ms() > ctl->deadline_ms) {
        s->failure = "\"" + m.text + "\" got no SendResult: " + r.status().to_string() +
                     " (client " + client::state_name(c->state()) +
                     ", last error: " + c->last_error().to_string() +
                     ", test resends so far=" + std::to_string(s->test_resends) + ")";
        ctl->abort.store(true);
        return;
      }
      s->test_resends++;
      std::this_thread::sleep_for(std::chrono::milliseconds(kResendPauseMs));
    }
    s->sent.push_back(std::move(m));
    ctl->results.fetch_add(1);
  }
}

// Waits until some send got a result after `before` results, or the load failed.
bool wait_for_progress(const LoadControl& ctl, uint64_t before) {
  int64_t until = steady_now_ms() + kProgressTimeoutMs;
  while (ctl.results.load() <= before && !ctl.abort.load() && steady_now_ms() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return ctl.results.load() > before;
}

class GroupCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = pick_seed();
    std::printf("[gcrash] IM_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed_));
    testing::TestServerOptions options;
    options.extra_args = {"--workers", "2", "--http-port", "0", "--log-level", "warn"};
    options.start_timeout_ms = kStartTimeoutMs;
    server_ = std::make_unique<testing::TestServer>(options);
    ASSERT_TRUE(server_->start()) << server_->error();
  }
  void TearDown() override {
    ctl_.abort.store(true);
    join_load();
    for (auto& u : users_) {
      if (u->client) u->client->close();
    }
    if (HasFailure()) {
      std::printf("[gcrash] server log tail:\n%s\n", server_log_tail(*server_).c_str());
    }
  }

  void register_and_log_in();
  void create_groups();
  void start_load();
  void run_killer();
  void invite_late_member(size_t group);
  void mark_reads();
  void join_load();
  std::vector<size_t> members_of(size_t group) const;
  void wait_for_cursors(size_t group, uint64_t seq);
  void audit(int64_t started_ms);
  void read_back();
  const GroupLogCopy& log_of(size_t user, size_t group) const;
  void check_read_cursors();

  uint64_t seed_ = 0;
  std::unique_ptr<testing::TestServer> server_;
  std::vector<std::unique_ptr<OnlineUser>> users_;
  std::vector<uint64_t> gids_;     // by kGroups index
  std::vector<bool> late_joined_;  // by kGroups index
  LoadControl ctl_;
  std::vector<Sender> senders_;
  std::vector<ReadMarks> marks_;  // by kReaders index
  std::thread marker_;
  KillLog kill_log_;
  // What fresh devices read after the load, by user: the groups they belong to (by kGroups
  // index) and, in the same order, the read-back.
  std::vector<std::vector<size_t>> groups_of_;
  std::vector<MemberReadBack> read_back_;
};

void GroupCrashTest::register_and_log_in() {
  for (const UserSpec& spec : kUsers) {
    auto user = std::make_unique<OnlineUser>();
    user->name = spec.name;
    user->client = std::make_unique<Client>(online_options(user.get()));
    Client& c = *user->client;
    ASSERT_TRUE(c.connect("127.0.0.1", server_->port()).ok());
    auto reg = c.register_user(spec.name, kPassword);
    ASSERT_TRUE(reg.ok()) << spec.name << ": " << reg.status().to_string();
    ASSERT_EQ(reg->uid % kShards, spec.shard) << spec.name << " hashes to another shard";
    auto login = c.login_password(spec.name, kPassword);
    ASSERT_TRUE(login.ok()) << spec.name << ": " << login.status().to_string();
    user->uid = login->uid;
    users_.push_back(std::move(user));
  }
}

std::vector<size_t> GroupCrashTest::members_of(size_t group) const {
  const GroupSpec& spec = kGroups[group];
  std::vector<size_t> out = spec.members;
  out.insert(out.begin(), spec.creator);
  if (late_joined_[group]) out.push_back(spec.late_member);
  return out;
}

// Until every member's online device delivered the group up to seq (bounded).
void GroupCrashTest::wait_for_cursors(size_t group, uint64_t seq) {
  int64_t until = steady_now_ms() + kConvergeTimeoutMs;
  for (size_t m : members_of(group)) {
    Client& c = *users_[m]->client;
    while (c.group_cursor(gids_[group]) < seq && steady_now_ms() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(c.group_cursor(gids_[group]), seq)
        << users_[m]->name << "'s online device did not reach seq " << seq << " of group "
        << kGroups[group].name << " (state " << client::state_name(c.state())
        << ", last error: " << c.last_error().to_string() << ")";
  }
}

// The groups' shards are their creators': two on worker 0, one on worker 1.
void GroupCrashTest::create_groups() {
  late_joined_.assign(kGroups.size(), false);
  for (const GroupSpec& spec : kGroups) {
    std::vector<uint64_t> uids;
    for (size_t m : spec.members) uids.push_back(users_[m]->uid);
    auto created = users_[spec.creator]->client->create_group(spec.name, uids);
    ASSERT_TRUE(created.ok()) << spec.name << ": " << created.status().to_string();
    ASSERT_EQ(created->gid % kShards, kUsers[spec.creator].shard) << spec.name;
    ASSERT_EQ(created->group_seq, 1u) << spec.name;
    gids_.push_back(created->gid);
  }
  for (size_t g = 0; g < kGroups.size(); g++) ASSERT_NO_FATAL_FAILURE(wait_for_cursors(g, 1));
  ASSERT_FALSE(HasFailure());
}

// Moves read cursors in turn until the senders are done: up to what the device delivered,
// or (every other round) up to the newest entry, once the device has delivered any. Failures (the
// server is down, NotMember before the late member's invite) are expected and skipped.
void GroupCrashTest::mark_reads() {
  std::mt19937_64 rng(seed_ ^ 0x6d61726bull);
  std::uniform_int_distribution<uint32_t> pause_ms(kMarkReadPauseMinMs, kMarkReadPauseMaxMs);
  for (uint64_t round = 0; !ctl_.senders_done.load() && !ctl_.abort.load(); round++) {
    size_t i = round % kReaders.size();
    auto [user, group] = kReaders[i];
    Client& c = *users_[user]->client;
    uint64_t gid = gids_[group];
    uint64_t cursor = c.group_cursor(gid);
    // Not before the device has delivered something of the group: a device that knows
    // nothing of a group starts at the member's read cursor when it logs in again
    // (client/group_delivery.cc, by design), so marking the late member's reads up to the
    // newest entry right after its invite, then a crash, would rightly skip entries this
    // test expects its online device to deliver from the join.
    if (cursor == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
      continue;
    }
    uint64_t up_to = (round / kReaders.size()) % 2 == 0 ? cursor : 0;
    auto r = c.mark_group_read(gid, up_to);
    if (r.ok()) {
      ReadMarks& m = marks_[i];
      if (r->read_group_seq < m.last_acked) {
        m.regressions.push_back("MarkReadOk " + std::to_string(r->read_group_seq) + " after " +
                                std::to_string(m.last_acked) + " (ack #" +
                                std::to_string(m.acks + 1) + ", up_to " + std::to_string(up_to) +
                                ")");
      }
      m.last_acked = r->read_group_seq;
      m.acks++;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
  }
}

void GroupCrashTest::start_load() {
  ctl_.seed = seed_;
  ctl_.deadline_ms = steady_now_ms() + kLoadBudgetMs;
  for (size_t g = 0; g < kGroups.size(); g++) {
    for (size_t u : kGroups[g].senders) {
      Sender& s = senders_.emplace_back();
      s.user = u;
      s.group = g;
    }
  }
  for (Sender& s : senders_) {
    s.thread = std::thread(run_sender, &s, users_[s.user]->client.get(), gids_[s.group], &ctl_);
  }
  marks_.resize(kReaders.size());
  marker_ = std::thread([this] { mark_reads(); });
}

void GroupCrashTest::join_load() {
  for (Sender& s : senders_) {
    if (s.thread.joinable()) s.thread.join();
  }
  ctl_.senders_done.store(true);
  if (marker_.joinable()) marker_.join();
}

// The creator invites the late member; a resend after a lost answer finds it a member.
void GroupCrashTest::invite_late_member(size_t group) {
  const GroupSpec& spec = kGroups[group];
  uint64_t uids[] = {users_[spec.late_member]->uid};
  int64_t until = steady_now_ms() + kProgressTimeoutMs;
  for (bool resent = false;; resent = true) {
    auto r = users_[spec.creator]->client->invite(gids_[group], uids);
    bool done = r.ok() || (resent && r.code() == im::proto::Code::BadRequest);
    if (done) break;
    ASSERT_TRUE(client::status_is_retryable(r.code()) && steady_now_ms() < until)
        << "invite to " << spec.name << ": " << r.status().to_string();
    std::this_thread::sleep_for(std::chrono::milliseconds(kResendPauseMs));
  }
  late_joined_[group] = true;
}

// Each cycle waits until the (re)started server answered a send, then lets the load run a
// random while and SIGKILLs it mid-traffic.
void GroupCrashTest::run_killer() {
  std::mt19937_64 rng(seed_);
  std::uniform_int_distribution<uint32_t> delay_ms(kKillDelayMinMs, kKillDelayMaxMs);
  for (int k = 0; k < kKillsUnderLoad && !HasFatalFailure() && !ctl_.abort.load(); k++) {
    if (!wait_for_progress(ctl_, ctl_.results.load())) {
      if (!ctl_.abort.load()) {
        ADD_FAILURE() << "no group send got a result within " << kProgressTimeoutMs << " ms after "
                      << kill_log_.kills << " kill(s)";
      }
      return;
    }
    if (steady_now_ms() > ctl_.deadline_ms) {
      ADD_FAILURE() << "only " << kill_log_.kills << " kills within " << kLoadBudgetMs << " ms";
      return;
    }
    if (k == kInviteAfterKills) {
      for (size_t g = 0; g < kGroups.size(); g++) {
        if (kGroups[g].late_member == kNobody) continue;
        ASSERT_NO_FATAL_FAILURE(invite_late_member(g));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill_and_restart(server_.get(), &kill_log_);
  }
}

void GroupCrashTest::read_back() {
  groups_of_.assign(users_.size(), {});
  read_back_.assign(users_.size(), {});
  for (size_t g = 0; g < kGroups.size(); g++) {
    for (size_t m : members_of(g)) groups_of_[m].push_back(g);
  }
  for (size_t u = 0; u < users_.size(); u++) {
    std::vector<uint64_t> gids;
    for (size_t g : groups_of_[u]) gids.push_back(gids_[g]);
    ASSERT_TRUE(
        read_member_groups(server_->port(), users_[u]->name, kPassword, gids, &read_back_[u]));
  }
}

const GroupLogCopy& GroupCrashTest::log_of(size_t user, size_t group) const {
  static const GroupLogCopy kNone;
  auto at = std::find(groups_of_[user].begin(), groups_of_[user].end(), group);
  if (at == groups_of_[user].end()) {
    ADD_FAILURE() << users_[user]->name << " was not read back for " << kGroups[group].name;
    return kNone;
  }
  return read_back_[user].logs[size_t(at - groups_of_[user].begin())];
}

// No MarkReadOk moved a cursor back, and every acknowledged cursor survived the crashes,
// in group_info and in list_groups.
void GroupCrashTest::check_read_cursors() {
  for (size_t i = 0; i < kReaders.size(); i++) {
    auto [user, group] = kReaders[i];
    const ReadMarks& m = marks_[i];
    std::string who = users_[user]->name + " in " + kGroups[group].name;
    EXPECT_TRUE(m.regressions.empty()) << who << ": " << m.regressions.front();
    if (m.acks == 0) continue;
    auto at = std::find(groups_of_[user].begin(), groups_of_[user].end(), group);
    ASSERT_NE(at, groups_of_[user].end()) << who << " acked a mark but is no member";
    size_t k = size_t(at - groups_of_[user].begin());
    EXPECT_GE(read_back_[user].infos[k].read_group_seq, m.last_acked)
        << who << ": group_info lost an acknowledged read cursor";
    EXPECT_EQ(read_back_[user].listed[k].gid, gids_[group]) << who << ": not in list_groups";
    EXPECT_GE(read_back_[user].listed[k].read_group_seq, m.last_acked)
        << who << ": list_groups lost an acknowledged read cursor";
  }
}

void GroupCrashTest::audit(int64_t started_ms) {
  ASSERT_NO_FATAL_FAILURE(read_back());
  GroupAuditCounts counts;
  for (size_t g = 0; g < kGroups.size(); g++) {
    std::vector<GroupSentMessage> sent;
    for (const Sender& s : senders_) {
      if (s.group == g) sent.insert(sent.end(), s.sent.begin(), s.sent.end());
    }
    const GroupLogCopy& log = log_of(kGroups[g].creator, g);
    check_group_log(log, sent, &counts);
    if (late_joined_[g]) {  // mid-load: its device must deliver from its join, not from 1
      EXPECT_GT(log_of(kGroups[g].late_member, g).join_group_seq, 1u) << kGroups[g].name;
    }
    for (size_t m : members_of(g)) {
      if (m != kGroups[g].creator) check_member_view(log, log_of(m, g), users_[m]->name);
    }
    wait_for_cursors(g, log.head);
    for (size_t m : members_of(g)) {
      std::lock_guard lock(users_[m]->mu);
      check_group_delivered(log, log_of(m, g).join_group_seq, users_[m]->uid, users_[m]->delivered,
                            users_[m]->name + "'s online device");
    }
  }
  check_read_cursors();
  uint64_t messages = 0, resends = 0, duplicates = 0, test_resends = 0, redelivered = 0;
  uint64_t acks = 0;
  for (const Sender& s : senders_) {
    for (const GroupSentMessage& m : s.sent) {
      messages++;
      resends += m.receipt.attempts > 1 ? 1 : 0;
      duplicates += m.receipt.duplicate ? 1 : 0;
    }
    test_resends += s.test_resends;
  }
  for (const ReadMarks& m : marks_) acks += m.acks;
  for (auto& u : users_) redelivered += u->client->stats().duplicates_dropped;
  EXPECT_EQ(counts.messages, messages) << "the logs hold another number of messages";
  std::printf(
      "[gcrash] seed=%llu kills=%d groups=%zu messages=%llu resent_by_sdk=%llu "
      "resent_by_test=%llu duplicates_answered=%llu read_marks_acked=%llu "
      "pushes_dropped_as_duplicate=%llu max_port_release_ms=%lld elapsed_ms=%lld\n",
      static_cast<unsigned long long>(seed_), kill_log_.kills, kGroups.size(),
      static_cast<unsigned long long>(messages), static_cast<unsigned long long>(resends),
      static_cast<unsigned long long>(test_resends), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(acks), static_cast<unsigned long long>(redelivered),
      static_cast<long long>(kill_log_.max_port_release_ms),
      static_cast<long long>(steady_now_ms() - started_ms));
}

TEST_F(GroupCrashTest, SigkillDuringGroupLoadLosesNothingAndStoresNothingTwice) {
  int64_t started_ms = steady_now_ms();
  ASSERT_NO_FATAL_FAILURE(register_and_log_in());
  ASSERT_NO_FATAL_FAILURE(create_groups());
  start_load();
  run_killer();
  ctl_.last_restart_done.store(true);
  if (HasFailure()) ctl_.abort.store(true);
  join_load();
  for (const Sender& s : senders_) EXPECT_EQ(s.failure, "");
  ASSERT_FALSE(HasFailure());

  // One more crash with nothing in flight: the audit below reads what is on disk.
  for (int k = 0; k < kKillsAtRest; k++) {
    ASSERT_NO_FATAL_FAILURE(kill_and_restart(server_.get(), &kill_log_));
  }
  audit(started_ms);

  for (auto& u : users_) u->client->close();
  EXPECT_TRUE(server_->stop()) << "no clean exit on SIGTERM after the crashes: wait status "
                               << server_->last_wait_status() << " " << server_->error();
}

}  // namespace
}  // namespace im::crash
