// options.cc - CLI11 definitions of the flags in options.h.
#include "bench/imbench/options.h"

#include <CLI/CLI.hpp>

namespace im::bench {

namespace {

// The defaults of `mixed` where they differ from the other workloads' (a flag given wins):
// 2,000 users, 50 pairs, 10 groups of 20 with 2 senders, 20 s, a ping every 10 s.
void apply_mixed_defaults(const CLI::App& app, Options* o) {
  auto unset = [&](const char* flag) { return app.count(flag) == 0; };
  if (unset("--users")) o->users = 2000;
  if (unset("--pairs")) o->pairs = 50;
  if (unset("--members")) o->members = 20;
  if (unset("--senders")) o->senders = 2;
  if (unset("--duration")) o->duration_s = 20;
  if (unset("--heartbeat")) o->heartbeat_s = 10;
}

}  // namespace

bool parse_options(int argc, char** argv, Options* o, int* exit_code) {
  CLI::App app{"imbench - load generator and correctness checker for imserver"};
  app.add_option("workload", o->workload,
                 "chat-1to1 | connections | login-storm | history | group-fanout | mixed")
      ->required()
      ->check(CLI::IsMember(
          {"chat-1to1", "connections", "login-storm", "history", "group-fanout", "mixed"}));
  app.add_option("--server", o->server, "HOST:PORT of the server");
  app.add_option("--server-pid", o->server_pid, "server pid: sample its CPU and RSS from /proc");
  app.add_option("--threads", o->threads, "event-loop threads")->check(CLI::Range(1, 64));
  app.add_option("--pairs", o->pairs, "chat-1to1/history/mixed (50): pairs of users")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--messages", o->messages, "chat-1to1/history: messages per user")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--window", o->window, "unacknowledged sends per sender (closed loop)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--payload", o->payload_bytes, "message text bytes (>= 16)")
      ->check(CLI::Range(16, 16384));
  app.add_option("--rate", o->rate,
                 "open loop: total sends (history: pages) per second (0 = closed loop)")
      ->check(CLI::Range(0.0, 1e8));
  app.add_option("--idle-users", o->idle_users,
                 "chat-1to1: more accounts (<prefix>ci<i>) registered in setup that never "
                 "connect, so the store holds many users")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--connections", o->connections, "connections: connections to hold")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--devices-per-user", o->devices_per_user,
                 "connections: devices per user; mixed: idle connections per idle account")
      ->check(CLI::Range(1, 32));
  app.add_option("--duration", o->duration_s, "seconds to hold / run the storm / run (mixed: 20)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--heartbeat", o->heartbeat_s,
                 "seconds between pings of held connections (mixed: 10)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--procs", o->procs, "connections: processes to split the load over")
      ->check(CLI::Range(1, 64));
  app.add_option("--users", o->users, "login-storm: distinct users; mixed: connections (2000)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--concurrency", o->concurrency, "login-storm/history: requests in flight")
      ->check(CLI::Range(1, 100000));
  app.add_option("--page", o->page_entries, "history: entries per page")->check(CLI::Range(1, 200));
  app.add_option("--groups", o->groups,
                 "group-fanout/mixed (10): groups (group-fanout: all share the same members)")
      ->check(CLI::Range(1, 64));
  app.add_option("--members", o->members,
                 "group-fanout/mixed (20): members per group, owner included")
      ->check(CLI::Range(2, 100000));
  app.add_option("--senders", o->senders, "group-fanout/mixed (2): senders per group")
      ->check(CLI::Range(1, 1000));
  app.add_option("--member-devices", o->member_devices, "group-fanout: connections per member user")
      ->check(CLI::Range(1, 32));
  app.add_option("--pair-rate", o->pair_rate, "mixed: 1:1 messages per second per pair (2)")
      ->check(CLI::Range(0.01, 1e6));
  app.add_option("--group-rate", o->group_rate, "mixed: group messages per second per sender (1)")
      ->check(CLI::Range(0.01, 1e6));
  app.add_option("--reconnect-rate", o->reconnect_rate,
                 "mixed: active users disconnecting and reconnecting per second (10; 0 = none)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--offline-ms", o->offline_ms,
                 "mixed: how long a reconnecting user stays away (1000)")
      ->check(CLI::Range(0, 3600000));
  app.add_flag("!--no-setup", o->setup, "do not register users (they must exist)");
  app.add_option("--user-prefix", o->user_prefix, "username prefix");
  app.add_option("--password", o->password, "password of the bench users");
  app.add_option("--token-file", o->token_file,
                 "chat-1to1/group-fanout/mixed: log in with the tokens in this file when it "
                 "exists; "
                 "else write the tokens of the password logins to it");
  app.add_option("--source-addrs", o->source_addrs, "local IPv4 addresses to connect from")
      ->delimiter(',');
  app.add_flag("--spread-sources", o->spread_sources,
               "connect from 127.0.0.2, 127.0.0.3, ... (more than 64k connections)");
  app.add_option("--timeout", o->timeout_s, "hard bound of each phase, seconds");
  app.add_option("--drain-timeout", o->drain_timeout_s,
                 "seconds to wait for missing deliveries after the last send result");
  app.add_option("--json", o->json_path, "write the full result (with histograms) here");
  app.add_option("--run-start-cmd", o->run_start_cmd,
                 "shell command run just before the measured phase (chat-1to1, group-fanout, "
                 "mixed)");
  app.add_option("--run-end-cmd", o->run_end_cmd,
                 "shell command run just after the measured phase (chat-1to1, group-fanout, "
                 "mixed)");
  app.add_flag("!--no-progress", o->progress, "no live progress on stderr");
  app.add_option("--proc-index", o->proc_index)->group("");
  app.add_option("--result-fd", o->result_fd)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    if (*exit_code != 0) *exit_code = 2;
    return false;
  }
  if (o->workload == "mixed") apply_mixed_defaults(app, o);
  return true;
}

}  // namespace im::bench
