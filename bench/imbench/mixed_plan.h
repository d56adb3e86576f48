// mixed_plan.h - who does what in the `mixed` workload, computed once from the options
// before any thread starts and read-only afterwards. U users are U connections: A active
// users (one account and one connection each) chat 1:1 in pairs, belong to groups and
// reconnect; the other U - A users are idle connections that only send heartbeats, grouped
// as devices of few idle accounts (each account costs the server two scrypts in setup).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/imbench/options.h"

namespace im::bench {

inline constexpr uint32_t kMixedMaxSeq = (1u << 24) - 1;  // 24 bits of client_msg_id

struct MixedPlan {
  uint32_t active = 0;    // A = max(2 * pairs, members)
  uint32_t chatters = 0;  // active users [0, 2 * pairs) chat, user i with user i ^ 1
  uint32_t idle_conns = 0;
  uint32_t idle_accounts = 0;  // idle connection c is device c % D of account c / D
  std::vector<std::string> active_names, idle_names;
  // Per group: its active users; [0] creates it, [0, senders) send to it.
  std::vector<std::vector<uint32_t>> group_members;
  std::vector<std::vector<uint32_t>> user_groups;  // per active user: its groups, ascending
  double chat_rate_per_sender = 0;                 // messages per second each chatter sends
  double group_rate_per_sender = 0;                // messages per second each group sender sends
  uint32_t chat_max_seq = 0;                       // bound of a chatter's messages in the run
  uint32_t group_max_seq = 0;                      // bound of a group sender's messages in the run

  uint32_t connections() const { return active + idle_conns; }
  // Every account: the active users, then the idle accounts (the order of tokens).
  std::vector<std::string> account_names() const;
  // Position of user u among the senders of group g, 1-based; 0 when u does not send there.
  uint32_t sender_slot(uint32_t g, uint32_t u, uint32_t senders) const;
};

// False with *error set when the options cannot make a plan (too few users, ...).
bool make_mixed_plan(const Options& o, MixedPlan* plan, std::string* error);

}  // namespace im::bench
