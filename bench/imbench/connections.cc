// connections.cc - the `connections` workload: C authenticated connections held for T
// seconds with heartbeats. Users are few (C / devices_per_user, the server allows 32 online
// devices per user): each user's first device logs in with its password (one scrypt on the
// server), every other device with the token from that login. Reports the connect+login
// rate of token logins, failures, drops while held, and the server's RSS per connection.
// Processes: --procs children (fork) each hold a slice, because this machine caps open
// files per process; each child runs --threads loop threads; users never span threads.
// With --server-pid, the RSS baseline is sampled after a ping warm-up (see Warmup).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
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

constexpr uint32_t kMaxPendingLogins = 256;  // per thread: connects+logins in flight
constexpr int64_t kPollNs = 5'000'000;
constexpr int64_t kTickNs = 1'000'000'000;

enum class Phase : int { Connect, Hold, Stop };

// What a child process reports to the parent through its pipe (plain bytes).
struct ProcResult {
  uint64_t ready = 0, failed = 0, dropped = 0, kicks = 0, pings = 0, pongs = 0;
  uint64_t password_logins = 0;
  double password_s = 0, token_s = 0;  // how long each login stage took
  uint64_t token_logins = 0;
};

struct Device {
  Conn conn;
  uint32_t index = 0;  // global connection index
  uint32_t user = 0;
  bool primary = false;  // the user's first device: logs in with the password
  bool ready = false;
  bool done = false;  // ready, failed or dropped
  int64_t started_ns = 0;
};

struct UserSlot {
  std::string name;
  std::string token;
  std::vector<Device*> devices;  // devices[0] is the primary
};

class ConnsThread final : public ConnHandler {
 public:
  ConnsThread(const Options& o, const sockaddr_in& server, const SourceAddrs& sources,
              std::atomic<int>& phase, ThreadCounters& c)
      : o_(o), server_(server), sources_(sources), phase_(phase), c_(c) {}

  std::vector<UserSlot> users;
  std::vector<std::unique_ptr<Device>> devices;
  Histogram login_hist;  // connect + token login, microseconds
  ProcResult result;
  std::atomic<uint64_t> primaries_done{0};

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void start(Device& d);
  void finish(Device& d, bool ok);
  void launch_more();
  void ping_due(int64_t now);

  const Options& o_;
  const sockaddr_in& server_;
  const SourceAddrs& sources_;
  std::atomic<int>& phase_;
  ThreadCounters& c_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{512};
  uint32_t pending_ = 0;
  size_t next_launch_ = 0;  // into token_order_
  std::vector<Device*> token_order_;
  uint32_t primaries_left_ = 0;
  int64_t stage_start_ns_ = 0;
  // heartbeat schedule: ping k is due at hold_start + k * interval, sent by devices[k % n]
  uint64_t ping_k_ = 0;
  double ping_interval_ns_ = 0;
  int64_t hold_start_ns_ = 0;
};

void ConnsThread::run() {
  stage_start_ns_ = now_ns();
  for (UserSlot& u : users) {
    ++primaries_left_;
    start(*u.devices[0]);
    for (size_t i = 1; i < u.devices.size(); ++i) token_order_.push_back(u.devices[i]);
  }
  if (primaries_left_ == 0) launch_more();
  bool holding = false;
  while (phase_.load(std::memory_order_acquire) != int(Phase::Stop)) {
    loop_.poll(kPollNs);
    int64_t now = now_ns();
    if (!holding && phase_.load(std::memory_order_acquire) == int(Phase::Hold)) {
      holding = true;
      hold_start_ns_ = now;
      ping_interval_ns_ = o_.heartbeat_s * 1e9 / double(std::max<size_t>(1, devices.size()));
    }
    if (holding) ping_due(now);
    loop_.flush();
  }
  for (auto& d : devices) d->conn.close();
}

void ConnsThread::start(Device& d) {
  d.conn.user = &d;
  d.started_ns = now_ns();
  ++pending_;
  if (!d.conn.connect(loop_, *this, server_, sources_.for_connection(d.index))) {
    std::fprintf(stderr, "imbench: connect: %s\n", std::strerror(errno));
    finish(d, false);
  }
}

void ConnsThread::launch_more() {
  while (pending_ < kMaxPendingLogins && next_launch_ < token_order_.size())
    start(*token_order_[next_launch_++]);
}

void ConnsThread::finish(Device& d, bool ok) {
  if (d.done) return;
  d.done = true;
  --pending_;
  d.ready = ok;
  if (ok) {
    ++result.ready;
    if (!d.primary) {
      login_hist.record(uint64_t(now_ns() - d.started_ns) / 1000);
      ++result.token_logins;
    }
    c_.ready.fetch_add(1, std::memory_order_release);
  } else {
    ++result.failed;
    c_.failed.fetch_add(1, std::memory_order_release);
  }
  if (d.primary) {
    ++result.password_logins;
    if (--primaries_left_ == 0) {
      int64_t now = now_ns();
      result.password_s = seconds_between(stage_start_ns_, now);
      stage_start_ns_ = now;
    }
    primaries_done.fetch_add(1, std::memory_order_relaxed);
  }
  if (primaries_left_ == 0) launch_more();
  if (primaries_left_ == 0 && pending_ == 0 && next_launch_ == token_order_.size() &&
      result.token_s == 0)
    result.token_s = seconds_between(stage_start_ns_, now_ns());
}

void ConnsThread::on_connected(Conn& conn) {
  Device& d = *static_cast<Device*>(conn.user);
  UserSlot& u = users[d.user];
  std::string device_id = "dev" + std::to_string(d.index);
  im::client::HelloParams hello;
  hello.device_id = device_id;
  hello.platform = proto::Platform::Bot;
  if (d.primary) {
    hello.username = u.name;
    hello.password = o_.password;
  } else {
    hello.token = u.token;
  }
  conn.write(im::client::build_hello(fbb_, 1, hello));
}

void ConnsThread::on_frame(Conn& conn, const proto::Frame& frame) {
  Device& d = *static_cast<Device*>(conn.user);
  switch (frame.body_type()) {
    case proto::Body::Result: {
      if (d.ready) return;
      auto login = im::client::decode_login_ok(frame);
      if (!login.ok()) {
        std::fprintf(stderr, "imbench: login of device %u failed: %s\n", d.index,
                     login.status().to_string().c_str());
        conn.close();
        return finish(d, false);
      }
      if (d.primary) {
        UserSlot& u = users[d.user];
        u.token = login->token;
      }
      return finish(d, true);
    }
    case proto::Body::Push: {
      // Held connections have empty inboxes; ack whatever arrives so the server keeps going.
      const proto::Push* push = frame.body_as_Push();
      if (push->entries() && push->entries()->size() > 0) {
        const proto::EntryBlob* last = push->entries()->Get(push->entries()->size() - 1);
        if (last->data() && last->data()->size() > 0)
          conn.write(im::client::build_ack(fbb_, 0, last->data_nested_root()->inbox_seq()));
      }
      return;
    }
    case proto::Body::Pong:
      ++result.pongs;
      c_.acked.fetch_add(1, std::memory_order_relaxed);
      return;
    case proto::Body::Kick:
      ++result.kicks;
      c_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    default:
      return;
  }
}

void ConnsThread::on_closed(Conn& conn, const char* why) {
  Device& d = *static_cast<Device*>(conn.user);
  if (!d.done) {
    std::fprintf(stderr, "imbench: device %u: %s\n", d.index, why);
    return finish(d, false);
  }
  if (d.ready) {
    ++result.dropped;
    d.ready = false;
    c_.closed.fetch_add(1, std::memory_order_relaxed);
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  }
}

void ConnsThread::ping_due(int64_t now) {
  size_t n = devices.size();
  while (n != 0) {
    int64_t due = hold_start_ns_ + int64_t(double(ping_k_) * ping_interval_ns_);
    if (due > now) break;
    Device& d = *devices[ping_k_ % n];
    if (d.ready) {
      d.conn.write(im::client::build_ping(fbb_, 2, now / 1'000'000));
      ++result.pings;
      c_.sent.fetch_add(1, std::memory_order_relaxed);
    }
    ++ping_k_;
  }
}

// ---- before the baseline: warm the server's fixed pools ----

// Each server worker receives into a ring of 1,024 buffers that the kernel uses in turn, so
// its first 1,024 receives fault in a page of every buffer (4 MiB per worker) whatever the
// number of connections. Sampled cold, that fixed cost would count as "per connection"
// (about 430 bytes each at 19,000 connections, 830 at 10,000). Pings need no login, are
// answered in place and leave nothing behind, so a run of them, one at a time (one receive
// each), is taken before the baseline. Bounded: kWarmupConns x kWarmupPings, timeout_s.
constexpr uint32_t kWarmupConns = 32;   // spread over the workers by the kernel's hash
constexpr uint32_t kWarmupPings = 256;  // per connection: 8,192 receives in all

class Warmup final : public ConnHandler {
 public:
  // True when every connection got all its pongs within timeout_s.
  bool run(const sockaddr_in& server, double timeout_s);
  void on_connected(Conn& conn) override { ping(conn); }
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn&, const char*) override { ++finished_, ok_ = false; }

 private:
  void ping(Conn& conn) { conn.write(im::client::build_ping(fbb_, 1, now_ns() / 1'000'000)); }

  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{256};
  uint32_t pongs_left_[kWarmupConns] = {};
  uint32_t finished_ = 0;
  bool ok_ = true;
};

bool Warmup::run(const sockaddr_in& server, double timeout_s) {
  std::unique_ptr<Conn[]> conns(new Conn[kWarmupConns]);
  for (uint32_t i = 0; i < kWarmupConns; ++i) {
    pongs_left_[i] = kWarmupPings;
    conns[i].user = &pongs_left_[i];
    if (!conns[i].connect(loop_, *this, server, nullptr)) ++finished_, ok_ = false;
  }
  int64_t deadline = now_ns() + int64_t(timeout_s * 1e9);
  while (finished_ < kWarmupConns && now_ns() < deadline) {
    loop_.poll(kPollNs);
    loop_.flush();
  }
  for (uint32_t i = 0; i < kWarmupConns; ++i) conns[i].close(true);
  return ok_ && finished_ == kWarmupConns;
}

void Warmup::on_frame(Conn& conn, const proto::Frame& frame) {
  if (frame.body_type() != proto::Body::Pong) return;
  uint32_t& left = *static_cast<uint32_t*>(conn.user);
  if (--left > 0) return ping(conn);
  conn.close(true);
  ++finished_;
}

// ---- one process: its slice [first, last) of the connections ----

struct Slice {
  uint32_t first = 0, last = 0;
};

Slice slice_of(const Options& o, uint32_t proc) {
  return {uint32_t(uint64_t(o.connections) * proc / o.procs),
          uint32_t(uint64_t(o.connections) * (proc + 1) / o.procs)};
}

void build_threads(const Options& o, Slice slice, std::vector<std::unique_ptr<ConnsThread>>& ts) {
  uint32_t dpu = o.devices_per_user;
  for (uint32_t i = slice.first; i < slice.last; ++i) {
    uint32_t user = i / dpu;
    ConnsThread& t = *ts[user % ts.size()];
    if (t.users.empty() || t.users.back().name != o.user_prefix + "n" + std::to_string(user)) {
      t.users.push_back({o.user_prefix + "n" + std::to_string(user), "", {}});
    }
    auto d = std::make_unique<Device>();
    d->index = i;
    d->user = uint32_t(t.users.size() - 1);
    d->primary = t.users.back().devices.empty();
    t.users.back().devices.push_back(d.get());
    t.devices.push_back(std::move(d));
  }
}

// Runs this process's slice; writes 'R' to ready_fd when every login finished, then the
// ProcResult and the latency histogram's buckets to result_fd.
int run_slice(const Options& o, uint32_t proc, int ready_fd, int result_fd) {
  sockaddr_in server{};
  parse_host_port(o.server, &server);
  SourceAddrs sources;
  std::string error;
  sources.init(o, &error);
  raise_fd_limit();
  std::atomic<int> phase{int(Phase::Connect)};
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<ConnsThread>> ts;
  for (uint32_t t = 0; t < o.threads; ++t)
    ts.push_back(std::make_unique<ConnsThread>(o, server, sources, phase, counters[t]));
  Slice slice = slice_of(o, proc);
  build_threads(o, slice, ts);
  std::vector<std::thread> threads;
  for (auto& t : ts) threads.emplace_back([&t] { t->run(); });
  uint64_t total = slice.last - slice.first;
  int64_t start = now_ns(), next_print = start + kTickNs;
  char label[32];
  std::snprintf(label, sizeof(label), "connect[p%u]", proc);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CounterTotals t = sum_counters(counters);
    int64_t now = now_ns();
    if (t.ready + t.failed >= total || now - start > int64_t(o.timeout_s * 1e9)) break;
    if (o.progress && now >= next_print) print_progress(label, seconds_between(start, now), t);
    if (now >= next_print) next_print += kTickNs;
  }
  (void)!::write(ready_fd, "R", 1);
  phase.store(int(Phase::Hold), std::memory_order_release);
  std::snprintf(label, sizeof(label), "hold[p%u]", proc);
  int64_t hold_start = now_ns();
  while (now_ns() - hold_start < int64_t(o.duration_s * 1e9)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (o.progress && now_ns() >= next_print) {
      print_progress(label, seconds_between(hold_start, now_ns()), sum_counters(counters));
      next_print += kTickNs;
    }
  }
  phase.store(int(Phase::Stop), std::memory_order_release);
  for (auto& t : threads) t.join();
  ProcResult sum;
  Histogram hist;
  for (auto& t : ts) {
    const ProcResult& r = t->result;
    sum.ready += r.ready, sum.failed += r.failed, sum.dropped += r.dropped;
    sum.kicks += r.kicks, sum.pings += r.pings, sum.pongs += r.pongs;
    sum.password_logins += r.password_logins, sum.token_logins += r.token_logins;
    sum.password_s = std::max(sum.password_s, r.password_s);
    sum.token_s = std::max(sum.token_s, r.token_s);
    hist.merge(t->login_hist);
  }
  (void)!::write(result_fd, &sum, sizeof(sum));
  std::vector<uint64_t> buckets(Histogram::kBuckets, 0);
  hist.for_each_bucket(
      [&](uint64_t low, uint64_t, uint64_t count) { buckets[Histogram::bucket_of(low)] = count; });
  size_t bytes = buckets.size() * sizeof(uint64_t), at = 0;
  while (at < bytes) {
    ssize_t n = ::write(result_fd, reinterpret_cast<char*>(buckets.data()) + at, bytes - at);
    if (n <= 0) break;
    at += size_t(n);
  }
  return 0;
}

bool read_full(int fd, void* out, size_t bytes) {
  size_t at = 0;
  while (at < bytes) {
    ssize_t n = ::read(fd, static_cast<char*>(out) + at, bytes - at);
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

}  // namespace

int run_connections(const Options& o, Report* report) {
  sockaddr_in server{};
  if (!parse_host_port(o.server, &server))
    return std::fprintf(stderr, "imbench: bad --server %s\n", o.server.c_str()), 2;
  uint32_t users = (o.connections + o.devices_per_user - 1) / o.devices_per_user;
  double setup_s = 0;
  if (o.setup) {
    SetupResult setup = register_users(server, bench_usernames(o.user_prefix + "n", 0, users),
                                       o.password, o.timeout_s);
    if (!setup.ok) return std::fprintf(stderr, "imbench: %s\n", setup.error.c_str()), 2;
    setup_s = setup.seconds;
  }
  ProcSample cold = sample_process(o.server_pid);
  bool warm = o.server_pid > 0 && Warmup().run(server, std::min(o.timeout_s, 30.0));
  // Settled: the registrations' password hashes free 16 MiB buffers that the allocator returns
  // over seconds (measured: baselines 10 MB high, so "per connection" came out 0 in 2 of 3 runs).
  double baseline_wait_s = 0;
  ProcSample before = settled_sample(o.server_pid, 15.0, &baseline_wait_s);
  uint64_t children_cpu0 = children_cpu_us();
  int ready_pipe[2], result_pipe[2];
  if (pipe(ready_pipe) != 0 || pipe(result_pipe) != 0) return 2;
  int64_t start = now_ns();
  std::vector<pid_t> children;
  for (uint32_t p = 0; p < o.procs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      ::close(ready_pipe[0]);
      ::close(result_pipe[0]);
      _exit(run_slice(o, p, ready_pipe[1], result_pipe[1]));
    }
    children.push_back(pid);
  }
  ::close(ready_pipe[1]);
  ::close(result_pipe[1]);
  char byte;
  for (uint32_t p = 0; p < o.procs; ++p) read_full(ready_pipe[0], &byte, 1);
  double connect_s = seconds_between(start, now_ns());
  // Settled too (the password logins of the connect phase hash as well), while the children
  // still hold every connection: they hold for duration_s from now.
  double held_wait_s = 0;
  ProcSample held = settled_sample(o.server_pid, std::max(0.0, o.duration_s - 1.0), &held_wait_s);
  ProcResult sum;
  Histogram hist;
  std::vector<uint64_t> buckets(Histogram::kBuckets);
  bool complete = true;
  for (uint32_t p = 0; p < o.procs; ++p) {
    ProcResult r;
    if (!read_full(result_pipe[0], &r, sizeof(r)) ||
        !read_full(result_pipe[0], buckets.data(), buckets.size() * sizeof(uint64_t))) {
      complete = false;
      break;
    }
    sum.ready += r.ready, sum.failed += r.failed, sum.dropped += r.dropped;
    sum.kicks += r.kicks, sum.pings += r.pings, sum.pongs += r.pongs;
    sum.password_logins += r.password_logins, sum.token_logins += r.token_logins;
    sum.password_s = std::max(sum.password_s, r.password_s);
    sum.token_s = std::max(sum.token_s, r.token_s);
    for (size_t i = 0; i < buckets.size(); ++i)
      if (buckets[i] != 0) hist.record_n(Histogram::bucket_low(i), buckets[i]);
  }
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  double wall_s = seconds_between(start, now_ns());
  double client_cpu_us = double(children_cpu_us() - children_cpu0);

  Report& r = *report;
  r.add("workload", std::string("connections"));
  r.add("connections", uint64_t(o.connections));
  r.add("procs", uint64_t(o.procs));
  r.add("threads", uint64_t(o.threads));
  r.add("users", uint64_t(users));
  r.add("ready", sum.ready);
  r.add("failed", sum.failed);
  r.add("dropped", sum.dropped);
  r.add("kicks", sum.kicks);
  r.add("errors", sum.failed + sum.dropped + sum.kicks + uint64_t(!complete));
  r.add("password_logins", sum.password_logins);
  r.add("password_logins_per_s", sum.password_s > 0 ? sum.password_logins / sum.password_s : 0);
  r.add("token_logins", sum.token_logins);
  r.add("connect_login_per_s", sum.token_s > 0 ? double(sum.token_logins) / sum.token_s : 0.0);
  r.add("connect_s", connect_s);
  r.add_latency("connect_login", hist);
  r.add("held_s", o.duration_s);
  r.add("pings", sum.pings);
  r.add("pongs", sum.pongs);
  r.add("client_cpu_pct", wall_s > 0 ? client_cpu_us / (wall_s * 1e4) : 0.0);
  if (before.ok && held.ok) {
    r.add("server_rss_kb", held.rss_kb);
    r.add("server_rss_baseline_kb", before.rss_kb);
    r.add("server_anon_kb", held.anon_kb);
    r.add("server_anon_baseline_kb", before.anon_kb);
    r.add("baseline_settle_s", baseline_wait_s);
    r.add("held_settle_s", held_wait_s);
    // What the warm-up added to the baseline: the receive rings' pages, not connections.
    r.add(
        "server_rss_warmup_kb",
        cold.ok ? uint64_t(before.anon_kb - std::min(before.anon_kb, cold.anon_kb)) : uint64_t(0));
    // Per connection: the growth of the server's anonymous memory (RssAnon), which is what
    // connections and sessions take; VmRSS also moves with the page cache's mapped pages.
    const double grown_kb =
        double(held.anon_kb) - double(before.anon_kb);  // negative: something was returned
    r.add("server_rss_per_conn_bytes", sum.ready ? grown_kb * 1024.0 / double(sum.ready) : 0.0);
    r.add("server_cpu_s", double(held.cpu_us - before.cpu_us) / 1e6);
  } else {
    r.add("server_rss_kb", std::string("unknown"));
  }
  r.add("setup_s", setup_s);
  r.add("warmup_ok", uint64_t(warm));
  bool ok = complete && sum.ready == o.connections && sum.dropped == 0 && sum.kicks == 0;
  return ok ? 0 : 1;
}

}  // namespace im::bench
