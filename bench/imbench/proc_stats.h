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
  // RssAnon: the user-space part of VmRSS (heap, stacks), without the mapped files (LMDB tables,
  // logs) whose pages the kernel maps and drops at will.
  uint64_t anon_kb = 0;
};

// Reads /proc/PID/stat (fields 14 and 15) and /proc/PID/status (VmRSS, RssAnon).
ProcSample sample_process(pid_t pid);
// Samples pid every 250 ms until its RssAnon has moved by less than max(128 KiB, 0.5%) over the
// last 2 s, or max_s have passed: memory freed just before (a burst of password hashes, say)
// is returned to the kernel over seconds by the server's allocator, and a sample taken while it
// is would be off by that much. Returns the last sample; *waited_s says how long it took.
ProcSample settled_sample(pid_t pid, double max_s, double* waited_s);
// CPU of this process (all threads): user + system, in microseconds.
uint64_t self_cpu_us();
// CPU of waited-for child processes (--procs), in microseconds.
uint64_t children_cpu_us();

}  // namespace im::bench
