// chat_1to1.cc - the chat-1to1 workload: P pairs of users, one connection each, every user
// sends M messages to its partner, either closed loop (at most W unacknowledged sends per
// sender) or open loop at a fixed total rate (latency from the intended send time, so a
// stall cannot hide: coordinated omission, as wrk2 avoids it). Each receiver checks its
// partner's messages arrive exactly once and in order (delivery_check.h). --idle-users
// registers more accounts that never connect, so the store holds many users.
// Threads: users are spread round-robin over --threads loop threads; the main thread only
// sequences the phases, prints progress and builds the report.
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/imbench/clock.h"
#include "bench/imbench/conn_loop.h"
#include "bench/imbench/delivery_check.h"
#include "bench/imbench/histogram.h"
#include "bench/imbench/payload_time.h"
#include "bench/imbench/proc_stats.h"
#include "bench/imbench/run_support.h"
#include "bench/imbench/user_setup.h"
#include "bench/imbench/workloads.h"
#include "client/frame_builders.h"
#include "client/frame_decoders.h"

namespace im::bench {

namespace {

namespace proto = im::proto;

constexpr uint64_t kLoginReqId = uint64_t(1) << 62;
constexpr uint64_t kPingReqId = kLoginReqId + 1;
// Connects+logins in flight per process (split over the threads): within the server's KDF
// queue (kdf_queue_entries, 1,024 per worker; beyond it a login is refused Overloaded) and
// its accept backlog, however many pairs log in.
constexpr uint32_t kMaxLoginsInFlight = 256;
// A logged-in connection that wrote nothing for this long pings, as a real client would:
// well inside the server's idle_timeout_ms (60 s by default), which a user outlasts while
// thousands of others log in (minutes at the default scrypt cost) or after it finished its
// messages while the slowest pairs still run.
constexpr int64_t kIdlePingNs = 10'000'000'000;
constexpr int64_t kPingSweepNs = 1'000'000'000;  // how often idle connections are looked for
// Open files besides the connections: stdio, epoll, setup sockets, the token and json files.
constexpr uint64_t kOtherFds = 64;
constexpr uint32_t kOpenLoopMaxInflight = 4096;  // per sender; the schedule stalls beyond
constexpr int64_t kMaxPollNs = 2'000'000;
constexpr int64_t kTickNs = 1'000'000'000;

enum class Phase : int { Login, Run, Stop };

struct Shared {
  const Options& o;
  sockaddr_in server{};
  SourceAddrs sources;
  uint64_t nonce = 0;  // high 32 bits of every client_msg_id of this run
  uint32_t users = 0;
  std::vector<std::string> names;
  std::vector<std::string> tokens;  // --token-file; tokens[i] written by user i's thread
  std::vector<uint64_t> uids;       // uids[i] written by user i's thread before its ready++
  std::atomic<int> phase{int(Phase::Login)};
  std::atomic<int64_t> start_ns{0};
  explicit Shared(const Options& options) : o(options) {}
};

struct User {
  User(uint32_t index_, uint32_t messages, uint32_t ring)
      : index(index_), partner(index_ ^ 1u), send_ns(ring, 0), check(messages) {}
  Conn conn;
  uint32_t index;
  uint32_t partner;
  uint64_t uid = 0;
  uint64_t partner_uid = 0;
  bool ready = false;
  bool dead = false;
  int64_t last_write_ns = 0;  // of a Send, Ack or Ping, once logged in
  // sender side
  uint32_t next_seq = 1;  // 1..messages
  uint32_t inflight = 0;
  uint32_t results = 0;
  uint32_t results_ok = 0;
  std::vector<int64_t> send_ns;  // (intended) send time by seq % size
  // receiver side
  DeliveryCheck check;
  uint64_t last_inbox_seq = 0;
  bool ack_due = false;
  uint64_t push_order_errors = 0;  // an inbox_seq that was not last + 1
  uint64_t stray = 0;              // a message of this run that was not expected here
};

class ChatThread final : public ConnHandler {
 public:
  ChatThread(Shared& shared, ThreadCounters& counters) : s_(shared), c_(counters) {}

  void add_user(std::unique_ptr<User> user) { users_.push_back(std::move(user)); }
  std::vector<std::unique_ptr<User>>& users() { return users_; }
  void run();

  Histogram result_hist, deliver_hist;
  std::atomic<uint64_t> aborted_sends{0};  // never sent/answered: the sender's link died
  RunActivity activity;
  uint64_t kicks = 0;

  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void connect_more();
  void login_finished();
  void ping_idle(int64_t now);
  void start_running(int64_t now);
  void send_one(User& u, int64_t intended_ns);
  void fill_window(User& u, int64_t now);
  void issue_due(int64_t now);
  void on_result(User& u, const proto::Frame& frame, int64_t now);
  void on_push(User& u, const proto::Push& push, int64_t now);
  void flush_acks(int64_t now);

  Shared& s_;
  ThreadCounters& c_;
  Loop loop_;
  std::vector<std::unique_ptr<User>> users_;
  std::vector<User*> ack_list_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::string payload_;
  bool running_ = false;
  size_t next_connect_ = 0;  // users_[next_connect_..] have not connected yet
  uint32_t logins_pending_ = 0;
  uint32_t max_logins_pending_ = 1;
  int64_t next_ping_ns_ = 0;
  // open loop schedule: event k is due at start + k * interval, sent by users_[k % n]
  uint64_t sched_k_ = 0;
  uint64_t sched_total_ = 0;
  double sched_interval_ns_ = 0;
  int64_t sched_start_ns_ = 0;
};

void ChatThread::run() {
  payload_.assign(s_.o.payload_bytes, 'x');
  max_logins_pending_ = std::max<uint32_t>(1, kMaxLoginsInFlight / s_.o.threads);
  next_ping_ns_ = now_ns() + kPingSweepNs;
  connect_more();
  while (s_.phase.load(std::memory_order_acquire) != int(Phase::Stop)) {
    int64_t timeout = kMaxPollNs;
    if (running_ && sched_k_ < sched_total_) {
      int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
      timeout = std::clamp<int64_t>(due - now_ns(), 0, kMaxPollNs);
    }
    loop_.poll(timeout);
    int64_t now = now_ns();
    if (!running_ && s_.phase.load(std::memory_order_acquire) == int(Phase::Run))
      start_running(now);
    if (running_ && sched_total_ != 0) issue_due(now);
    if (now >= next_ping_ns_) ping_idle(now);
    flush_acks(now);
    loop_.flush();
    activity.end_turn(now, c_);
  }
  for (auto& u : users_) u->conn.close();
}

void ChatThread::connect_more() {
  while (logins_pending_ < max_logins_pending_ && next_connect_ < users_.size()) {
    User& u = *users_[next_connect_++];
    u.conn.user = &u;
    if (!u.conn.connect(loop_, *this, s_.server, s_.sources.for_connection(u.index))) {
      u.dead = true;
      c_.failed.fetch_add(1, std::memory_order_release);
      continue;
    }
    ++logins_pending_;
  }
}

void ChatThread::login_finished() {
  --logins_pending_;
  connect_more();
}

void ChatThread::ping_idle(int64_t now) {
  for (auto& u : users_) {
    if (!u->ready || u->dead || now - u->last_write_ns < kIdlePingNs) continue;
    u->conn.write(im::client::build_ping(fbb_, kPingReqId, 0));
    u->last_write_ns = now;
  }
  next_ping_ns_ = now + kPingSweepNs;
}

void ChatThread::start_running(int64_t now) {
  running_ = true;
  for (auto& u : users_) u->partner_uid = s_.uids[u->partner];
  if (s_.o.rate <= 0) {
    for (auto& u : users_)
      if (u->ready && !u->dead) fill_window(*u, now);
    return;
  }
  // This thread's share of the total rate, in proportion to its senders.
  double thread_rate = s_.o.rate * double(users_.size()) / double(s_.users);
  sched_interval_ns_ = 1e9 / thread_rate;
  sched_total_ = uint64_t(users_.size()) * s_.o.messages;
  sched_start_ns_ = s_.start_ns.load();
}

void ChatThread::send_one(User& u, int64_t intended_ns) {
  uint32_t seq = u.next_seq++;
  write_send_time(payload_.data(), intended_ns);
  uint64_t client_msg_id = s_.nonce << 32 | seq;
  u.conn.write(im::client::build_send_text(fbb_, seq, u.partner_uid, client_msg_id, payload_));
  u.send_ns[seq % u.send_ns.size()] = intended_ns;
  u.last_write_ns = std::max(u.last_write_ns, intended_ns);
  ++u.inflight;
  c_.sent.fetch_add(1, std::memory_order_relaxed);
}

void ChatThread::fill_window(User& u, int64_t now) {
  while (u.inflight < s_.o.window && u.next_seq <= s_.o.messages) send_one(u, now);
}

void ChatThread::issue_due(int64_t now) {
  size_t n = users_.size();
  while (sched_k_ < sched_total_) {
    int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
    if (due > now) break;
    User& u = *users_[sched_k_ % n];
    if (!u.dead && u.inflight >= u.send_ns.size()) break;  // stall: latency keeps counting
    if (!u.dead) send_one(u, due);
    ++sched_k_;
  }
}

void ChatThread::on_connected(Conn& conn) {
  User& u = *static_cast<User*>(conn.user);
  im::client::HelloParams hello;
  if (!s_.tokens[u.index].empty()) {
    hello.token = s_.tokens[u.index];
  } else {
    hello.username = s_.names[u.index];
    hello.password = s_.o.password;
  }
  hello.device_id = "imbench";
  hello.platform = proto::Platform::Bot;
  conn.write(im::client::build_hello(fbb_, kLoginReqId, hello));
}

void ChatThread::on_frame(Conn& conn, const proto::Frame& frame) {
  User& u = *static_cast<User*>(conn.user);
  int64_t now = now_ns();
  switch (frame.body_type()) {
    case proto::Body::Result:
      return on_result(u, frame, now);
    case proto::Body::Push:
      return on_push(u, *frame.body_as_Push(), now);
    case proto::Body::Kick: {
      ++kicks;
      c_.errors.fetch_add(1, std::memory_order_relaxed);
      const proto::Kick* kick = frame.body_as_Kick();
      std::fprintf(stderr, "imbench: %s kicked: %s (%s)\n", s_.names[u.index].c_str(),
                   proto::EnumNameCode(kick->code()),
                   kick->reason() ? kick->reason()->c_str() : "");
      return;
    }
    default:
      return;
  }
}

void ChatThread::on_result(User& u, const proto::Frame& frame, int64_t now) {
  if (frame.req_id() == kLoginReqId) {
    auto login = im::client::decode_login_ok(frame);
    if (!login.ok()) {
      std::fprintf(stderr, "imbench: login of %s failed: %s\n", s_.names[u.index].c_str(),
                   login.status().to_string().c_str());
      u.dead = true;
      u.conn.close();
      c_.failed.fetch_add(1, std::memory_order_release);
      return login_finished();
    }
    u.uid = login->uid;
    s_.uids[u.index] = u.uid;
    if (!login->token.empty()) s_.tokens[u.index] = login->token;
    u.ready = true;
    u.last_write_ns = now;
    c_.ready.fetch_add(1, std::memory_order_release);
    return login_finished();
  }
  uint64_t seq = frame.req_id();
  if (seq == 0 || seq >= u.next_seq || u.inflight == 0) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);  // a result nobody asked for
    return;
  }
  uint64_t latency_us = uint64_t(now - u.send_ns[seq % u.send_ns.size()]) / 1000;
  result_hist.record(latency_us);
  activity.record(latency_us);
  --u.inflight;
  ++u.results;
  activity.progressed();
  const proto::Result* result = frame.body_as_Result();
  if (result->code() == proto::Code::Ok && result->data_as_SendResult() != nullptr) {
    ++u.results_ok;
    c_.acked_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  c_.acked.fetch_add(1, std::memory_order_relaxed);
  if (s_.o.rate <= 0) fill_window(u, now);
}

void ChatThread::on_push(User& u, const proto::Push& push, int64_t now) {
  if (push.entries() == nullptr) return;
  for (const proto::EntryBlob* blob : *push.entries()) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    const proto::InboxEntry* entry = blob->data_nested_root();
    uint64_t inbox_seq = entry->inbox_seq();
    if (u.last_inbox_seq != 0 && inbox_seq != u.last_inbox_seq + 1) ++u.push_order_errors;
    if (inbox_seq > u.last_inbox_seq) u.last_inbox_seq = inbox_seq;
    u.ack_due = true;
    const proto::Message* m = entry->body_as_Message();
    if (m == nullptr || m->sender_uid() == u.uid) continue;  // own copy: ack only
    if (m->client_msg_id() >> 32 != s_.nonce) continue;      // an earlier run's message
    if (u.partner_uid == 0) {
      // The partner's thread may start sending before this one ran start_running: every
      // uid was published before the all-ready count this acquire synchronises with.
      (void)c_.ready.load(std::memory_order_acquire);
      u.partner_uid = s_.uids[u.partner];
    }
    if (m->sender_uid() != u.partner_uid) {
      ++u.stray;
      continue;
    }
    if (u.check.deliver(uint32_t(m->client_msg_id())) != DeliveryCheck::Outcome::New) continue;
    c_.delivered.fetch_add(1, std::memory_order_relaxed);
    activity.progressed();
    const proto::TextContent* text = m->content_as_TextContent();
    if (text != nullptr && text->text() != nullptr && text->text()->size() >= kTimeHexChars) {
      int64_t sent = read_send_time(text->text()->data());
      deliver_hist.record(now > sent ? uint64_t(now - sent) / 1000 : 0);
    }
  }
  if (u.ack_due) ack_list_.push_back(&u);
}

void ChatThread::flush_acks(int64_t now) {
  for (User* u : ack_list_) {
    if (!u->ack_due) continue;  // listed twice this turn
    u->ack_due = false;
    u->last_write_ns = now;
    u->conn.write(im::client::build_ack(fbb_, 0, u->last_inbox_seq));
  }
  ack_list_.clear();
}

void ChatThread::on_closed(Conn& conn, const char* why) {
  User& u = *static_cast<User*>(conn.user);
  u.dead = true;
  if (!u.ready) {
    std::fprintf(stderr, "imbench: %s: %s\n", s_.names[u.index].c_str(), why);
    c_.failed.fetch_add(1, std::memory_order_release);
    return login_finished();
  }
  std::fprintf(stderr, "imbench: connection of %s lost: %s\n", s_.names[u.index].c_str(), why);
  c_.closed.fetch_add(1, std::memory_order_relaxed);
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  aborted_sends.fetch_add(s_.o.messages - u.results, std::memory_order_relaxed);
}

struct RunWindow {
  int64_t start_ns = 0, end_ns = 0;
  bool timed_out = false;
};

// The measured phase: until every send is answered and every acknowledged message is
// delivered, or no delivery for drain_timeout_s, or timeout_s.
RunWindow wait_run_done(Shared& s, std::vector<ThreadCounters>& counters,
                        std::vector<std::unique_ptr<ChatThread>>& threads) {
  RunWindow w;
  w.start_ns = now_ns();
  s.start_ns.store(w.start_ns);
  s.phase.store(int(Phase::Run), std::memory_order_release);
  uint64_t total = uint64_t(s.users) * s.o.messages;
  int64_t next_print = w.start_ns + kTickNs;
  int64_t last_change = w.start_ns;
  uint64_t last_seen = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    int64_t now = now_ns();
    CounterTotals t = sum_counters(counters);
    uint64_t aborted = 0;
    for (auto& th : threads) aborted += th->aborted_sends.load(std::memory_order_relaxed);
    if (t.acked + t.delivered != last_seen) {
      last_seen = t.acked + t.delivered;
      last_change = now;
    }
    bool resolved = t.acked + aborted >= total;
    if (resolved && t.delivered >= t.acked_ok) break;
    if (resolved && now - last_change > int64_t(s.o.drain_timeout_s * 1e9)) break;
    if (now - w.start_ns > int64_t(s.o.timeout_s * 1e9)) {
      w.timed_out = true;
      break;
    }
    if (s.o.progress && now >= next_print) {
      print_progress("run", seconds_between(w.start_ns, now), t);
      next_print += kTickNs;
    }
  }
  w.end_ns = 0;
  for (auto& th : threads) w.end_ns = std::max(w.end_ns, th->activity.last_ns());
  if (w.end_ns <= w.start_ns) w.end_ns = now_ns();
  return w;
}

struct Correctness {
  uint64_t lost = 0, dup = 0, reordered = 0, push_order_errors = 0, stray = 0;
  uint64_t results_ok = 0, delivered = 0;
};

Correctness check_deliveries(const std::vector<User*>& all) {
  Correctness c;
  for (User* u : all) {
    const User& receiver = *all[u->partner];
    if (u->results_ok > receiver.check.distinct())
      c.lost += u->results_ok - receiver.check.distinct();
    c.dup += u->check.dup();
    c.reordered += u->check.reordered();
    c.push_order_errors += u->push_order_errors;
    c.stray += u->stray;
    c.results_ok += u->results_ok;
    c.delivered += u->check.distinct();
  }
  return c;
}

}  // namespace

int run_chat_1to1(const Options& o, Report* report) {
  Shared s(o);
  std::string error;
  if (!parse_host_port(o.server, &s.server)) error = "bad --server " + o.server;
  if (error.empty()) s.sources.init(o, &error);
  if (!error.empty()) return std::fprintf(stderr, "imbench: %s\n", error.c_str()), 2;
  s.users = 2 * o.pairs;
  uint64_t fd_limit = raise_fd_limit();
  if (fd_limit < s.users + kOtherFds) {
    return std::fprintf(stderr,
                        "imbench: %u connections need an open-file limit of %llu; it is %llu "
                        "(ulimit -n)\n",
                        s.users, (unsigned long long)(s.users + kOtherFds),
                        (unsigned long long)fd_limit),
           2;
  }
  s.names = bench_usernames(o.user_prefix + "c", 0, s.users);
  s.uids.assign(s.users, 0);
  s.nonce = make_run_nonce();
  bool had_tokens = !o.token_file.empty() && load_tokens(o.token_file, s.names, &s.tokens);
  if (!had_tokens) s.tokens.assign(s.users, "");
  double setup_s = 0;
  if (o.setup) {
    std::vector<std::string> accounts = s.names;
    for (std::string& name : bench_usernames(o.user_prefix + "ci", 0, o.idle_users))
      accounts.push_back(std::move(name));
    SetupResult setup = register_users(s.server, accounts, o.password, o.timeout_s);
    if (!setup.ok) return std::fprintf(stderr, "imbench: %s\n", setup.error.c_str()), 2;
    setup_s = setup.seconds;
  }
  uint32_t ring = o.rate > 0 ? kOpenLoopMaxInflight : std::max<uint32_t>(64, o.window * 4);
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<ChatThread>> threads;
  for (uint32_t t = 0; t < o.threads; ++t)
    threads.push_back(std::make_unique<ChatThread>(s, counters[t]));
  std::vector<User*> all(s.users);
  for (uint32_t i = 0; i < s.users; ++i) {
    auto user = std::make_unique<User>(i, o.messages, ring);
    all[i] = user.get();
    threads[i % o.threads]->add_user(std::move(user));
  }
  std::vector<std::thread> running;
  for (auto& t : threads) running.emplace_back([&t] { t->run(); });

  double login_s = 0;
  bool logged_in = wait_logged_in(o, counters, s.users, &login_s);
  if (logged_in && !had_tokens && !o.token_file.empty() &&
      !save_tokens(o.token_file, s.names, s.tokens))
    std::fprintf(stderr, "imbench: cannot write %s\n", o.token_file.c_str());
  RunWindow w;
  ProcSample server0, server1;
  uint64_t cpu0 = 0, cpu1 = 0;
  if (logged_in) {
    run_hook(o.run_start_cmd);
    server0 = sample_process(o.server_pid);
    cpu0 = self_cpu_us();
    w = wait_run_done(s, counters, threads);
    cpu1 = self_cpu_us();
    server1 = sample_process(o.server_pid);
    run_hook(o.run_end_cmd);
  }
  s.phase.store(int(Phase::Stop), std::memory_order_release);
  for (auto& t : running) t.join();
  if (!logged_in) {
    std::fprintf(stderr, "imbench: not every user could log in (see above)\n");
    return 2;
  }

  Histogram result_hist, deliver_hist;
  uint64_t kicks = 0;
  for (auto& t : threads) {
    result_hist.merge(t->result_hist);
    deliver_hist.merge(t->deliver_hist);
    kicks += t->kicks;
  }
  CounterTotals totals = sum_counters(counters);
  Correctness c = check_deliveries(all);
  double secs = seconds_between(w.start_ns, w.end_ns);
  double client_cpu_us = double(cpu1 - cpu0);
  double wall_us = double(now_ns() - w.start_ns) / 1000.0;
  uint64_t errors = totals.errors + c.push_order_errors + c.stray;

  Report& r = *report;
  r.add("workload", std::string("chat-1to1"));
  r.add("mode", std::string(o.rate > 0 ? "open" : "closed"));
  r.add("pairs", uint64_t(o.pairs));
  r.add("idle_users", uint64_t(o.idle_users));
  r.add("messages", uint64_t(o.messages));
  r.add("window", uint64_t(o.window));
  r.add("payload", uint64_t(o.payload_bytes));
  r.add("rate", o.rate);
  r.add("threads", uint64_t(o.threads));
  r.add("sent", totals.sent);
  r.add("acked", totals.acked);
  r.add("delivered", c.delivered);
  r.add("errors", errors);
  r.add("lost", c.lost);
  r.add("dup", c.dup);
  r.add("reordered", c.reordered);
  r.add("push_order_errors", c.push_order_errors);
  r.add("timed_out", uint64_t(w.timed_out));
  r.add("duration_s", secs);
  r.add("msgs_per_s", secs > 0 ? double(c.delivered) / secs : 0.0);
  r.add_latency("send_result", result_hist);
  r.add_latency("send_deliver", deliver_hist);
  add_cpu_usage(r, server0, server1, client_cpu_us, wall_us, c.delivered, "msg");
  r.add("kicks", kicks);
  r.add("setup_s", setup_s);
  r.add("login_s", login_s);
  bool correct = c.lost == 0 && c.dup == 0 && c.reordered == 0 && errors == 0 && !w.timed_out &&
                 c.delivered == uint64_t(s.users) * o.messages;
  return correct ? 0 : 1;
}

}  // namespace im::bench
