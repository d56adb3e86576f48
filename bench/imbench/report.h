// report.h - the result of a run: ordered key=value pairs (the stdout summary line) and
// named latency histograms (only in --json). Main thread only, after the run.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/imbench/histogram.h"
#include "bench/imbench/options.h"

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

}  // namespace im::bench
