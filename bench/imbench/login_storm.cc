// login_storm.cc - the `login-storm` workload: logins per second, first with passwords
// (each costs the server one scrypt) then with tokens (a signature check). --concurrency
// slots each loop connect -> Hello -> LoginOk -> close (RST, so no TIME_WAIT piles up on
// the client) for --duration seconds per phase. Every user logs in with its password at
// least once, which yields the tokens of the second phase. Between the phases every
// password login in flight is finished first, so the token phase's server CPU holds no
// scrypt (each one costs ~25 ms, 64 of them would add ~40 us to every token login).
// Threads: slots and users are split over --threads loops; user u belongs to thread
// u % threads, so each token is written and read by one thread.
#include <algorithm>
#include <atomic>
#include <cstdio>
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

constexpr int64_t kPollNs = 5'000'000;
constexpr int64_t kTickNs = 1'000'000'000;

enum class Phase : int { Password, Drain, Token, Stop };

struct Slot {
  Conn conn;
  uint32_t index = 0;
  uint32_t user = 0;  // index into the thread's users
  bool with_token = false;
  bool parked = false;  // idle between the phases (Drain), started again by Token
  int64_t started_ns = 0;
};

class StormThread final : public ConnHandler {
 public:
  StormThread(const Options& o, const sockaddr_in& server, const SourceAddrs& sources,
              std::atomic<int>& phase, ThreadCounters& c)
      : o_(o), server_(server), sources_(sources), phase_(phase), c_(c) {}

  std::vector<std::string> names;  // this thread's users
  std::vector<std::string> tokens;
  std::vector<std::unique_ptr<Slot>> slots;
  Histogram password_hist, token_hist;
  uint64_t password_logins = 0, token_logins = 0, failures = 0;
  std::atomic<uint64_t> users_with_token{0};
  std::atomic<uint32_t> in_flight{0};  // logins started and not yet answered or failed

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void start(Slot& s);
  void restart(Slot& s);
  void start_parked();

  const Options& o_;
  const sockaddr_in& server_;
  const SourceAddrs& sources_;
  std::atomic<int>& phase_;
  ThreadCounters& c_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{512};
  uint32_t next_user_ = 0;
  uint64_t connections_ = 0;
};

void StormThread::run() {
  tokens.assign(names.size(), "");
  for (auto& s : slots) start(*s);
  while (phase_.load(std::memory_order_acquire) != int(Phase::Stop)) {
    start_parked();
    loop_.poll(kPollNs);
    loop_.flush();
  }
  for (auto& s : slots) s->conn.close(true);
}

void StormThread::start(Slot& s) {
  if (names.empty()) return;
  s.conn.user = &s;
  int phase = phase_.load(std::memory_order_acquire);
  if (phase == int(Phase::Drain)) {
    s.parked = true;
    return;
  }
  s.parked = false;
  s.with_token = phase == int(Phase::Token);
  // Password phase: users without a token first, so every user gets one.
  s.user = next_user_++ % uint32_t(names.size());
  s.started_ns = now_ns();
  c_.sent.fetch_add(1, std::memory_order_relaxed);
  if (!s.conn.connect(loop_, *this, server_, sources_.for_connection(connections_++))) {
    ++failures;
    c_.errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  in_flight.fetch_add(1, std::memory_order_release);
}

void StormThread::restart(Slot& s) {
  s.conn.close(true);
  in_flight.fetch_sub(1, std::memory_order_release);
  if (phase_.load(std::memory_order_acquire) != int(Phase::Stop)) start(s);
}

void StormThread::start_parked() {
  if (phase_.load(std::memory_order_acquire) != int(Phase::Token)) return;
  for (auto& s : slots) {
    if (s->parked) start(*s);
  }
}

void StormThread::on_connected(Conn& conn) {
  Slot& s = *static_cast<Slot*>(conn.user);
  std::string device_id = "storm" + std::to_string(s.index);
  im::client::HelloParams hello;
  hello.device_id = device_id;
  hello.platform = proto::Platform::Bot;
  if (s.with_token) {
    hello.token = tokens[s.user];
  } else {
    hello.username = names[s.user];
    hello.password = o_.password;
  }
  conn.write(im::client::build_hello(fbb_, 1, hello));
}

void StormThread::on_frame(Conn& conn, const proto::Frame& frame) {
  Slot& s = *static_cast<Slot*>(conn.user);
  if (frame.body_type() != proto::Body::Result) return;  // pushes, if any, are ignored
  auto login = im::client::decode_login_ok(frame);
  if (!login.ok()) {
    std::fprintf(stderr, "imbench: login failed: %s\n", login.status().to_string().c_str());
    ++failures;
    c_.errors.fetch_add(1, std::memory_order_relaxed);
    return restart(s);
  }
  uint64_t latency_us = uint64_t(now_ns() - s.started_ns) / 1000;
  if (s.with_token) {
    ++token_logins;
    token_hist.record(latency_us);
  } else {
    ++password_logins;
    password_hist.record(latency_us);
    if (tokens[s.user].empty()) users_with_token.fetch_add(1, std::memory_order_release);
    tokens[s.user] = login->token;
  }
  c_.acked.fetch_add(1, std::memory_order_relaxed);
  restart(s);
}

void StormThread::on_closed(Conn& conn, const char* why) {
  Slot& s = *static_cast<Slot*>(conn.user);
  std::fprintf(stderr, "imbench: storm connection: %s\n", why);
  ++failures;
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  in_flight.fetch_sub(1, std::memory_order_release);
  if (phase_.load(std::memory_order_acquire) != int(Phase::Stop)) start(s);
}

struct PhaseSample {
  int64_t at_ns = 0;
  ProcSample server;
  uint64_t password = 0, token = 0;
};

uint64_t total_users_with_token(std::vector<std::unique_ptr<StormThread>>& ts) {
  uint64_t n = 0;
  for (auto& t : ts) n += t->users_with_token.load(std::memory_order_acquire);
  return n;
}

uint64_t total_in_flight(std::vector<std::unique_ptr<StormThread>>& ts) {
  uint64_t n = 0;
  for (auto& t : ts) n += t->in_flight.load(std::memory_order_acquire);
  return n;
}

// Sleeps until `seconds` passed and done() holds (or timeout_s), printing progress.
template <typename Done>
void wait_phase(const Options& o, const char* label, double seconds,
                std::vector<ThreadCounters>& counters, Done&& done) {
  int64_t start = now_ns(), next_print = start + kTickNs;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    int64_t now = now_ns();
    if ((now - start >= int64_t(seconds * 1e9) && done()) ||
        now - start > int64_t(o.timeout_s * 1e9))
      return;
    if (o.progress && now >= next_print) {
      print_progress(label, seconds_between(start, now), sum_counters(counters));
      next_print += kTickNs;
    }
  }
}

}  // namespace

int run_login_storm(const Options& o, Report* report) {
  sockaddr_in server{};
  SourceAddrs sources;
  std::string error;
  if (!parse_host_port(o.server, &server) || !sources.init(o, &error))
    return std::fprintf(stderr, "imbench: bad --server or --source-addrs\n"), 2;
  raise_fd_limit();
  std::vector<std::string> names = bench_usernames(o.user_prefix + "s", 0, o.users);
  if (o.setup) {
    SetupResult setup = register_users(server, names, o.password, o.timeout_s);
    if (!setup.ok) return std::fprintf(stderr, "imbench: %s\n", setup.error.c_str()), 2;
  }
  std::atomic<int> phase{int(Phase::Password)};
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<StormThread>> ts;
  for (uint32_t t = 0; t < o.threads; ++t)
    ts.push_back(std::make_unique<StormThread>(o, server, sources, phase, counters[t]));
  for (uint32_t u = 0; u < o.users; ++u) ts[u % o.threads]->names.push_back(names[u]);
  for (uint32_t k = 0; k < o.concurrency; ++k) {
    auto slot = std::make_unique<Slot>();
    slot->index = k;
    ts[k % o.threads]->slots.push_back(std::move(slot));
  }
  auto logins = [&](PhaseSample* p) {
    p->at_ns = now_ns();
    p->server = sample_process(o.server_pid);
  };
  PhaseSample p0, p1, p2;
  uint64_t cpu0 = self_cpu_us();
  logins(&p0);
  std::vector<std::thread> threads;
  for (auto& t : ts) threads.emplace_back([&t] { t->run(); });
  wait_phase(o, "password", o.duration_s, counters,
             [&] { return total_users_with_token(ts) >= o.users; });
  // The password logins still in flight finish (their scrypt included) before the token
  // phase starts, so none of them is charged to it.
  phase.store(int(Phase::Drain), std::memory_order_release);
  wait_phase(o, "drain", 0, counters, [&] { return total_in_flight(ts) == 0; });
  run_hook(o.run_start_cmd);  // the token phase is the measured one (e.g. a profiler)
  phase.store(int(Phase::Token), std::memory_order_release);
  logins(&p1);
  uint64_t token_cpu0 = self_cpu_us();
  wait_phase(o, "token", o.duration_s, counters, [] { return true; });
  phase.store(int(Phase::Stop), std::memory_order_release);
  logins(&p2);
  uint64_t token_cpu1 = self_cpu_us();
  run_hook(o.run_end_cmd);
  for (auto& t : threads) t.join();
  uint64_t cpu1 = self_cpu_us();

  Histogram password_hist, token_hist;
  uint64_t password = 0, token = 0, failures = 0;
  for (auto& t : ts) {
    password_hist.merge(t->password_hist);
    token_hist.merge(t->token_hist);
    password += t->password_logins;
    token += t->token_logins;
    failures += t->failures;
  }
  double password_s = seconds_between(p0.at_ns, p1.at_ns);
  double token_s = seconds_between(p1.at_ns, p2.at_ns);
  Report& r = *report;
  r.add("workload", std::string("login-storm"));
  r.add("users", uint64_t(o.users));
  r.add("concurrency", uint64_t(o.concurrency));
  r.add("threads", uint64_t(o.threads));
  r.add("password_logins", password);
  r.add("password_logins_per_s", password_s > 0 ? double(password) / password_s : 0.0);
  r.add("token_logins", token);
  r.add("token_logins_per_s", token_s > 0 ? double(token) / token_s : 0.0);
  r.add("errors", failures);
  r.add_latency("password_login", password_hist);
  r.add_latency("token_login", token_hist);
  double wall_us = double(p2.at_ns - p0.at_ns) / 1000.0;
  r.add("client_cpu_pct", wall_us > 0 ? 100.0 * double(cpu1 - cpu0) / wall_us : 0.0);
  double token_client_cpu = double(token_cpu1 - token_cpu0);
  r.add("client_cpu_us_per_token_login", token ? token_client_cpu / double(token) : 0.0);
  r.add("client_cpu_pct_token_phase",
        token_s > 0 ? 100.0 * token_client_cpu / (token_s * 1e6) : 0.0);
  if (p0.server.ok && p1.server.ok && p2.server.ok) {
    double pw_cpu = double(p1.server.cpu_us - p0.server.cpu_us);
    double tk_cpu = double(p2.server.cpu_us - p1.server.cpu_us);
    r.add("server_cpu_ms_per_password_login", password ? pw_cpu / 1000.0 / double(password) : 0);
    r.add("server_cpu_us_per_token_login", token ? tk_cpu / double(token) : 0.0);
    r.add("server_rss_kb", p2.server.rss_kb);
  } else {
    r.add("server_rss_kb", std::string("unknown"));
  }
  return failures == 0 && token > 0 && password > 0 ? 0 : 1;
}

}  // namespace im::bench
