// history.cc - the `history` workload: fills the store with a chat-1to1 run (P pairs, M
// messages per user, so every user's inbox holds 2M entries), then every user requests
// random History pages (--page entries, newest first before a random inbox_seq) of its
// conversation for --duration seconds: closed loop (--window requests in flight per
// connection) or open loop (--rate pages per second in all, each due at a fixed time and
// its latency counted from that intended time, so queueing in imbench is not hidden).
// Reports pages/s, entries/s, page latency and server CPU per page.
// Threads: users round-robin over --threads loops, as in chat-1to1.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

#include "bench/imbench/clock.h"
#include "bench/imbench/conn_loop.h"
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
constexpr int64_t kPollNs = 2'000'000;
constexpr int64_t kTickNs = 1'000'000'000;
constexpr uint32_t kOpenLoopMaxInflight = 64;  // per connection; the schedule stalls beyond

enum class Phase : int { Login, Run, Stop };

struct Reader {
  Conn conn;
  uint32_t index = 0;
  uint64_t uid = 0, partner_uid = 0, head_seq = 0;
  bool ready = false;
  uint64_t last_inbox_seq = 0;
  std::vector<int64_t> sent_ns;  // (intended) send time by req_id % size
  uint64_t next_req = 1;
  uint32_t inflight = 0;
};

struct Shared {
  const Options& o;
  sockaddr_in server{};
  std::vector<std::string> names;
  std::vector<uint64_t> uids;
  std::atomic<int> phase{int(Phase::Login)};
  explicit Shared(const Options& options) : o(options) {}
};

class HistoryThread final : public ConnHandler {
 public:
  HistoryThread(Shared& s, ThreadCounters& c, uint32_t seed) : s_(s), c_(c), rng_(seed) {}
  std::vector<std::unique_ptr<Reader>> readers;
  Histogram page_hist;
  uint64_t pages = 0, entries = 0;

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void start_running();
  void request_page(Reader& r, int64_t intended_ns);
  void issue_due(int64_t now);
  int64_t poll_timeout_ns() const;

  Shared& s_;
  ThreadCounters& c_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{512};
  std::mt19937_64 rng_;
  bool running_ = false;
  int64_t next_tick_ns_ = 0;
  Histogram interval_hist_;
  // open loop: page k of this thread is due at sched_start_ns_ + k * sched_interval_ns_,
  // from readers[k % n]
  uint64_t sched_k_ = 0;
  double sched_interval_ns_ = 0;
  int64_t sched_start_ns_ = 0;
};

void HistoryThread::run() {
  for (auto& r : readers) {
    r->conn.user = r.get();
    r->sent_ns.assign(std::max<uint32_t>(kOpenLoopMaxInflight, s_.o.window * 4), 0);
    if (!r->conn.connect(loop_, *this, s_.server, nullptr))
      c_.failed.fetch_add(1, std::memory_order_release);
  }
  next_tick_ns_ = now_ns() + kTickNs;
  while (s_.phase.load(std::memory_order_acquire) != int(Phase::Stop)) {
    loop_.poll(poll_timeout_ns());
    if (!running_ && s_.phase.load(std::memory_order_acquire) == int(Phase::Run)) start_running();
    int64_t now = now_ns();
    if (running_ && sched_interval_ns_ > 0) issue_due(now);
    loop_.flush();
    if (now >= next_tick_ns_) {
      c_.p99_us.store(interval_hist_.percentile(0.99), std::memory_order_relaxed);
      interval_hist_.reset();
      next_tick_ns_ = now + kTickNs;
    }
  }
  for (auto& r : readers) r->conn.close();
}

void HistoryThread::start_running() {
  running_ = true;
  int64_t now = now_ns();
  for (auto& r : readers) r->partner_uid = s_.uids[r->index ^ 1u];
  if (s_.o.rate > 0) {
    sched_interval_ns_ = 1e9 * double(s_.o.threads) / s_.o.rate;
    sched_start_ns_ = now;
    return;
  }
  for (auto& r : readers)
    for (uint32_t i = 0; r->ready && i < s_.o.window; ++i) request_page(*r, now);
}

// Open loop: every page due by now is sent, with its intended time. A reader with a full
// ring of requests in flight stalls the schedule (the wait counts in the latency).
void HistoryThread::issue_due(int64_t now) {
  size_t n = readers.size();
  while (n != 0) {
    int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
    if (due > now) break;
    Reader& r = *readers[sched_k_ % n];
    if (r.ready && r.inflight >= r.sent_ns.size()) break;
    if (r.ready) request_page(r, due);
    ++sched_k_;
  }
}

int64_t HistoryThread::poll_timeout_ns() const {
  if (!running_ || sched_interval_ns_ <= 0) return kPollNs;
  int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
  return std::clamp<int64_t>(due - now_ns(), 0, kPollNs);
}

void HistoryThread::request_page(Reader& r, int64_t intended_ns) {
  uint64_t page = s_.o.page_entries;
  uint64_t span = r.head_seq > page ? r.head_seq - page : 1;
  uint64_t before = page + 1 + rng_() % span;
  uint64_t req = r.next_req++;
  r.sent_ns[req % r.sent_ns.size()] = intended_ns;
  ++r.inflight;
  r.conn.write(im::client::build_history(fbb_, req, r.partner_uid, before, 0, uint32_t(page)));
  c_.sent.fetch_add(1, std::memory_order_relaxed);
}

void HistoryThread::on_connected(Conn& conn) {
  Reader& r = *static_cast<Reader*>(conn.user);
  im::client::HelloParams hello;
  hello.username = s_.names[r.index];
  hello.password = s_.o.password;
  hello.device_id = "imbench";
  hello.platform = proto::Platform::Bot;
  conn.write(im::client::build_hello(fbb_, kLoginReqId, hello));
}

void HistoryThread::on_frame(Conn& conn, const proto::Frame& frame) {
  Reader& r = *static_cast<Reader*>(conn.user);
  if (frame.body_type() == proto::Body::Push) {
    const auto* entries = frame.body_as_Push()->entries();
    if (entries && entries->size() > 0) {
      const proto::EntryBlob* last = entries->Get(entries->size() - 1);
      if (last->data() && last->data()->size() > 0)
        conn.write(im::client::build_ack(fbb_, 0, last->data_nested_root()->inbox_seq()));
    }
    return;
  }
  if (frame.body_type() != proto::Body::Result) return;
  if (frame.req_id() == kLoginReqId) {
    auto login = im::client::decode_login_ok(frame);
    if (!login.ok()) {
      std::fprintf(stderr, "imbench: login failed: %s\n", login.status().to_string().c_str());
      conn.close();
      c_.failed.fetch_add(1, std::memory_order_release);
      return;
    }
    r.uid = login->uid;
    r.head_seq = login->inbox_head_seq;
    s_.uids[r.index] = r.uid;
    r.ready = true;
    c_.ready.fetch_add(1, std::memory_order_release);
    return;
  }
  int64_t now = now_ns();
  uint64_t latency_us = uint64_t(now - r.sent_ns[frame.req_id() % r.sent_ns.size()]) / 1000;
  if (r.inflight > 0) --r.inflight;
  const proto::HistoryPage* page = frame.body_as_Result()->data_as_HistoryPage();
  c_.acked.fetch_add(1, std::memory_order_relaxed);
  if (frame.body_as_Result()->code() != proto::Code::Ok || page == nullptr) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++pages;
    entries += page->entries() ? page->entries()->size() : 0;
    page_hist.record(latency_us);
    interval_hist_.record(latency_us);
    c_.acked_ok.fetch_add(1, std::memory_order_relaxed);
  }
  bool closed_loop = sched_interval_ns_ <= 0;
  if (closed_loop && s_.phase.load(std::memory_order_relaxed) == int(Phase::Run))
    request_page(r, now);
}

void HistoryThread::on_closed(Conn& conn, const char* why) {
  Reader& r = *static_cast<Reader*>(conn.user);
  std::fprintf(stderr, "imbench: history connection %u: %s\n", r.index, why);
  if (!r.ready)
    c_.failed.fetch_add(1, std::memory_order_release);
  else
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  r.ready = false;
}

}  // namespace

int run_history(const Options& o, Report* report) {
  // 1. Fill: a chat-1to1 run on the same users (its correctness counts here too).
  Options fill = o;
  fill.workload = "chat-1to1";
  fill.rate = 0;  // --rate is the page rate; the fill is closed loop
  fill.json_path.clear();
  Report fill_report;
  if (o.messages > 0 && run_chat_1to1(fill, &fill_report) != 0) {
    std::fprintf(stderr, "imbench: the fill run failed: %s\n", fill_report.summary_line().c_str());
    return 1;
  }
  // 2. Read.
  Shared s(o);
  parse_host_port(o.server, &s.server);
  uint32_t users = 2 * o.pairs;
  s.names = bench_usernames(o.user_prefix + "c", 0, users);
  s.uids.assign(users, 0);
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<HistoryThread>> ts;
  for (uint32_t t = 0; t < o.threads; ++t)
    ts.push_back(std::make_unique<HistoryThread>(s, counters[t], 1234 + t));
  for (uint32_t i = 0; i < users; ++i) {
    auto r = std::make_unique<Reader>();
    r->index = i;
    ts[i % o.threads]->readers.push_back(std::move(r));
  }
  std::vector<std::thread> threads;
  for (auto& t : ts) threads.emplace_back([&t] { t->run(); });
  int64_t login_start = now_ns();
  CounterTotals totals;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    totals = sum_counters(counters);
  } while (totals.ready + totals.failed < users &&
           now_ns() - login_start < int64_t(o.timeout_s * 1e9));
  bool logged_in = totals.ready == users;
  ProcSample server0 = sample_process(o.server_pid);
  uint64_t cpu0 = self_cpu_us();
  int64_t start = now_ns();
  if (logged_in) {
    s.phase.store(int(Phase::Run), std::memory_order_release);
    int64_t next_print = start + kTickNs;
    while (now_ns() - start < int64_t(o.duration_s * 1e9)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (o.progress && now_ns() >= next_print) {
        print_progress("history", seconds_between(start, now_ns()), sum_counters(counters));
        next_print += kTickNs;
      }
    }
  }
  int64_t end = now_ns();
  ProcSample server1 = sample_process(o.server_pid);
  uint64_t cpu1 = self_cpu_us();
  s.phase.store(int(Phase::Stop), std::memory_order_release);
  for (auto& t : threads) t.join();
  if (!logged_in) return std::fprintf(stderr, "imbench: history logins failed\n"), 2;

  Histogram hist;
  uint64_t pages = 0, entries = 0;
  for (auto& t : ts) {
    hist.merge(t->page_hist);
    pages += t->pages;
    entries += t->entries;
  }
  totals = sum_counters(counters);
  double secs = seconds_between(start, end);
  Report& r = *report;
  r.add("workload", std::string("history"));
  r.add("pairs", uint64_t(o.pairs));
  r.add("fill_messages", uint64_t(o.messages));
  r.add("fill_msgs_per_s", fill_report.get("msgs_per_s"));
  r.add("lost", fill_report.get("lost"));
  r.add("dup", fill_report.get("dup"));
  r.add("reordered", fill_report.get("reordered"));
  r.add("page", uint64_t(o.page_entries));
  r.add("mode", std::string(o.rate > 0 ? "open" : "closed"));
  r.add("rate", o.rate);
  r.add("window", uint64_t(o.window));
  r.add("pages", pages);
  r.add("errors", totals.errors);
  r.add("pages_per_s", secs > 0 ? double(pages) / secs : 0.0);
  r.add("entries_per_page", pages ? double(entries) / double(pages) : 0.0);
  r.add_latency("page", hist);
  r.add("client_cpu_pct", secs > 0 ? double(cpu1 - cpu0) / (secs * 1e4) : 0.0);
  if (server0.ok && server1.ok) {
    double server_cpu_us = double(server1.cpu_us - server0.cpu_us);
    r.add("server_cpu_pct", secs > 0 ? server_cpu_us / (secs * 1e4) : 0.0);
    r.add("server_cpu_us_per_page", pages ? server_cpu_us / double(pages) : 0.0);
    r.add("server_rss_kb", server1.rss_kb);
  } else {
    r.add("server_rss_kb", std::string("unknown"));
  }
  return totals.errors == 0 && pages > 0 ? 0 : 1;
}

}  // namespace im::bench
