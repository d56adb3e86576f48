// mixed.cc - the `mixed` workload, a compressed day of a chat service: most users idle with
// heartbeats, some pairs chatting 1:1, some groups talking, some users dropping off and
// coming back (token login, then Sync of the inbox and GroupSync of each group from their
// cursors), all at once for --duration seconds (see mixed_plan.h for who does what).
// The main thread sequences the phases (register, log in, create the groups, arm, run,
// drain), prints progress once a second and hands the totals to mixed_report.cc; the loop
// threads (mixed_thread.h) do the rest.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/imbench/clock.h"
#include "bench/imbench/group_setup.h"
#include "bench/imbench/mixed_report.h"
#include "bench/imbench/proc_stats.h"
#include "bench/imbench/user_setup.h"
#include "bench/imbench/workloads.h"

namespace im::bench {

namespace {

constexpr int64_t kTickNs = 1'000'000'000;
constexpr uint32_t kFdReserve = 64;  // files besides the connections (setup, epoll, logs)

using Threads = std::vector<std::unique_ptr<MixedThread>>;

// Parses the address, checks the fd budget, loads --token-file and registers the users.
bool prepare(MixedShared& s, bool* had_tokens, double* setup_s) {
  const Options& o = s.o;
  std::string error;
  if (!parse_host_port(o.server, &s.server)) error = "bad --server " + o.server;
  if (error.empty()) s.sources.init(o, &error);
  uint64_t fds = raise_fd_limit();
  if (error.empty() && fds < uint64_t(s.plan.connections()) + kFdReserve)
    error = "open-file limit " + std::to_string(fds) + " is below --users " +
            std::to_string(s.plan.connections()) + " + " + std::to_string(kFdReserve);
  if (!error.empty()) return std::fprintf(stderr, "imbench: %s\n", error.c_str()), false;
  std::vector<std::string> names = s.plan.account_names();
  *had_tokens = !o.token_file.empty() && load_tokens(o.token_file, names, &s.tokens);
  if (!*had_tokens) s.tokens.assign(names.size(), "");
  if (!o.setup) return true;
  SetupResult setup = register_users(s.server, names, o.password, o.timeout_s);
  if (!setup.ok) return std::fprintf(stderr, "imbench: %s\n", setup.error.c_str()), false;
  *setup_s = setup.seconds;
  return true;
}

// Active user i runs on thread i % threads; idle account a (all its devices) on a % threads.
void assign(const MixedShared& s, Threads& threads) {
  const MixedPlan& p = s.plan;
  size_t n = threads.size();
  for (uint32_t i = 0; i < p.active; ++i) {
    uint32_t partner = i < p.chatters ? i ^ 1u : kNoPartner;
    auto u = std::make_unique<ActiveUser>(i, partner, p.chat_max_seq);
    u->active = true;
    if (partner != kNoPartner) u->senders.emplace_back(false, 0, 0, p.chat_max_seq);
    for (uint32_t g : p.user_groups[i]) {
      u->memberships.emplace_back(g);
      uint32_t slot = p.sender_slot(g, i, s.o.senders);
      uint32_t membership = uint32_t(u->memberships.size() - 1);
      if (slot != 0) u->senders.emplace_back(true, membership, slot, p.group_max_seq);
    }
    threads[i % n]->users.push_back(std::move(u));
  }
  for (uint32_t c = 0; c < p.idle_conns; ++c) {
    auto d = std::make_unique<IdleConn>();
    d->account = c / s.o.devices_per_user;
    d->local = d->account / uint32_t(n);
    d->device = c % s.o.devices_per_user;
    threads[d->account % n]->idle.push_back(std::move(d));
  }
}

// Creates each group as its first member (with that user's token) and arms the threads.
bool setup_groups(MixedShared& s, uint32_t threads, double* seconds) {
  int64_t start = now_ns();
  for (uint32_t g = 0; g < s.o.groups; ++g) {
    const std::vector<uint32_t>& members = s.plan.group_members[g];
    std::vector<uint64_t> uids;
    for (size_t j = 1; j < members.size(); ++j) uids.push_back(s.uids[members[j]]);
    std::string name_prefix = s.o.user_prefix + "mixgrp" + std::to_string(g) + "-";
    GroupSetupResult r = create_groups(s.server, s.plan.active_names[members[0]], s.o.password,
                                       s.tokens[members[0]], uids, 1, name_prefix, s.o.timeout_s);
    if (!r.ok) return std::fprintf(stderr, "imbench: %s\n", r.error.c_str()), false;
    s.gids.push_back(r.gids[0]);
    s.base_seqs.push_back(r.base_seqs[0]);
  }
  *seconds = seconds_between(start, now_ns());
  s.phase.store(int(MixedPhase::Arm), std::memory_order_release);
  while (s.armed.load(std::memory_order_acquire) < threads) {
    if (now_ns() - start > int64_t(s.o.timeout_s * 1e9)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

MixedTotals sum_live(const std::vector<MixedCounters>& counters) {
  MixedTotals t;
  for (const MixedCounters& c : counters) t.add(c);
  return t;
}

// Everything sent is answered (or lost with its link), every reconnect is over and every
// acknowledged message reached its receivers (1 for 1:1, `members` for a group).
bool drained(const MixedTotals& t, uint32_t members) {
  return t.chat_answered + t.group_answered + t.aborted >= t.chat_sent + t.group_sent &&
         t.reconnects_done + t.reconnects_lost >= t.reconnects && t.chat_delivered >= t.chat_ok &&
         t.group_delivered >= t.group_ok * members;
}

void print_mixed_progress(const char* phase, double elapsed_s, const CounterTotals& c,
                          const MixedTotals& t) {
  std::fprintf(stderr,
               "[%6.1fs] %s ready=%lu chat=%lu/%lu/%lu group=%lu/%lu/%lu reconnects=%lu/%lu "
               "errors=%lu p99_us=%lu\n",
               elapsed_s, phase, (unsigned long)c.ready, (unsigned long)t.chat_sent,
               (unsigned long)t.chat_ok, (unsigned long)t.chat_delivered,
               (unsigned long)t.group_sent, (unsigned long)t.group_ok,
               (unsigned long)t.group_delivered, (unsigned long)t.reconnects_done,
               (unsigned long)t.reconnects, (unsigned long)c.errors, (unsigned long)c.p99_us);
}

// The measured phase: the schedules run for --duration, then the drain waits until
// drained(), or drain_timeout_s without progress, or timeout_s in all.
MixedWindow run_and_drain(MixedShared& s, std::vector<ThreadCounters>& counters,
                          std::vector<MixedCounters>& mixed, Threads& threads) {
  MixedWindow w;
  w.start_ns = now_ns();
  s.start_ns.store(w.start_ns, std::memory_order_release);
  s.phase.store(int(MixedPhase::Run), std::memory_order_release);
  int64_t run_end = w.start_ns + int64_t(s.o.duration_s * 1e9);
  int64_t next_print = w.start_ns + kTickNs, last_change = run_end;
  uint64_t last_seen = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    int64_t now = now_ns();
    MixedTotals t = sum_live(mixed);
    bool draining = now >= run_end;
    if (draining) s.phase.store(int(MixedPhase::Drain), std::memory_order_release);
    uint64_t seen = t.chat_answered + t.group_answered + t.chat_delivered + t.group_delivered +
                    t.reconnects_done;
    if (seen != last_seen) {
      last_seen = seen;
      last_change = std::max(now, run_end);
    }
    if (draining && drained(t, s.o.members)) break;
    if (draining && now - last_change > int64_t(s.o.drain_timeout_s * 1e9)) break;
    if (now - w.start_ns > int64_t(s.o.timeout_s * 1e9)) {
      w.timed_out = true;
      break;
    }
    if (s.o.progress && now >= next_print) {
      print_mixed_progress(draining ? "drain" : "run", seconds_between(w.start_ns, now),
                           sum_counters(counters), t);
      next_print += kTickNs;
    }
  }
  for (auto& t : threads) w.end_ns = std::max(w.end_ns, t->activity.last_ns());
  if (w.end_ns <= w.start_ns) w.end_ns = now_ns();
  return w;
}

}  // namespace

int run_mixed(const Options& o, Report* report) {
  MixedPlan plan;
  std::string error;
  if (!make_mixed_plan(o, &plan, &error))
    return std::fprintf(stderr, "imbench: %s\n", error.c_str()), 2;
  MixedShared s(o, plan);
  s.nonce = make_run_nonce();
  s.uids.assign(plan.active, 0);
  MixedPhaseTimes times;
  bool had_tokens = false;
  if (!prepare(s, &had_tokens, &times.setup_s)) return 2;
  std::vector<ThreadCounters> counters(o.threads);
  std::vector<MixedCounters> mixed(o.threads);
  Threads threads;
  for (uint32_t t = 0; t < o.threads; ++t)
    threads.push_back(std::make_unique<MixedThread>(s, counters[t], mixed[t]));
  assign(s, threads);
  std::vector<std::thread> running;
  for (auto& t : threads) running.emplace_back([&t] { t->run(); });

  bool ready = wait_logged_in(o, counters, plan.connections(), &times.login_s);
  if (ready && !had_tokens && !o.token_file.empty() &&
      !save_tokens(o.token_file, plan.account_names(), s.tokens))
    std::fprintf(stderr, "imbench: cannot write %s\n", o.token_file.c_str());
  ready = ready && setup_groups(s, o.threads, &times.groups_s);
  MixedWindow w;
  MixedSamples samples;
  if (ready) {
    run_hook(o.run_start_cmd);
    samples.server0 = sample_process(o.server_pid);
    samples.cpu0_us = self_cpu_us();
    samples.at0_ns = now_ns();
    w = run_and_drain(s, counters, mixed, threads);
    samples.at1_ns = now_ns();
    samples.cpu1_us = self_cpu_us();
    samples.server1 = sample_process(o.server_pid);
    run_hook(o.run_end_cmd);
  }
  s.phase.store(int(MixedPhase::Stop), std::memory_order_release);
  for (auto& t : running) t.join();
  if (!ready) return std::fprintf(stderr, "imbench: setup failed (see above)\n"), 2;
  return report_mixed(s, threads, counters, mixed, w, samples, times, report);
}

}  // namespace im::bench
