// main.cc - imbench: `imbench WORKLOAD --server HOST:PORT [flags]`. Parses the flags, runs
// the workload, prints the summary line on stdout (and --json), exits non-zero when the
// run found lost, duplicated or reordered messages or errors.
#include <cstdio>

#include "bench/imbench/options.h"
#include "bench/imbench/report.h"
#include "bench/imbench/workloads.h"

int main(int argc, char** argv) {
  using namespace im::bench;
  Options options;
  int exit_code = 0;
  if (!parse_options(argc, argv, &options, &exit_code)) return exit_code;
  Report report;
  int rc = 2;
  if (options.workload == "chat-1to1")
    rc = run_chat_1to1(options, &report);
  else if (options.workload == "connections")
    rc = run_connections(options, &report);
  else if (options.workload == "login-storm")
    rc = run_login_storm(options, &report);
  else if (options.workload == "history")
    rc = run_history(options, &report);
  else if (options.workload == "group-fanout")
    rc = run_group_fanout(options, &report);
  else if (options.workload == "mixed")
    rc = run_mixed(options, &report);
  std::string line = report.summary_line();
  if (!line.empty()) {
    line += " exit=" + std::to_string(rc);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  if (!options.json_path.empty() && !line.empty() &&
      !report.write_json(options.json_path, options)) {
    std::fprintf(stderr, "imbench: cannot write %s\n", options.json_path.c_str());
    if (rc == 0) rc = 2;
  }
  return rc;
}
