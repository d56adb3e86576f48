// user_setup.h - the --setup phase: registers the users a workload needs, reusing any that
// already exist (UserExists is success), so a workload runs on a fresh data dir with one
// command and again on the same one. Blocking sockets on a few helper threads: it runs
// before the measured phase. Registration is slow by design (scrypt, ~50 ms of server CPU
// each), so workloads keep the number of users small.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace im::bench {

struct SetupResult {
  bool ok = false;
  uint32_t created = 0;
  uint32_t existing = 0;
  double seconds = 0;
  std::string error;
};

// "<prefix><index>" for every index in [first, first + count).
std::vector<std::string> bench_usernames(const std::string& prefix, uint32_t first, uint32_t count);

SetupResult register_users(const sockaddr_in& server, const std::vector<std::string>& usernames,
                           const std::string& password, double timeout_s);

}  // namespace im::bench
