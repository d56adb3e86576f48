// workloads.h - the entry point of each workload. Each runs its setup, its measured phase
// and fills the report; the return value is the process exit code (0 = the run was
// correct: nothing lost, duplicated or reordered, no errors).
#pragma once

#include "bench/imbench/options.h"
#include "bench/imbench/report.h"

namespace im::bench {

int run_chat_1to1(const Options& options, Report* report);
int run_connections(const Options& options, Report* report);
int run_login_storm(const Options& options, Report* report);
int run_history(const Options& options, Report* report);
int run_group_fanout(const Options& options, Report* report);
int run_mixed(const Options& options, Report* report);

}  // namespace im::bench
