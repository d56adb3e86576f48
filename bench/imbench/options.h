// options.h - every flag of imbench with its default and unit, parsed once in main and
// read-only afterwards (shared by all threads). The bounds of a run live here too:
// timeout_s caps every phase, so a run always ends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace im::bench {

struct Options {
  std::string workload;  // chat-1to1 | connections | login-storm | history | group-fanout | mixed
  std::string server = "127.0.0.1:7700";
  pid_t server_pid = 0;  // sample the server's CPU and RSS from /proc when set
  uint32_t threads = 1;  // event-loop threads (each drives many connections)
  // chat-1to1 / history
  uint32_t pairs = 100;
  uint32_t messages = 2000;  // per user
  uint32_t window = 16;      // unacknowledged sends per sender (closed loop)
  uint32_t payload_bytes = 100;
  double rate = 0;          // total sends per second; 0 = closed loop
  uint32_t idle_users = 0;  // chat-1to1: more accounts registered in setup, never connected
  // connections / login-storm / history
  uint32_t connections = 10000;
  uint32_t devices_per_user = 30;  // the server allows 32 online devices per user
  double duration_s = 10;          // how long connections are held / the storm lasts
  double heartbeat_s = 20;         // Ping interval of held connections
  uint32_t procs = 1;              // split `connections` over this many processes
  uint32_t users = 50;             // login-storm: distinct users
  uint32_t concurrency = 64;       // login-storm / history: requests in flight
  uint32_t page_entries = 50;      // history page size
  // group-fanout: G groups sharing the same K member users (see group_fanout.cc)
  uint32_t groups = 10;
  uint32_t members = 2000;      // per group, the owner included (server: max_group_members)
  uint32_t senders = 1;         // per group; each sends `messages`
  uint32_t member_devices = 1;  // connections per member user (each receives every push)
  // mixed (see mixed_plan.h): users, pairs, groups, members, senders, duration_s,
  // heartbeat_s and devices_per_user also apply, with mixed's own defaults (options.cc)
  double pair_rate = 2;        // 1:1 messages per second per pair (both directions)
  double group_rate = 1;       // group messages per second per group sender
  double reconnect_rate = 10;  // reconnects per second (active users, round robin)
  uint32_t offline_ms = 1000;  // how long a reconnecting user stays away
  // common
  bool setup = true;  // register the users first (existing ones are reused)
  std::string user_prefix = "bench";
  std::string password = "bench-password-1";
  // chat-1to1 / group-fanout: when the file exists, log in with its tokens (no scrypt on the
  // server); otherwise log in with the password and write the tokens received into it.
  std::string token_file;
  std::vector<std::string> source_addrs;  // local addresses to connect from
  bool spread_sources = false;            // use 127.0.0.2..127.255.255.254
  double timeout_s = 300;                 // hard bound of every phase
  double drain_timeout_s = 10;            // wait for missing deliveries this long
  std::string json_path;
  // shell commands run just before / after the measured phase (e.g. callgrind_control -i on)
  std::string run_start_cmd;
  std::string run_end_cmd;
  bool progress = true;
  // internal (--procs children)
  uint32_t proc_index = 0;
  int result_fd = -1;
};

// Parses argv. Returns false and sets *exit_code when the program should exit now
// (--help: 0, a bad flag: 2).
bool parse_options(int argc, char** argv, Options* out, int* exit_code);

}  // namespace im::bench
