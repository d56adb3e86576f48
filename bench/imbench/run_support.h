// run_support.h - what every workload shares: per-thread progress counters that the main
// thread reads once a second (relaxed atomics, one cache line per thread), the progress
// line on stderr, the login wait, the run nonce, the file-descriptor limit, and the choice
// of local source addresses.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/imbench/histogram.h"
#include "bench/imbench/options.h"

namespace im::bench {

// Written by one loop thread, read by the main thread.
struct alignas(64) ThreadCounters {
  std::atomic<uint64_t> sent{0};       // requests written
  std::atomic<uint64_t> acked{0};      // results received
  std::atomic<uint64_t> acked_ok{0};   // results with code Ok
  std::atomic<uint64_t> delivered{0};  // distinct messages received by their receiver
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> ready{0};   // connections logged in
  std::atomic<uint64_t> failed{0};  // connections that failed to connect or log in
  std::atomic<uint64_t> closed{0};  // connections lost after login
  std::atomic<uint64_t> p99_us{0};  // p99 of the last second (interval histogram)
};

struct CounterTotals {
  uint64_t sent = 0, acked = 0, acked_ok = 0, delivered = 0, errors = 0;
  uint64_t ready = 0, failed = 0, closed = 0, p99_us = 0;
};
CounterTotals sum_counters(const std::vector<ThreadCounters>& counters);

// A loop thread's progress in the measured phase: the time of its last result or delivery
// (where the run ends) and, once a second, the p99 of the latencies recorded since then
// (ThreadCounters::p99_us, for the progress line). Written by the loop thread; last_ns()
// may be read by any thread.
class RunActivity {
 public:
  void record(uint64_t latency_us) { interval_.record(latency_us); }
  void progressed() { progressed_ = true; }
  // Called once per loop turn.
  void end_turn(int64_t now_ns, ThreadCounters& counters);
  int64_t last_ns() const { return last_ns_.load(std::memory_order_relaxed); }

 private:
  Histogram interval_;
  bool progressed_ = false;
  int64_t next_tick_ns_ = 0;
  std::atomic<int64_t> last_ns_{0};
};

// "[  3.0s] sent=... acked=... delivered=... errors=... p99_us=..." on stderr.
void print_progress(const char* phase, double elapsed_s, const CounterTotals& totals);

// The login phase: sleeps until `expected` connections are ready or failed (printing
// progress once a second unless --no-progress), bounded by timeout_s. True when all are
// ready; *seconds = how long it took.
bool wait_logged_in(const Options& o, const std::vector<ThreadCounters>& counters,
                    uint64_t expected, double* seconds);

// The high 32 bits of every client_msg_id of a run (never 0), so a run ignores messages
// that earlier runs left in the same inboxes.
uint64_t make_run_nonce();

// Runs --run-start-cmd / --run-end-cmd (when not empty) with /bin/sh and waits for it;
// a failure is reported on stderr but does not stop the run.
void run_hook(const std::string& command);

// --token-file: one "username token" line per user. load_tokens fills tokens (parallel to
// names; "" where the file has none) and returns false when the file does not exist.
bool load_tokens(const std::string& path, const std::vector<std::string>& names,
                 std::vector<std::string>* tokens);
bool save_tokens(const std::string& path, const std::vector<std::string>& names,
                 const std::vector<std::string>& tokens);

// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
uint64_t raise_fd_limit();

// Local addresses to connect from: --source-addrs, or 127.0.0.2.. with --spread-sources
// (each gives another 28k ephemeral ports), or none (the kernel picks).
class SourceAddrs {
 public:
  bool init(const Options& options, std::string* error);
  // nullptr when the kernel should pick.
  const sockaddr_in* for_connection(uint64_t index) const;

 private:
  std::vector<sockaddr_in> addrs_;
};

}  // namespace im::bench
