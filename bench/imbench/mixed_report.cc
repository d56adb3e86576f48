// mixed_report.cc - adds up a mixed run after the join: each receiver's checks against what
// its senders had acknowledged (a message acknowledged and never delivered is lost), the
// per-user counters, the merged histograms, and the summary keys.
#include "bench/imbench/mixed_report.h"

#include <algorithm>

#include "bench/imbench/clock.h"

namespace im::bench {

void MixedTotals::add(const MixedCounters& c) {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  chat_sent += get(c.chat_sent), chat_answered += get(c.chat_answered);
  chat_ok += get(c.chat_ok), chat_delivered += get(c.chat_delivered);
  group_sent += get(c.group_sent), group_answered += get(c.group_answered);
  group_ok += get(c.group_ok), group_delivered += get(c.group_delivered);
  aborted += get(c.aborted), reconnects += get(c.reconnects);
  reconnects_done += get(c.reconnects_done), reconnects_lost += get(c.reconnects_lost);
  pongs += get(c.pongs);
}

namespace {

struct Sums {
  uint64_t lost = 0, dup = 0, reordered = 0, stray = 0, redelivered = 0, gaps = 0, synced = 0;
  uint64_t resent = 0, resent_dup = 0, skipped = 0, idle_held = 0, idle_dropped = 0;
  uint64_t kicks = 0, pings = 0;
  Histogram chat_result, chat_deliver, group_result, group_deliver, reconnect;
};

void add_check(Sums& sums, const DeliveryCheck& check, uint32_t expected) {
  sums.lost += expected - std::min(expected, check.distinct());
  sums.dup += check.dup();
  sums.reordered += check.reordered();
}

// The messages of group g's sender `slot` (1-based) that the server acknowledged.
uint32_t group_acked(const std::vector<const ActiveUser*>& by_index, const MixedPlan& plan,
                     uint32_t g, uint32_t slot) {
  const ActiveUser& sender = *by_index[plan.group_members[g][slot - 1]];
  for (const Sender& s : sender.senders)
    if (s.group && s.slot == slot && sender.memberships[s.membership].group == g)
      return s.results_ok;
  return 0;
}

void add_user(Sums& sums, const ActiveUser& u, const std::vector<const ActiveUser*>& by_index,
              const MixedPlan& plan) {
  if (u.partner != kNoPartner)
    add_check(sums, u.chat_check, by_index[u.partner]->senders[0].results_ok);
  for (const Membership& m : u.memberships)
    for (uint32_t slot = 1; slot <= m.checks.size(); ++slot)
      add_check(sums, m.checks[slot - 1], group_acked(by_index, plan, m.group, slot));
  sums.stray += u.stray, sums.redelivered += u.redelivered, sums.gaps += u.gaps;
  sums.synced += u.synced, sums.resent += u.resent, sums.resent_dup += u.resent_dup;
  for (const Sender& s : u.senders) sums.skipped += s.skipped;
}

Sums add_up(const MixedShared& s, const std::vector<std::unique_ptr<MixedThread>>& threads) {
  Sums sums;
  std::vector<const ActiveUser*> by_index(s.plan.active);
  for (auto& t : threads)
    for (auto& u : t->users) by_index[u->index] = u.get();
  for (auto& t : threads) {
    for (auto& u : t->users) add_user(sums, *u, by_index, s.plan);
    for (auto& d : t->idle) sums.idle_held += d->ready;
    sums.chat_result.merge(t->chat_result_hist);
    sums.chat_deliver.merge(t->chat_deliver_hist);
    sums.group_result.merge(t->group_result_hist);
    sums.group_deliver.merge(t->group_deliver_hist);
    sums.reconnect.merge(t->reconnect_hist);
    sums.idle_dropped += t->idle_dropped, sums.kicks += t->kicks, sums.pings += t->pings;
  }
  return sums;
}

void add_shape(Report& r, const Options& o, const MixedPlan& p) {
  r.add("workload", std::string("mixed"));
  r.add("users", uint64_t(p.connections()));
  r.add("active", uint64_t(p.active));
  r.add("idle", uint64_t(p.idle_conns));
  r.add("idle_accounts", uint64_t(p.idle_accounts));
  r.add("pairs", uint64_t(o.pairs));
  r.add("pair_rate", o.pair_rate);
  r.add("groups", uint64_t(o.groups));
  r.add("members", uint64_t(o.members));
  r.add("senders", uint64_t(o.senders));
  r.add("group_rate", o.group_rate);
  r.add("reconnect_rate", o.reconnect_rate);
  r.add("offline_ms", uint64_t(o.offline_ms));
  r.add("heartbeat_s", o.heartbeat_s);
  r.add("payload", uint64_t(o.payload_bytes));
  r.add("threads", uint64_t(o.threads));
}

// One kind of message: <kind>_sent, _acked, the deliveries and their rate, the latencies.
void add_messages(Report& r, const std::string& kind, uint64_t sent, uint64_t acked,
                  uint64_t delivered, const char* delivered_key, const char* rate_key, double secs,
                  const Histogram& result, const Histogram& deliver) {
  r.add(kind + "_sent", sent);
  r.add(kind + "_acked", acked);
  r.add(delivered_key, delivered);
  r.add(rate_key, secs > 0 ? double(delivered) / secs : 0.0);
  r.add_latency(kind + "_send_result", result);
  r.add_latency(kind + "_send_deliver", deliver);
}

void add_activity(Report& r, const MixedTotals& t, const Sums& sums, double secs) {
  r.add("duration_s", secs);
  add_messages(r, "chat", t.chat_sent, t.chat_ok, t.chat_delivered, "chat_delivered",
               "chat_msgs_per_s", secs, sums.chat_result, sums.chat_deliver);
  add_messages(r, "group", t.group_sent, t.group_ok, t.group_delivered, "group_deliveries",
               "group_deliveries_per_s", secs, sums.group_result, sums.group_deliver);
  r.add("reconnects", t.reconnects_done);
  r.add("reconnects_per_s", secs > 0 ? double(t.reconnects_done) / secs : 0.0);
  r.add_latency("reconnect_sync", sums.reconnect);
  const std::pair<const char*, uint64_t> counts[] = {{"synced", sums.synced},
                                                     {"resent", sums.resent},
                                                     {"resent_dup", sums.resent_dup},
                                                     {"redelivered", sums.redelivered},
                                                     {"gaps", sums.gaps},
                                                     {"skipped_sends", sums.skipped},
                                                     {"idle_held", sums.idle_held},
                                                     {"idle_dropped", sums.idle_dropped},
                                                     {"pings", sums.pings},
                                                     {"pongs", t.pongs}};
  for (const auto& [key, value] : counts) r.add(key, value);
}

}  // namespace

int report_mixed(const MixedShared& s, const std::vector<std::unique_ptr<MixedThread>>& threads,
                 const std::vector<ThreadCounters>& counters,
                 const std::vector<MixedCounters>& mixed, const MixedWindow& w,
                 const MixedSamples& samples, const MixedPhaseTimes& times, Report* report) {
  MixedTotals t;
  for (const MixedCounters& c : mixed) t.add(c);
  Sums sums = add_up(s, threads);
  CounterTotals c = sum_counters(counters);
  // Reconnects that never caught up and sends never answered (with their link alive).
  uint64_t unfinished =
      t.reconnects - std::min(t.reconnects, t.reconnects_done + t.reconnects_lost);
  uint64_t sent = t.chat_sent + t.group_sent;
  uint64_t unanswered = sent - std::min(sent, t.chat_answered + t.group_answered + t.aborted);
  uint64_t errors = c.errors + sums.stray + unfinished + unanswered;
  Report& r = *report;
  add_shape(r, s.o, s.plan);
  add_activity(r, t, sums, seconds_between(w.start_ns, w.end_ns));
  r.add("lost", sums.lost);
  r.add("dup", sums.dup);
  r.add("reordered", sums.reordered);
  r.add("stray", sums.stray);
  r.add("errors", errors);
  r.add("kicks", sums.kicks);
  r.add("timed_out", uint64_t(w.timed_out));
  double wall_us = double(samples.at1_ns - samples.at0_ns) / 1000.0;
  add_cpu_usage(r, samples.server0, samples.server1, double(samples.cpu1_us - samples.cpu0_us),
                wall_us, 0, "");
  if (samples.server0.ok && samples.server1.ok)
    r.add("server_cpu_us", samples.server1.cpu_us - samples.server0.cpu_us);
  r.add("setup_s", times.setup_s);
  r.add("login_s", times.login_s);
  r.add("group_setup_s", times.groups_s);
  bool active = t.chat_ok > 0 && (s.o.groups == 0 || t.group_ok > 0);
  bool correct = sums.lost == 0 && sums.dup == 0 && sums.reordered == 0 && errors == 0 &&
                 !w.timed_out && active && sums.idle_held == s.plan.idle_conns;
  return correct ? 0 : 1;
}

}  // namespace im::bench
