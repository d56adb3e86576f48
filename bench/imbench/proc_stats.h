// proc_stats.h - CPU and memory of a process from /proc (the server, when it runs on this
// machine and --server-pid names it) and of imbench itself (getrusage), so a reader can see
// whether the client or the server was the limit. Any thread; each call reads the files.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace im::bench {

struct ProcSample {
  bool ok = false;
  uint64_t cpu_us = 0;  // utime + stime
  uint64_t sys_us = 0;  // stime alone: time in the kernel (syscalls, TCP)
  uint64_t rss_kb = 0;  // VmRSS
};

// Reads /proc/PID/stat (fields 14 and 15) and /proc/PID/status (VmRSS).
ProcSample sample_process(pid_t pid);
// CPU of this process (all threads): user + system, in microseconds.
uint64_t self_cpu_us();
// CPU of waited-for child processes (--procs), in microseconds.
uint64_t children_cpu_us();

}  // namespace im::bench
