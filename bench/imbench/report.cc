// report.cc - summary line, JSON writer (nlohmann::json) and the CPU keys every workload adds.
#include "bench/imbench/report.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace im::bench {

void Report::add(const std::string& key, uint64_t value) {
  pairs_.emplace_back(key, std::to_string(value));
}

void Report::add_int(const std::string& key, int64_t value) {
  pairs_.emplace_back(key, std::to_string(value));
}

void Report::add(const std::string& key, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", value);
  pairs_.emplace_back(key, buf);
}

void Report::add(const std::string& key, const std::string& value) {
  pairs_.emplace_back(key, value.empty() ? "-" : value);
}

void Report::add_latency(const std::string& name, const Histogram& h) {
  add(name + "_p50_us", h.percentile(0.50));
  add(name + "_p99_us", h.percentile(0.99));
  add(name + "_p999_us", h.percentile(0.999));
  add(name + "_max_us", h.max());
  histograms_.emplace_back(name, h);
}

std::string Report::summary_line() const {
  std::string line;
  for (const auto& [key, value] : pairs_) {
    if (!line.empty()) line += ' ';
    line += key + "=" + value;
  }
  return line;
}

std::string Report::get(const std::string& key) const {
  for (const auto& [k, v] : pairs_)
    if (k == key) return v;
  return "";
}

namespace {

nlohmann::json options_json(const Options& o) {
  return {{"workload", o.workload},
          {"server", o.server},
          {"threads", o.threads},
          {"pairs", o.pairs},
          {"messages", o.messages},
          {"window", o.window},
          {"payload", o.payload_bytes},
          {"rate", o.rate},
          {"connections", o.connections},
          {"devices_per_user", o.devices_per_user},
          {"duration_s", o.duration_s},
          {"heartbeat_s", o.heartbeat_s},
          {"procs", o.procs},
          {"users", o.users},
          {"concurrency", o.concurrency},
          {"page", o.page_entries},
          {"groups", o.groups},
          {"members", o.members},
          {"senders", o.senders},
          {"member_devices", o.member_devices},
          {"pair_rate", o.pair_rate},
          {"group_rate", o.group_rate},
          {"reconnect_rate", o.reconnect_rate},
          {"offline_ms", o.offline_ms},
          {"spread_sources", o.spread_sources}};
}

nlohmann::json histogram_json(const Histogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  h.for_each_bucket([&](uint64_t low, uint64_t high, uint64_t count) {
    buckets.push_back({low, high, count});
  });
  nlohmann::json percentiles;
  for (double q : {0.5, 0.75, 0.9, 0.99, 0.999, 0.9999}) {
    char key[16];
    std::snprintf(key, sizeof(key), "p%g", q * 100);
    percentiles[key] = h.percentile(q);
  }
  return {{"unit", "us"},
          {"count", h.count()},
          {"min", h.min()},
          {"max", h.max()},
          {"mean", h.mean()},
          {"percentiles", percentiles},
          {"sub_buckets_per_power_of_two", Histogram::kSub},
          {"buckets_low_high_count", buckets}};
}

}  // namespace

void add_cpu_usage(Report& r, const ProcSample& s0, const ProcSample& s1, double client_cpu_us,
                   double wall_us, uint64_t units, const std::string& unit) {
  auto per_unit = [&](double us) { return units ? us / double(units) : 0.0; };
  r.add("client_cpu_pct", wall_us > 0 ? 100.0 * client_cpu_us / wall_us : 0.0);
  if (!unit.empty()) r.add("client_cpu_us_per_" + unit, per_unit(client_cpu_us));
  if (!s0.ok || !s1.ok) {
    if (!unit.empty()) r.add("server_cpu_us_per_" + unit, std::string("unknown"));
    r.add("server_rss_kb", std::string("unknown"));
    return;
  }
  double server_cpu_us = double(s1.cpu_us - s0.cpu_us);
  r.add("server_cpu_pct", wall_us > 0 ? 100.0 * server_cpu_us / wall_us : 0.0);
  if (!unit.empty()) r.add("server_cpu_us_per_" + unit, per_unit(server_cpu_us));
  double sys_us = double(s1.sys_us - s0.sys_us);
  r.add("server_sys_pct_of_cpu", server_cpu_us > 0 ? 100.0 * sys_us / server_cpu_us : 0.0);
  r.add("server_rss_kb", s1.rss_kb);
}

bool Report::write_json(const std::string& path, const Options& options) const {
  nlohmann::json root;
  root["options"] = options_json(options);
  nlohmann::json result = nlohmann::json::object();
  for (const auto& [key, value] : pairs_) {
    char* end = nullptr;
    double number = std::strtod(value.c_str(), &end);
    if (!value.empty() && *end == '\0')
      result[key] = number;
    else
      result[key] = value;
  }
  root["result"] = result;
  nlohmann::json histograms = nlohmann::json::object();
  for (const auto& [name, h] : histograms_) histograms[name] = histogram_json(h);
  root["histograms"] = histograms;
  std::ofstream out(path);
  out << root.dump(1) << "\n";
  return bool(out);
}

}  // namespace im::bench
