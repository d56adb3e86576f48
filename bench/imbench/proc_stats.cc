// proc_stats.cc - /proc parsing. comm (field 2) may contain spaces and parentheses, so the
// fields are counted from the last ')'.
#include "bench/imbench/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace im::bench {

namespace {

uint64_t timeval_us(const timeval& tv) {
  return uint64_t(tv.tv_sec) * 1'000'000 + uint64_t(tv.tv_usec);
}

bool read_cpu(pid_t pid, uint64_t* cpu_us, uint64_t* sys_us) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  // After ')': field 3 is state; utime is field 14, stime field 15.
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  long ticks = sysconf(_SC_CLK_TCK);
  uint64_t hz = uint64_t(ticks > 0 ? ticks : 100);
  *cpu_us = (utime + stime) * 1'000'000 / hz;
  *sys_us = stime * 1'000'000 / hz;
  return true;
}

bool read_rss(pid_t pid, uint64_t* rss_kb, uint64_t* anon_kb) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool rss = false;
  bool anon = false;
  while (std::getline(in, line) && !(rss && anon)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      *rss_kb = std::strtoull(line.c_str() + 6, nullptr, 10);
      rss = true;
    } else if (line.rfind("RssAnon:", 0) == 0) {
      *anon_kb = std::strtoull(line.c_str() + 8, nullptr, 10);
      anon = true;
    }
  }
  return rss && anon;
}

}  // namespace

ProcSample sample_process(pid_t pid) {
  ProcSample s;
  if (pid <= 0) return s;
  s.ok = read_cpu(pid, &s.cpu_us, &s.sys_us) && read_rss(pid, &s.rss_kb, &s.anon_kb);
  return s;
}

ProcSample settled_sample(pid_t pid, double max_s, double* waited_s) {
  constexpr int kWindow = 8;  // samples 250 ms apart: the last 2 s
  const auto start = std::chrono::steady_clock::now();
  std::deque<uint64_t> window;
  ProcSample s = sample_process(pid);
  for (;;) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited_s) *waited_s = elapsed;
    if (!s.ok || elapsed >= max_s) return s;
    window.push_back(s.anon_kb);
    if (window.size() > kWindow) window.pop_front();
    if (window.size() == kWindow) {
      auto [lo, hi] = std::minmax_element(window.begin(), window.end());
      if (*hi - *lo <= std::max<uint64_t>(128, *hi / 200)) return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    s = sample_process(pid);
  }
}

uint64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime);
}

uint64_t children_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime);
}

}  // namespace im::bench
