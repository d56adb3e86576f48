// run_support.h - what every workload shares: per-thread progress counters that the main
// thread reads once a second (relaxed atomics, one cache line per thread), the progress
// line on stderr, the file-descriptor limit, and the choice of local source addresses.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

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

// "[  3.0s] sent=... acked=... delivered=... errors=... p99_us=..." on stderr.
void print_progress(const char* phase, double elapsed_s, const CounterTotals& totals);

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
