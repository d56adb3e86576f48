// group_fanout.cc - the group-fanout workload: G groups that share the same K member users
// (registering a user costs one scrypt, so K users serve every group), each user online with
// D connections. S senders per group send M messages each, closed loop (window) or open
// loop (--rate, latency from the intended send time). Every connection checks, per group,
// that it receives every group_seq of the run exactly once and in order (delivery_check.h);
// a delivery is one GroupPush entry read by one connection.
// Threads: connections are spread round-robin over --threads loop threads
// (group_fanout_thread.h); the main thread sequences the phases (register, login, create
// the groups, arm the checks, run) and builds the report.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/imbench/clock.h"
#include "bench/imbench/group_fanout_thread.h"
#include "bench/imbench/group_setup.h"
#include "bench/imbench/proc_stats.h"
#include "bench/imbench/user_setup.h"
#include "bench/imbench/workloads.h"

namespace im::bench {

namespace {

constexpr uint32_t kOpenLoopMaxInflight = 4096;  // per sender; the schedule stalls beyond
constexpr int64_t kTickNs = 1'000'000'000;
constexpr uint32_t kFdReserve = 64;  // files besides the connections (setup, epoll, logs)

struct RunWindow {
  int64_t start_ns = 0, end_ns = 0;
  bool timed_out = false;
};

// The measured phase: until every send is answered and every connection has every
// acknowledged message, or no progress for drain_timeout_s, or timeout_s.
RunWindow wait_run_done(FanoutShared& s, std::vector<ThreadCounters>& counters,
                        std::vector<std::unique_ptr<FanoutThread>>& threads) {
  RunWindow w;
  w.start_ns = now_ns();
  s.start_ns.store(w.start_ns);
  s.phase.store(int(FanoutPhase::Run), std::memory_order_release);
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
  for (auto& th : threads) w.end_ns = std::max(w.end_ns, th->activity.last_ns());
  if (w.end_ns <= w.start_ns) w.end_ns = now_ns();
  return w;
}

struct Correctness {
  uint64_t lost = 0, dup = 0, reordered = 0, stray = 0, deliveries = 0, expected = 0;
};

// Every connection must have each group's acknowledged group_seqs (1..ok[g] of the run).
Correctness check_deliveries(const FanoutShared& s,
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

// Connection i is device i / users of user i % users, on thread i % threads. GroupSender j of
// group g is the first device of user (1 + g * senders + j) % users.
void assign(FanoutShared& s, std::vector<std::unique_ptr<FanoutThread>>& threads) {
  uint32_t ring = s.o.rate > 0 ? kOpenLoopMaxInflight : std::max<uint32_t>(64, s.o.window * 4);
  std::vector<MemberConn*> by_index(s.conns);
  for (uint32_t i = 0; i < s.conns; ++i) {
    auto d = std::make_unique<MemberConn>();
    d->index = i;
    d->user = i % s.users;
    by_index[i] = d.get();
    threads[i % threads.size()]->devices.push_back(std::move(d));
  }
  uint32_t id = 0;
  for (uint32_t g = 0; g < s.o.groups; ++g) {
    for (uint32_t j = 0; j < s.o.senders; ++j) {
      uint32_t user = (1 + g * s.o.senders + j) % s.users;
      auto sender = std::make_unique<GroupSender>(++id, g, ring);
      sender->conn = by_index[user];
      by_index[user]->senders.push_back(sender.get());
      threads[user % threads.size()]->senders.push_back(std::move(sender));
    }
  }
}

void add_results(Report& r, const Options& o, const FanoutShared& s, const CounterTotals& totals,
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

// Registers the users, checks the fd budget and starts the loop threads' logins.
bool prepare(FanoutShared& s, double* setup_s) {
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
bool setup_groups(FanoutShared& s, double* seconds) {
  std::vector<uint64_t> members(s.uids.begin() + 1, s.uids.end());
  GroupSetupResult g = create_groups(s.server, s.names[0], s.o.password, s.tokens[0], members,
                                     s.o.groups, s.o.user_prefix + "grp", s.o.timeout_s);
  if (!g.ok) return std::fprintf(stderr, "imbench: %s\n", g.error.c_str()), false;
  *seconds = g.seconds;
  s.gids = g.gids;
  s.base_seqs = g.base_seqs;
  return true;
}

// Writes --token-file after the password logins (not when the tokens came from it).
bool save_tokens_once(const Options& o, bool had_tokens, const std::vector<std::string>& names,
                      const std::vector<std::string>& tokens) {
  if (o.token_file.empty() || had_tokens || save_tokens(o.token_file, names, tokens)) return true;
  std::fprintf(stderr, "imbench: cannot write %s\n", o.token_file.c_str());
  return true;  // the run itself is still valid
}

bool wait_armed(FanoutShared& s, uint32_t threads) {
  s.phase.store(int(FanoutPhase::Arm), std::memory_order_release);
  int64_t start = now_ns();
  while (s.armed.load(std::memory_order_acquire) < threads) {
    if (now_ns() - start > int64_t(s.o.timeout_s * 1e9)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

int run_group_fanout(const Options& o, Report* report) {
  FanoutShared s(o);
  s.users = o.members;
  s.conns = o.members * o.member_devices;
  s.senders = o.groups * o.senders;
  s.names = bench_usernames(o.user_prefix + "g", 0, s.users);
  s.uids.assign(s.users, 0);
  bool had_tokens = !o.token_file.empty() && load_tokens(o.token_file, s.names, &s.tokens);
  if (!had_tokens) s.tokens.assign(s.users, "");
  s.nonce = make_run_nonce();
  double setup_s = 0, login_s = 0, groups_s = 0;
  if (!prepare(s, &setup_s)) return 2;
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<std::unique_ptr<FanoutThread>> threads;
  for (uint32_t t = 0; t < o.threads; ++t)
    threads.push_back(std::make_unique<FanoutThread>(s, counters[t]));
  assign(s, threads);
  std::vector<std::thread> running;
  for (auto& t : threads) running.emplace_back([&t] { t->run(); });

  bool ready = wait_logged_in(o, counters, s.conns, &login_s) &&
               save_tokens_once(o, had_tokens, s.names, s.tokens) && setup_groups(s, &groups_s) &&
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
  s.phase.store(int(FanoutPhase::Stop), std::memory_order_release);
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
  add_cpu_usage(r, server0, server1, double(cpu1 - cpu0), double(now_ns() - w.start_ns) / 1000.0,
                c.deliveries, "delivery");
  r.add("kicks", kicks);
  r.add("setup_s", setup_s);
  r.add("login_s", login_s);
  r.add("group_setup_s", groups_s);
  bool correct = c.lost == 0 && c.dup == 0 && c.reordered == 0 && errors == 0 && !w.timed_out &&
                 totals.acked_ok == uint64_t(s.senders) * o.messages;
  return correct ? 0 : 1;
}

}  // namespace im::bench
