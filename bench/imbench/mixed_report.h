// mixed_report.h - the totals of a mixed run and its report: per activity (1:1, groups,
// reconnects, idle connections) the counts, rates and latencies, then the correctness sums
// (lost, dup, reordered per conversation: a pair's direction, or a group sender) and CPU.
// Main thread only; report_mixed runs after the loop threads were joined.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/imbench/mixed_thread.h"
#include "bench/imbench/proc_stats.h"
#include "bench/imbench/report.h"

namespace im::bench {

// A snapshot of every thread's MixedCounters, added up.
struct MixedTotals {
  uint64_t chat_sent = 0, chat_answered = 0, chat_ok = 0, chat_delivered = 0;
  uint64_t group_sent = 0, group_answered = 0, group_ok = 0, group_delivered = 0;
  uint64_t aborted = 0, reconnects = 0, reconnects_done = 0, reconnects_lost = 0, pongs = 0;
  void add(const MixedCounters& c);
};

struct MixedWindow {
  int64_t start_ns = 0;  // the schedules started
  int64_t end_ns = 0;    // the last result, delivery or caught-up reconnect
  bool timed_out = false;
};

struct MixedSamples {
  ProcSample server0, server1;  // around the measured phase (run and drain)
  uint64_t cpu0_us = 0, cpu1_us = 0;
  int64_t at0_ns = 0, at1_ns = 0;
};

struct MixedPhaseTimes {
  double setup_s = 0, login_s = 0, groups_s = 0;
};

// Fills the report; returns the exit code (0 = correct and complete).
int report_mixed(const MixedShared& s, const std::vector<std::unique_ptr<MixedThread>>& threads,
                 const std::vector<ThreadCounters>& counters,
                 const std::vector<MixedCounters>& mixed, const MixedWindow& w,
                 const MixedSamples& samples, const MixedPhaseTimes& times, Report* report);

}  // namespace im::bench
