// report.h - the result of a run: ordered key=value pairs (the stdout summary line) and
// named latency histograms (only in --json). Main thread only, after the run.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/imbench/histogram.h"
#include "bench/imbench/options.h"
#include "bench/imbench/proc_stats.h"

namespace im::bench {

class Report {
 public:
  void add(const std::string& key, uint64_t value);
  void add_int(const std::string& key, int64_t value);
  void add(const std::string& key, double value);
  void add(const std::string& key, const std::string& value);
  // Adds name_p50_us, name_p99_us, name_p999_us, name_max_us and keeps the histogram.
  void add_latency(const std::string& name, const Histogram& histogram);

  // "key=value key=value ..." (values never contain spaces).
  std::string summary_line() const;
  // The options, the summary pairs and every histogram's buckets. False on an I/O error.
  bool write_json(const std::string& path, const Options& options) const;
  // Value of a key already added ("" when absent).
  std::string get(const std::string& key) const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::vector<std::pair<std::string, Histogram>> histograms_;
};

// CPU of the measured phase: client_cpu_pct, client_cpu_us_per_<unit>, and from the server's
// samples (taken around the phase; "unknown" without --server-pid) server_cpu_pct,
// server_cpu_us_per_<unit>, server_sys_pct_of_cpu, server_rss_kb. An empty unit leaves out
// the per-unit keys.
void add_cpu_usage(Report& r, const ProcSample& server0, const ProcSample& server1,
                   double client_cpu_us, double wall_us, uint64_t units, const std::string& unit);

}  // namespace im::bench
