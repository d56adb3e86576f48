// group_fanout.cc - the group-fanout workload: G groups that share the same K member users
// (registering a user costs one scrypt, so K users serve every group), each user online with
// D connections. S senders per group send M messages each, closed loop (window) or open
// loop (--rate, latency from the intended send time). Every connection checks, per group,
// that it receives every group_seq of the run exactly once and in order (delivery_check.h);
// a delivery is one GroupPush entry read by one connection.
// Threads: connections are spread round-robin over --threads loop threads; the main thread
// sequences the phases (login, group creation, arm, run) and builds the report.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/imbench/clock.h"
#include "bench/imbench/conn_loop.h"
#include "bench/imbench/delivery_check.h"
#include "bench/imbench/group_setup.h"
#include "bench/imbench/histogram.h"
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
constexpr uint64_t kPingReqId = uint64_t(1) << 61;
constexpr uint32_t kMaxPendingLogins = 64;       // per thread: password logins (scrypt) in flight
constexpr uint32_t kOpenLoopMaxInflight = 4096;  // per sender; the schedule stalls beyond
constexpr int64_t kMaxPollNs = 2'000'000;
constexpr int64_t kTickNs = 1'000'000'000;
constexpr size_t kTimeHexChars = 16;  // the payload starts with the send time, in hex
constexpr uint32_t kFdReserve = 64;   // files besides the connections (setup, epoll, logs)

// Login: connect and log in. Arm: groups exist, threads build their checks. Run: send.
enum class Phase : int { Login, Arm, Run, Stop };

struct Shared {
  const Options& o;
  sockaddr_in server{};
  SourceAddrs sources;
  uint64_t nonce = 0;  // high 32 bits of every client_msg_id of this run
  uint32_t users = 0, conns = 0, senders = 0;
  std::vector<std::string> names;
  std::vector<uint64_t> uids;       // per user, written by its first device before ready++
  std::vector<uint64_t> gids;       // written by the main thread before Phase::Arm
  std::vector<uint64_t> base_seqs;  // each group's last group_seq before the run
  std::atomic<int> phase{int(Phase::Login)};
  std::atomic<uint32_t> armed{0};  // threads that built their checks
  std::atomic<int64_t> start_ns{0};
  explicit Shared(const Options& options) : o(options) {}
  uint32_t per_group() const { return o.senders * o.messages; }
};

struct Sender {
  Sender(uint32_t id_, uint32_t group_, uint32_t ring) : id(id_), group(group_), send_ns(ring) {}
  uint32_t id;  // 1-based, the high half of its req_ids
  uint32_t group;
  uint32_t next_seq = 1;  // 1..messages
  uint32_t inflight = 0, results = 0, results_ok = 0;
  std::vector<int64_t> send_ns;  // (intended) send time by seq % size
};

struct Device {
  Conn conn;
  uint32_t index = 0;  // connection index: user = index % users, device = index / users
  uint32_t user = 0;
  bool ready = false, dead = false;
  uint64_t last_inbox_seq = 0;
  bool ack_due = false;
  std::vector<DeliveryCheck> checks;  // per group, built at Phase::Arm
  std::vector<Sender*> senders;
  uint64_t stray = 0;  // a group entry of the run outside its range, or of an unknown group
};

uint64_t parse_hex(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kTimeHexChars; ++i) {
    char c = p[i];
    v = v << 4 | uint64_t(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return v;
}

void write_hex(char* p, uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = kTimeHexChars; i-- > 0; v >>= 4) p[i] = kDigits[v & 15];
}

class FanoutThread final : public ConnHandler {
 public:
  FanoutThread(Shared& shared, ThreadCounters& counters) : s_(shared), c_(counters) {}

  std::vector<std::unique_ptr<Device>> devices;
  std::vector<std::unique_ptr<Sender>> senders;
  Histogram result_hist, deliver_hist;
  std::atomic<uint64_t> aborted_sends{0};    // never answered: the sender's link died
  std::atomic<int64_t> last_activity_ns{0};  // last result or delivery
  uint64_t kicks = 0;

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void launch_logins();
  void arm();
  void start_running();
  void send_one(Device& d, Sender& sender, int64_t intended_ns);
  void fill_window(Device& d, Sender& sender, int64_t now);
  void issue_due(int64_t now);
  void ping_due(int64_t now);
  void on_result(Device& d, const proto::Frame& frame, int64_t now);
  void on_group_push(Device& d, const proto::GroupPush& push, int64_t now);
  void on_push(Device& d, const proto::Push& push);
  void flush_acks();

  Shared& s_;
  ThreadCounters& c_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::string payload_;
  std::vector<Device*> ack_list_;
  Histogram interval_hist_;
  size_t next_login_ = 0;
  uint32_t pending_logins_ = 0;
  bool armed_ = false, running_ = false, progressed_ = false;
  int64_t next_tick_ns_ = 0;
  // open loop: send k is due at start + k * interval, by senders[k % n]
  uint64_t sched_k_ = 0, sched_total_ = 0;
  double sched_interval_ns_ = 0;
  int64_t sched_start_ns_ = 0;
  // heartbeats (the server closes connections idle for idle_timeout_ms)
  uint64_t ping_k_ = 0;
  double ping_interval_ns_ = 0;
  int64_t ping_start_ns_ = 0;
};

void FanoutThread::run() {
  payload_.assign(s_.o.payload_bytes, 'x');
  int64_t now = now_ns();
  ping_start_ns_ = now;
  ping_interval_ns_ = s_.o.heartbeat_s * 1e9 / double(std::max<size_t>(1, devices.size()));
  next_tick_ns_ = now + kTickNs;
  launch_logins();
  while (s_.phase.load(std::memory_order_acquire) != int(Phase::Stop)) {
    int64_t timeout = kMaxPollNs;
    if (running_ && sched_k_ < sched_total_) {
      int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
      timeout = std::clamp<int64_t>(due - now_ns(), 0, kMaxPollNs);
    }
    loop_.poll(timeout);
    now = now_ns();
    int phase = s_.phase.load(std::memory_order_acquire);
    if (!armed_ && phase >= int(Phase::Arm)) arm();
    if (!running_ && phase == int(Phase::Run)) start_running();
    if (running_ && sched_total_ != 0) issue_due(now);
    ping_due(now);
    flush_acks();
    loop_.flush();
    if (progressed_) {
      last_activity_ns.store(now, std::memory_order_relaxed);
      progressed_ = false;
    }
    if (now >= next_tick_ns_) {
      c_.p99_us.store(interval_hist_.percentile(0.99), std::memory_order_relaxed);
      interval_hist_.reset();
      next_tick_ns_ = now + kTickNs;
    }
  }
  for (auto& d : devices) d->conn.close();
}

void FanoutThread::launch_logins() {
  while (pending_logins_ < kMaxPendingLogins && next_login_ < devices.size()) {
    Device& d = *devices[next_login_++];
    d.conn.user = &d;
    ++pending_logins_;
    if (!d.conn.connect(loop_, *this, s_.server, s_.sources.for_connection(d.index))) {
      --pending_logins_;
      d.dead = true;
      c_.failed.fetch_add(1, std::memory_order_release);
    }
  }
}

void FanoutThread::arm() {
  armed_ = true;
  for (auto& d : devices) d->checks.assign(s_.gids.size(), DeliveryCheck(s_.per_group()));
  s_.armed.fetch_add(1, std::memory_order_release);
}

void FanoutThread::start_running() {
  running_ = true;
  int64_t now = now_ns();
  if (s_.o.rate <= 0) {
    for (auto& d : devices)
      for (Sender* sender : d->senders)
        if (d->ready && !d->dead) fill_window(*d, *sender, now);
    return;
  }
  if (senders.empty()) return;
  double thread_rate = s_.o.rate * double(senders.size()) / double(s_.senders);
  sched_interval_ns_ = 1e9 / thread_rate;
  sched_total_ = uint64_t(senders.size()) * s_.o.messages;
  sched_start_ns_ = s_.start_ns.load();
}

Device& device_of(std::vector<std::unique_ptr<Device>>& devices, const Sender& sender) {
  for (auto& d : devices)
    for (Sender* s : d->senders)
      if (s == &sender) return *d;
  std::abort();  // every sender belongs to a device of its thread
}

void FanoutThread::send_one(Device& d, Sender& sender, int64_t intended_ns) {
  uint32_t seq = sender.next_seq++;
  write_hex(payload_.data(), uint64_t(intended_ns));
  uint64_t req_id = uint64_t(sender.id) << 32 | seq;
  uint64_t client_msg_id = s_.nonce << 32 | (uint64_t(sender.id) << 24 | seq);
  d.conn.write(im::client::build_group_send_text(fbb_, req_id, s_.gids[sender.group], client_msg_id,
                                                 payload_, {}, false));
  sender.send_ns[seq % sender.send_ns.size()] = intended_ns;
  ++sender.inflight;
  c_.sent.fetch_add(1, std::memory_order_relaxed);
}

void FanoutThread::fill_window(Device& d, Sender& sender, int64_t now) {
  while (sender.inflight < s_.o.window && sender.next_seq <= s_.o.messages)
    send_one(d, sender, now);
}

void FanoutThread::issue_due(int64_t now) {
  size_t n = senders.size();
  while (sched_k_ < sched_total_) {
    int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
    if (due > now) break;
    Sender& sender = *senders[sched_k_ % n];
    Device& d = device_of(devices, sender);
    if (!d.dead && sender.inflight >= sender.send_ns.size()) break;  // stall: latency counts
    if (!d.dead) send_one(d, sender, due);
    ++sched_k_;
  }
}

void FanoutThread::ping_due(int64_t now) {
  size_t n = devices.size();
  while (n != 0) {
    int64_t due = ping_start_ns_ + int64_t(double(ping_k_) * ping_interval_ns_);
    if (due > now) break;
    Device& d = *devices[ping_k_ % n];
    if (d.ready && !d.dead) d.conn.write(im::client::build_ping(fbb_, kPingReqId, now / 1000000));
    ++ping_k_;
  }
}

void FanoutThread::on_connected(Conn& conn) {
  Device& d = *static_cast<Device*>(conn.user);
  std::string device_id = "imbench-gf" + std::to_string(d.index / s_.users);
  im::client::HelloParams hello;
  hello.username = s_.names[d.user];
  hello.password = s_.o.password;
  hello.device_id = device_id;
  hello.platform = proto::Platform::Bot;
  conn.write(im::client::build_hello(fbb_, kLoginReqId, hello));
}

void FanoutThread::on_frame(Conn& conn, const proto::Frame& frame) {
  Device& d = *static_cast<Device*>(conn.user);
  int64_t now = now_ns();
  switch (frame.body_type()) {
    case proto::Body::Result:
      return on_result(d, frame, now);
    case proto::Body::GroupPush:
      return on_group_push(d, *frame.body_as_GroupPush(), now);
    case proto::Body::Push:
      return on_push(d, *frame.body_as_Push());
    case proto::Body::Kick:
      ++kicks;
      c_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    default:
      return;
  }
}

void FanoutThread::on_result(Device& d, const proto::Frame& frame, int64_t now) {
  if (frame.req_id() == kLoginReqId) {
    --pending_logins_;
    launch_logins();
    auto login = im::client::decode_login_ok(frame);
    if (!login.ok()) {
      std::fprintf(stderr, "imbench: login of %s failed: %s\n", s_.names[d.user].c_str(),
                   login.status().to_string().c_str());
      d.dead = true;
      d.conn.close();
      c_.failed.fetch_add(1, std::memory_order_release);
      return;
    }
    s_.uids[d.user] = login->uid;
    d.ready = true;
    c_.ready.fetch_add(1, std::memory_order_release);
    return;
  }
  uint32_t id = uint32_t(frame.req_id() >> 32), seq = uint32_t(frame.req_id());
  auto it = std::find_if(d.senders.begin(), d.senders.end(),
                         [id](const Sender* s) { return s->id == id; });
  if (it == d.senders.end() || seq == 0 || seq >= (*it)->next_seq || (*it)->inflight == 0) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);  // a result nobody asked for
    return;
  }
  Sender& sender = **it;
  uint64_t latency_us = uint64_t(now - sender.send_ns[seq % sender.send_ns.size()]) / 1000;
  result_hist.record(latency_us);
  interval_hist_.record(latency_us);
  --sender.inflight;
  ++sender.results;
  progressed_ = true;
  const proto::Result* result = frame.body_as_Result();
  if (result->code() == proto::Code::Ok && result->data_as_SendResult() != nullptr) {
    ++sender.results_ok;
    c_.acked_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  c_.acked.fetch_add(1, std::memory_order_relaxed);
  if (s_.o.rate <= 0) fill_window(d, sender, now);
}

void FanoutThread::on_group_push(Device& d, const proto::GroupPush& push, int64_t now) {
  if (push.entries() == nullptr || d.checks.empty()) return;  // before the run: setup events
  for (const proto::EntryBlob* blob : *push.entries()) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    const proto::InboxEntry* entry = blob->data_nested_root();
    auto g = std::find(s_.gids.begin(), s_.gids.end(), entry->gid());
    if (g == s_.gids.end()) {
      ++d.stray;
      continue;
    }
    size_t gi = size_t(g - s_.gids.begin());
    uint64_t seq = entry->group_seq();
    if (seq <= s_.base_seqs[gi]) continue;  // a setup event delivered late
    uint64_t rel = seq - s_.base_seqs[gi];
    auto outcome = rel > s_.per_group() ? DeliveryCheck::Outcome::OutOfRange
                                        : d.checks[gi].deliver(uint32_t(rel));
    if (outcome == DeliveryCheck::Outcome::OutOfRange) ++d.stray;
    if (outcome != DeliveryCheck::Outcome::New) continue;  // duplicates: counted by the check
    c_.delivered.fetch_add(1, std::memory_order_relaxed);
    progressed_ = true;
    const proto::Message* m = entry->body_as_Message();
    if (m == nullptr || m->client_msg_id() >> 32 != s_.nonce) continue;
    const proto::TextContent* text = m->content_as_TextContent();
    if (text != nullptr && text->text() != nullptr && text->text()->size() >= kTimeHexChars) {
      int64_t sent = int64_t(parse_hex(text->text()->data()));
      deliver_hist.record(now > sent ? uint64_t(now - sent) / 1000 : 0);
    }
  }
}

// Inbox entries (not part of this workload) are acked so the server keeps pushing.
void FanoutThread::on_push(Device& d, const proto::Push& push) {
  if (push.entries() == nullptr) return;
  for (const proto::EntryBlob* blob : *push.entries()) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    d.last_inbox_seq = std::max(d.last_inbox_seq, blob->data_nested_root()->inbox_seq());
    d.ack_due = true;
  }
  if (d.ack_due) ack_list_.push_back(&d);
}

void FanoutThread::flush_acks() {
  for (Device* d : ack_list_) {
    if (!d->ack_due) continue;  // listed twice this turn
    d->ack_due = false;
    d->conn.write(im::client::build_ack(fbb_, 0, d->last_inbox_seq));
  }
  ack_list_.clear();
}

void FanoutThread::on_closed(Conn& conn, const char* why) {
  Device& d = *static_cast<Device*>(conn.user);
  d.dead = true;
  if (!d.ready) {
    std::fprintf(stderr, "imbench: %s: %s\n", s_.names[d.user].c_str(), why);
    --pending_logins_;
    launch_logins();
    c_.failed.fetch_add(1, std::memory_order_release);
    return;
  }
  std::fprintf(stderr, "imbench: connection %u of %s lost: %s\n", d.index, s_.names[d.user].c_str(),
               why);
  c_.closed.fetch_add(1, std::memory_order_relaxed);
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  for (Sender* sender : d.senders)
    aborted_sends.fetch_add(s_.o.messages - sender->results, std::memory_order_relaxed);
}

// Waits until every connection logged in or failed, bounded by timeout_s.
bool wait_logged_in(Shared& s, std::vector<ThreadCounters>& counters, double* seconds) {
  int64_t start = now_ns(), next_print = start + kTickNs;
  for (;;) {
    CounterTotals t = sum_counters(counters);
    if (t.ready + t.failed >= s.conns) {
      *seconds = seconds_between(start, now_ns());
      return t.failed == 0;
    }
    int64_t now = now_ns();
    if (now - start > int64_t(s.o.timeout_s * 1e9)) return false;
    if (s.o.progress && now >= next_print) {
      print_progress("login", seconds_between(start, now), t);
      next_print += kTickNs;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

struct RunWindow {
  int64_t start_ns = 0, end_ns = 0;
  bool timed_out = false;
};

// The measured phase: until every send is answered and every connection has every
// acknowledged message, or no progress for drain_timeout_s, or timeout_s.
RunWindow wait_run_done(Shared& s, std::vector<ThreadCounters>& counters,
                        std::vector<std::unique_ptr<FanoutThread>>& threads) {
  RunWindow w;
  w.start_ns = now_ns();
  s.start_ns.store(w.start_ns);
  s.phase.store(int(Phase::Run), std::memory_order_release);
  uint64_t total = uint64_t(s.senders) * s.o.messages;
  int64_t next_print = w.start_ns + kTickNs, last_change = w.start_ns;
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
    if (resolved && t.delivered >= t.acked_ok * (s.conns - t.closed)) break;
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
  for (auto& th : threads)
    w.end_ns = std::max(w.end_ns, th->last_activity_ns.load(std::memory_order_relaxed));
  if (w.end_ns <= w.start_ns) w.end_ns = now_ns();
  return w;
}

struct Correctness {
  uint64_t lost = 0, dup = 0, reordered = 0, stray = 0, deliveries = 0, expected = 0;
};

// Every connection must have each group's acknowledged group_seqs (1..ok[g] of the run).
Correctness check_deliveries(const Shared& s,
                             const std::vector<std::unique_ptr<FanoutThread>>& threads) {
  std::vector<uint64_t> ok(s.gids.size(), 0);
  for (auto& t : threads)
    for (auto& sender : t->senders) ok[sender->group] += sender->results_ok;
  Correctness c;
  for (auto& t : threads) {
    for (auto& d : t->devices) {
      c.stray += d->stray;
      for (size_t g = 0; g < d->checks.size(); ++g) {
        const DeliveryCheck& check = d->checks[g];
        c.expected += ok[g];
        c.deliveries += check.distinct();
        if (ok[g] > check.distinct()) c.lost += ok[g] - check.distinct();
        c.dup += check.dup();
        c.reordered += check.reordered();
      }
    }
  }
  return c;
}

uint64_t make_nonce() {
  uint64_t n = uint64_t(now_ns() / 1000) ^ (uint64_t(getpid()) << 20);
  n &= 0xffffffffu;
  return n == 0 ? 1 : n;
}

// Connection i is device i / users of user i % users, on thread i % threads. Sender j of
// group g is the first device of user (1 + g * senders + j) % users.
void assign(Shared& s, std::vector<std::unique_ptr<FanoutThread>>& threads) {
  uint32_t ring = s.o.rate > 0 ? kOpenLoopMaxInflight : std::max<uint32_t>(64, s.o.window * 4);
  std::vector<Device*> by_index(s.conns);
  for (uint32_t i = 0; i < s.conns; ++i) {
    auto d = std::make_unique<Device>();
    d->index = i;
    d->user = i % s.users;
    by_index[i] = d.get();
    threads[i % threads.size()]->devices.push_back(std::move(d));
  }
  uint32_t id = 0;
  for (uint32_t g = 0; g < s.o.groups; ++g) {
    for (uint32_t j = 0; j < s.o.senders; ++j) {
      uint32_t user = (1 + g * s.o.senders + j) % s.users;
      auto sender = std::make_unique<Sender>(++id, g, ring);
      by_index[user]->senders.push_back(sender.get());
      threads[user % threads.size()]->senders.push_back(std::move(sender));
    }
  }
}

void add_results(Report& r, const Options& o, const Shared& s, const CounterTotals& totals,
                 const Correctness& c, double secs) {
  r.add("workload", std::string("group-fanout"));
  r.add("mode", std::string(o.rate > 0 ? "open" : "closed"));
  r.add("groups", uint64_t(o.groups));
  r.add("members", uint64_t(o.members));
  r.add("senders", uint64_t(o.senders));
  r.add("member_devices", uint64_t(o.member_devices));
  r.add("connections", uint64_t(s.conns));
  r.add("messages", uint64_t(o.messages));
  r.add("window", uint64_t(o.window));
  r.add("payload", uint64_t(o.payload_bytes));
  r.add("rate", o.rate);
  r.add("threads", uint64_t(o.threads));
  r.add("sent", totals.sent);
  r.add("acked", totals.acked);
  r.add("deliveries", c.deliveries);
  r.add("expected_deliveries", c.expected);
  r.add("lost", c.lost);
  r.add("dup", c.dup);
  r.add("reordered", c.reordered);
  r.add("stray", c.stray);
  r.add("duration_s", secs);
  r.add("sends_per_s", secs > 0 ? double(totals.acked_ok) / secs : 0.0);
  r.add("deliveries_per_s", secs > 0 ? double(c.deliveries) / secs : 0.0);
}

void add_cpu(Report& r, const ProcSample& s0, const ProcSample& s1, double client_cpu_us,
             double wall_us, uint64_t deliveries) {
  r.add("client_cpu_pct", wall_us > 0 ? 100.0 * client_cpu_us / wall_us : 0.0);
  r.add("client_cpu_us_per_delivery", deliveries ? client_cpu_us / double(deliveries) : 0.0);
  if (!s0.ok || !s1.ok) {
    r.add("server_cpu_us_per_delivery", std::string("unknown"));
    r.add("server_rss_kb", std::string("unknown"));
    return;
  }
  double server_cpu_us = double(s1.cpu_us - s0.cpu_us);
  r.add("server_cpu_pct", wall_us > 0 ? 100.0 * server_cpu_us / wall_us : 0.0);
  r.add("server_cpu_us_per_delivery", deliveries ? server_cpu_us / double(deliveries) : 0.0);
  double sys_us = double(s1.sys_us - s0.sys_us);
  r.add("server_sys_pct_of_cpu", server_cpu_us > 0 ? 100.0 * sys_us / server_cpu_us : 0.0);
  r.add("server_rss_kb", s1.rss_kb);
}

// Registers the users, checks the fd budget and starts the loop threads' logins.
bool prepare(Shared& s, double* setup_s) {
  const Options& o = s.o;
  std::string error;
  if (!parse_host_port(o.server, &s.server)) error = "bad --server " + o.server;
  if (error.empty()) s.sources.init(o, &error);
  uint64_t fds = raise_fd_limit();
  if (error.empty() && fds < uint64_t(s.conns) + kFdReserve)
    error = "open-file limit " + std::to_string(fds) + " is below " + std::to_string(s.conns) +
            " connections + " + std::to_string(kFdReserve) +
            ": use fewer --members / --member-devices";
  if (!error.empty()) return std::fprintf(stderr, "imbench: %s\n", error.c_str()), false;
  if (!o.setup) return true;
  SetupResult setup = register_users(s.server, s.names, o.password, o.timeout_s);
  if (!setup.ok) return std::fprintf(stderr, "imbench: %s\n", setup.error.c_str()), false;
  *setup_s = setup.seconds;
  return true;
}

// Creates the groups (owner: user 0) and arms every thread's checks.
bool setup_groups(Shared& s, double* seconds) {
  std::vector<uint64_t> members(s.uids.begin() + 1, s.uids.end());
  GroupSetupResult g = create_groups(s.server, s.names[0], s.o.password, members, s.o.groups,
                                     s.o.user_prefix + "grp", s.o.timeout_s);
  if (!g.ok) return std::fprintf(stderr, "imbench: %s\n", g.error.c_str()), false;
  *seconds = g.seconds;
  s.gids = g.gids;
  s.base_seqs = g.base_seqs;
  return true;
}

bool wait_armed(Shared& s, uint32_t threads) {
  s.phase.store(int(Phase::Arm), std::memory_order_release);
  int64_t start = now_ns();
  while (s.armed.load(std::memory_order_acquire) < threads) {
    if (now_ns() - start > int64_t(s.o.timeout_s * 1e9)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

int run_group_fanout(const Options& o, Report* report) {
  Shared s(o);
  s.users = o.members;
  s.conns = o.members * o.member_devices;
  s.senders = o.groups * o.senders;
  s.names = bench_usernames(o.user_prefix + "g", 0, s.users);
  s.uids.assign(s.users, 0);
  s.nonce = make_nonce();
  double setup_s = 0, login_s = 0, groups_s = 0;
  if (!prepare(s, &setup_s)) return 2;
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<FanoutThread>> threads;
  for (uint32_t t = 0; t < o.threads; ++t)
    threads.push_back(std::make_unique<FanoutThread>(s, counters[t]));
  assign(s, threads);
  std::vector<std::thread> running;
  for (auto& t : threads) running.emplace_back([&t] { t->run(); });

  bool ready = wait_logged_in(s, counters, &login_s) && setup_groups(s, &groups_s) &&
               wait_armed(s, o.threads);
  RunWindow w;
  ProcSample server0, server1;
  uint64_t cpu0 = 0, cpu1 = 0;
  if (ready) {
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
  if (!ready) return std::fprintf(stderr, "imbench: setup failed (see above)\n"), 2;

  Histogram result_hist, deliver_hist;
  uint64_t kicks = 0;
  for (auto& t : threads) {
    result_hist.merge(t->result_hist);
    deliver_hist.merge(t->deliver_hist);
    kicks += t->kicks;
  }
  CounterTotals totals = sum_counters(counters);
  Correctness c = check_deliveries(s, threads);
  double secs = seconds_between(w.start_ns, w.end_ns);
  uint64_t errors = totals.errors + c.stray;
  Report& r = *report;
  add_results(r, o, s, totals, c, secs);
  r.add("errors", errors);
  r.add("timed_out", uint64_t(w.timed_out));
  r.add_latency("send_result", result_hist);
  r.add_latency("send_deliver", deliver_hist);
  add_cpu(r, server0, server1, double(cpu1 - cpu0), double(now_ns() - w.start_ns) / 1000.0,
          c.deliveries);
  r.add("kicks", kicks);
  r.add("setup_s", setup_s);
  r.add("login_s", login_s);
  r.add("group_setup_s", groups_s);
  bool correct = c.lost == 0 && c.dup == 0 && c.reordered == 0 && errors == 0 && !w.timed_out &&
                 totals.acked_ok == uint64_t(s.senders) * o.messages;
  return correct ? 0 : 1;
}

}  // namespace im::bench
