// group_setup.h - the group setup phase of group-fanout and mixed: one blocking connection
// logged in as the groups' owner creates each group (CreateGroup with the first members) and
// invites the rest in chunks (the server takes at most kMaxUidsPerRequest uids per request).
// Runs on the main thread before the measured phase; every read is bounded by the deadline.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace im::bench {

inline constexpr size_t kMaxUidsPerRequest = 500;  // the server's bound (group_session.cc)

struct GroupSetupResult {
  bool ok = false;
  std::vector<uint64_t> gids;
  std::vector<uint64_t> base_seqs;  // each group's last group_seq when setup ended
  double seconds = 0;
  std::string error;
};

// Logs in as `owner` (device "imbench-admin"; with owner_token when not empty, else with
// the password) and creates `groups` groups named
// "<name_prefix><index>" whose members are the owner and every uid of `members`.
GroupSetupResult create_groups(const sockaddr_in& server, const std::string& owner,
                               const std::string& password, const std::string& owner_token,
                               std::span<const uint64_t> members, uint32_t groups,
                               const std::string& name_prefix, double timeout_s);

}  // namespace im::bench
