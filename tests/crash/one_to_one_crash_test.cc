// one_to_one_crash_test.cc - a 1:1 load runs while the real imserver (sync durability, 16
// shards, 2 workers) is SIGKILLed and restarted on the same data dir more than 20 times;
// then every send that got a SendResult must be in both inboxes exactly once, in order,
// nothing else may be stored, and every device that stayed online must converge on its
// inbox (inbox_audit.h says exactly what is checked).
//
// Threads: the test's main thread starts, kills and restarts the server (it must: the child
// dies with the thread that forked it, tests/support/test_server.h); one thread per sender;
// each Client's reader thread.
// A sender sends strictly one message at a time and moves on only after a SendResult, so
// "the order they were sent" is well defined: when the SDK gives up on a send (deadline),
// the sender resends the SAME client_msg_id itself before sending anything newer.
// Set IM_CRASH_SEED to replay a run's kill timing and client_msg_ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "client/client.h"
#include "tests/crash/crash_support.h"
#include "tests/crash/inbox_audit.h"
#include "tests/support/test_server.h"

namespace im::crash {
namespace {

using client::Client;
using client::InboxEntry;
using client::steady_now_ms;

// Every bound of the test, in one place.
constexpr int kKillsUnderLoad = 30;        // SIGKILLs while the senders run
constexpr int kKillsAtRest = 1;            // and one more once they are done
constexpr uint32_t kKillDelayMinMs = 100;  // after the restarted server answered a send
constexpr uint32_t kKillDelayMaxMs = 400;
constexpr uint64_t kMaxMessagesPerSender = 20000;
constexpr uint64_t kMessagesAfterLastRestart = 25;  // per sender, with no more kills
constexpr int64_t kLoadBudgetMs = 120000;           // kills plus the senders' last sends
constexpr uint32_t kStartTimeoutMs = 15000;         // a (re)started server answers a Ping
constexpr uint32_t kProgressTimeoutMs = 20000;      // a restarted server answers a send
constexpr uint32_t kConvergeTimeoutMs = 30000;      // online devices reach their inbox head
constexpr uint32_t kResendPauseMs = 50;             // between the test's own resends
constexpr uint32_t kShards = 16;
constexpr const char* kPassword = "crash-test-password";

// Users, and the shard their name hashes to (xxh64 % 16; worker = shard % 2): the pairs
// cover two workers, two shards of one worker, and one shard.
struct UserSpec {
  const char* name;
  uint32_t shard;
};
constexpr UserSpec kUsers[] = {{"crash_ann", 1},  {"crash_dan", 14}, {"crash_fay", 0},
                               {"crash_bob", 15}, {"crash_ivy", 6},  {"crash_jon", 12},
                               {"crash_lea", 9},  {"crash_cat", 11}, {"crash_eve", 11}};
enum : size_t { kAnn, kDan, kFay, kBob, kIvy, kJon, kLea, kCat, kEve, kUserCount };

struct Route {
  size_t from;
  std::vector<size_t> to;  // taken in turn
};
const std::vector<Route> kRoutes = {
    {kAnn, {kDan}},        // two workers, and
    {kDan, {kAnn}},        // the other direction at the same time
    {kFay, {kBob}},        // two workers
    {kIvy, {kJon}},        // two shards of one worker
    {kLea, {kBob, kIvy}},  // one sender, two peers (one per worker)
    {kCat, {kEve}},        // both users on one shard
};

// One user's Client that stays online through the crashes, and what it delivered.
struct OnlineUser {
  std::string name;
  uint64_t uid = 0;
  std::mutex mu;
  std::vector<InboxEntry> delivered;  // guarded by mu
  std::unique_ptr<Client> client;
};

struct Sender {
  const Route* route = nullptr;
  std::vector<SentMessage> sent;  // written by the sender thread, read after join
  uint64_t test_resends = 0;      // sends the SDK gave up on and the test sent again
  std::string failure;
  std::thread thread;
};

struct LoadControl {
  std::atomic<uint64_t> results{0};  // sends answered with a SendResult, all senders
  std::atomic<bool> last_restart_done{false};
  std::atomic<bool> abort{false};
  int64_t deadline_ms = 0;
  uint64_t seed = 0;
};

client::ClientOptions online_options(OnlineUser* user) {
  client::ClientOptions o;
  o.device_id = "crash-online";
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

// Sends numbered texts one at a time until told to stop; each one until it has a result.
void run_sender(Sender* s, Client* c, const std::vector<uint64_t>& peers, uint64_t from_uid,
                LoadControl* ctl) {
  uint64_t after_last_restart = 0;
  for (uint64_t n = 0; n < kMaxMessagesPerSender && !ctl->abort.load(); n++) {
    if (ctl->last_restart_done.load() && after_last_restart++ >= kMessagesAfterLastRestart) return;
    SentMessage m;
    m.from_uid = from_uid;
    m.to_uid = peers[n % peers.size()];
    m.client_msg_id = splitmix64(ctl->seed ^ (from_uid << 24) ^ n);  // a bijection of n
    m.n = n;
    m.text = c->username() + "-" + std::to_string(n);
    for (;;) {
      auto r = c->send_text_with_id(m.to_uid, m.client_msg_id, m.text);
      if (r.ok()) {
        m.receipt = r.value();
        m.answered_ms = client::unix_now_ms();
        break;
      }
      if (ctl->abort.load()) return;  // the test failed elsewhere: stop quietly
      if (!client::status_is_retryable(r.code()) || steady_now_ms() > ctl->deadline_ms) {
        client::ClientStats st = c->stats();
        s->failure = "\"" + m.text + "\" got no SendResult: " + r.status().to_string() +
                     " (client " + client::state_name(c->state()) +
                     ", last error: " + c->last_error().to_string() +
                     ", reconnects=" + std::to_string(st.reconnects) +
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

class OneToOneCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = pick_seed();
    std::printf("[crash] IM_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed_));
    testing::TestServerOptions options;
    options.extra_args = {"--workers", "2", "--http-port", "0", "--log-level", "warn"};
    options.start_timeout_ms = kStartTimeoutMs;
    server_ = std::make_unique<testing::TestServer>(options);
    ASSERT_TRUE(server_->start()) << server_->error();
  }
  void TearDown() override {
    for (auto& u : users_) {
      if (u->client) u->client->close();
    }
    if (HasFailure()) {
      std::printf("[crash] server log tail:\n%s\n", server_log_tail(*server_).c_str());
    }
  }

  void register_and_log_in();
  void kill_and_restart() { crash::kill_and_restart(server_.get(), &kill_log_); }
  void wait_for_convergence(const std::map<uint64_t, InboxCopy>& inboxes);
  bool spans_kill(const SentMessage& m) const;

  uint64_t seed_ = 0;
  std::unique_ptr<testing::TestServer> server_;
  std::vector<std::unique_ptr<OnlineUser>> users_;
  KillLog kill_log_;
};

void OneToOneCrashTest::register_and_log_in() {
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

void OneToOneCrashTest::wait_for_convergence(const std::map<uint64_t, InboxCopy>& inboxes) {
  int64_t until = steady_now_ms() + kConvergeTimeoutMs;
  for (auto& u : users_) {
    uint64_t head = inboxes.at(u->uid).head;
    while (u->client->inbox_cursor() < head && steady_now_ms() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(u->client->inbox_cursor(), head)
        << u->name << "'s online device did not reach its inbox head (state "
        << client::state_name(u->client->state())
        << ", last error: " << u->client->last_error().to_string() << ")";
  }
}

// The message got its msg_id (receiver's shard) before a kill and its result after it.
// With duplicate=false that is the window section 4 worries about: the receiver's copy was
// durable, the sender's was not, and the resend had to reuse the receiver's copy.
bool OneToOneCrashTest::spans_kill(const SentMessage& m) const {
  for (int64_t k : kill_log_.kill_wall_ms) {
    if (m.receipt.server_time_ms < k && k < m.answered_ms) return true;
  }
  return false;
}

TEST_F(OneToOneCrashTest, SigkillDuringLoadLosesNothingAndStoresNothingTwice) {
  int64_t started_ms = steady_now_ms();
  ASSERT_NO_FATAL_FAILURE(register_and_log_in());

  LoadControl ctl;
  ctl.seed = seed_;
  ctl.deadline_ms = started_ms + kLoadBudgetMs;
  std::vector<Sender> senders(kRoutes.size());
  for (size_t i = 0; i < kRoutes.size(); i++) {
    Sender& s = senders[i];
    s.route = &kRoutes[i];
    std::vector<uint64_t> peers;
    for (size_t to : s.route->to) peers.push_back(users_[to]->uid);
    OnlineUser& from = *users_[s.route->from];
    s.thread = std::thread(run_sender, &s, from.client.get(), peers, from.uid, &ctl);
  }
  auto join_senders = [&] {
    for (Sender& s : senders) {
      if (s.thread.joinable()) s.thread.join();
    }
  };

  // The killer: each cycle waits until the (re)started server answered a send, then lets
  // the load run a random while and SIGKILLs it mid-traffic.
  std::mt19937_64 rng(seed_);
  std::uniform_int_distribution<uint32_t> delay_ms(kKillDelayMinMs, kKillDelayMaxMs);
  for (int k = 0; k < kKillsUnderLoad && !HasFatalFailure() && !ctl.abort.load(); k++) {
    if (!wait_for_progress(ctl, ctl.results.load())) {
      if (!ctl.abort.load()) {
        ADD_FAILURE() << "no send got a result within " << kProgressTimeoutMs << " ms after "
                      << kill_log_.kills << " kill(s)";
      }
      break;
    }
    if (steady_now_ms() > ctl.deadline_ms) {
      ADD_FAILURE() << "only " << kill_log_.kills << " kills within " << kLoadBudgetMs << " ms";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill_and_restart();
  }
  ctl.last_restart_done.store(true);
  if (HasFailure()) ctl.abort.store(true);
  join_senders();
  for (const Sender& s : senders) EXPECT_EQ(s.failure, "");
  ASSERT_FALSE(HasFailure());

  // One more crash with nothing in flight: the audit below reads what is on disk.
  for (int k = 0; k < kKillsAtRest; k++) ASSERT_NO_FATAL_FAILURE(kill_and_restart());

  std::vector<SentMessage> sent;
  uint64_t resends = 0, duplicates = 0, test_resends = 0, split_by_kill = 0;
  for (const Sender& s : senders) {
    for (const SentMessage& m : s.sent) {
      resends += m.receipt.attempts > 1 ? 1 : 0;
      duplicates += m.receipt.duplicate ? 1 : 0;
      split_by_kill += !m.receipt.duplicate && spans_kill(m) ? 1 : 0;
      sent.push_back(m);
    }
    test_resends += s.test_resends;
  }
  std::map<uint64_t, InboxCopy> inboxes;
  for (auto& u : users_) {
    ASSERT_TRUE(read_whole_inbox(server_->port(), u->name, kPassword, &inboxes[u->uid]));
  }
  AuditCounts counts;
  check_inboxes(inboxes, sent, &counts);

  wait_for_convergence(inboxes);
  uint64_t redelivered = 0;
  for (auto& u : users_) {
    std::lock_guard lock(u->mu);
    check_delivered(inboxes.at(u->uid), u->delivered, u->name + "'s online device");
    redelivered += u->client->stats().duplicates_dropped;
  }

  for (auto& u : users_) u->client->close();
  EXPECT_TRUE(server_->stop()) << "no clean exit on SIGTERM after the crashes: wait status "
                               << server_->last_wait_status() << " " << server_->error();
  std::printf(
      "[crash] seed=%llu kills=%d messages=%zu resent_by_sdk=%llu resent_by_test=%llu "
      "duplicates_answered=%llu split_by_kill=%llu pushes_dropped_as_duplicate=%llu "
      "opposite_direction_reorders=%llu max_port_release_ms=%lld elapsed_ms=%lld\n",
      static_cast<unsigned long long>(seed_), kill_log_.kills, sent.size(),
      static_cast<unsigned long long>(resends), static_cast<unsigned long long>(test_resends),
      static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(split_by_kill),
      static_cast<unsigned long long>(redelivered),
      static_cast<unsigned long long>(counts.conversation_reorders),
      static_cast<long long>(kill_log_.max_port_release_ms),
      static_cast<long long>(steady_now_ms() - started_ms));
}

}  // namespace
}  // namespace im::crash
