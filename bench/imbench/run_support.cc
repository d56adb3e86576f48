// run_support.cc - progress line, login wait, run nonce, hooks, token file, fd limit, source
// addresses.
#include "bench/imbench/run_support.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "bench/imbench/clock.h"
#include "bench/imbench/conn_loop.h"

namespace im::bench {

CounterTotals sum_counters(const std::vector<ThreadCounters>& counters) {
  CounterTotals t;
  for (const ThreadCounters& c : counters) {
    t.sent += c.sent.load(std::memory_order_relaxed);
    t.acked += c.acked.load(std::memory_order_relaxed);
    t.acked_ok += c.acked_ok.load(std::memory_order_relaxed);
    t.delivered += c.delivered.load(std::memory_order_relaxed);
    t.errors += c.errors.load(std::memory_order_relaxed);
    t.ready += c.ready.load(std::memory_order_acquire);
    t.failed += c.failed.load(std::memory_order_acquire);
    t.closed += c.closed.load(std::memory_order_relaxed);
    t.p99_us = std::max<uint64_t>(t.p99_us, c.p99_us.load(std::memory_order_relaxed));
  }
  return t;
}

void RunActivity::end_turn(int64_t now, ThreadCounters& counters) {
  if (progressed_) {
    last_ns_.store(now, std::memory_order_relaxed);
    progressed_ = false;
  }
  if (now < next_tick_ns_) return;
  counters.p99_us.store(interval_.percentile(0.99), std::memory_order_relaxed);
  interval_.reset();
  next_tick_ns_ = now + 1'000'000'000;
}

void print_progress(const char* phase, double elapsed_s, const CounterTotals& t) {
  std::fprintf(stderr,
               "[%6.1fs] %s ready=%lu failed=%lu sent=%lu acked=%lu delivered=%lu errors=%lu "
               "p99_us=%lu\n",
               elapsed_s, phase, (unsigned long)t.ready, (unsigned long)t.failed,
               (unsigned long)t.sent, (unsigned long)t.acked, (unsigned long)t.delivered,
               (unsigned long)t.errors, (unsigned long)t.p99_us);
}

bool wait_logged_in(const Options& o, const std::vector<ThreadCounters>& counters,
                    uint64_t expected, double* seconds) {
  constexpr int64_t kTickNs = 1'000'000'000;
  int64_t start = now_ns(), next_print = start + kTickNs;
  for (;;) {
    CounterTotals t = sum_counters(counters);
    int64_t now = now_ns();
    if (t.ready + t.failed >= expected) {
      *seconds = seconds_between(start, now);
      return t.failed == 0;
    }
    if (now - start > int64_t(o.timeout_s * 1e9)) return false;
    if (o.progress && now >= next_print) {
      print_progress("login", seconds_between(start, now), t);
      next_print += kTickNs;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

uint64_t make_run_nonce() {
  uint64_t n = uint64_t(now_ns() / 1000) ^ (uint64_t(getpid()) << 20);
  n &= 0xffffffffu;
  return n == 0 ? 1 : n;
}

void run_hook(const std::string& command) {
  if (command.empty()) return;
  int rc = std::system(command.c_str());
  if (rc != 0) std::fprintf(stderr, "imbench: `%s` exited %d\n", command.c_str(), rc);
}

bool load_tokens(const std::string& path, const std::vector<std::string>& names,
                 std::vector<std::string>* tokens) {
  tokens->assign(names.size(), "");
  std::ifstream in(path);
  if (!in) return false;
  std::unordered_map<std::string, std::string> by_name;
  std::string name, token;
  while (in >> name >> token) by_name[name] = token;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = by_name.find(names[i]);
    if (it != by_name.end()) (*tokens)[i] = it->second;
  }
  return true;
}

bool save_tokens(const std::string& path, const std::vector<std::string>& names,
                 const std::vector<std::string>& tokens) {
  std::ofstream out(path);
  for (size_t i = 0; i < names.size() && i < tokens.size(); ++i)
    if (!tokens[i].empty()) out << names[i] << ' ' << tokens[i] << '\n';
  return bool(out);
}

uint64_t raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

bool SourceAddrs::init(const Options& o, std::string* error) {
  for (const std::string& text : o.source_addrs) {
    sockaddr_in addr;
    if (!parse_ipv4(text, &addr)) {
      *error = "bad --source-addrs entry: " + text;
      return false;
    }
    addrs_.push_back(addr);
  }
  if (o.spread_sources && addrs_.empty()) {
    // 127.0.0.2 .. 127.0.0.254, then 127.0.1.1 ...: enough for millions of connections.
    constexpr uint32_t kCount = 4096;
    for (uint32_t i = 0; i < kCount; ++i) {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      uint32_t host = (127u << 24) | ((i / 250) << 8) | (2 + i % 250);
      addr.sin_addr.s_addr = htonl(host);
      addrs_.push_back(addr);
    }
  }
  return true;
}

const sockaddr_in* SourceAddrs::for_connection(uint64_t index) const {
  if (addrs_.empty()) return nullptr;
  return &addrs_[index % addrs_.size()];
}

}  // namespace im::bench
