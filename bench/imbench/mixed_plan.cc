// mixed_plan.cc - the arithmetic of the mixed plan: accounts, pairs, group membership (group
// g takes `members` consecutive active users from g * members on, wrapping) and the bounds
// of each sender's messages.
#include "bench/imbench/mixed_plan.h"

#include <algorithm>
#include <cmath>

#include "bench/imbench/user_setup.h"

namespace im::bench {

uint32_t MixedPlan::sender_slot(uint32_t g, uint32_t u, uint32_t senders) const {
  const std::vector<uint32_t>& members = group_members[g];
  for (uint32_t j = 0; j < senders && j < members.size(); ++j)
    if (members[j] == u) return j + 1;
  return 0;
}

std::vector<std::string> MixedPlan::account_names() const {
  std::vector<std::string> names = active_names;
  names.insert(names.end(), idle_names.begin(), idle_names.end());
  return names;
}

namespace {

bool check_options(const Options& o, uint32_t active, std::string* error) {
  if (o.users < active)
    *error = "--users " + std::to_string(o.users) + " is below the " + std::to_string(active) +
             " active users (max of 2 x --pairs and --members)";
  else if (o.senders > o.members)
    *error = "--senders must be at most --members";
  else if (o.duration_s * std::max(o.pair_rate / 2, o.group_rate) + 2 > kMixedMaxSeq)
    *error = "--duration x rate exceeds 2^24 messages per sender";
  return error->empty();
}

void assign_groups(const Options& o, MixedPlan* p) {
  p->group_members.assign(o.groups, {});
  p->user_groups.assign(p->active, {});
  for (uint32_t g = 0; g < o.groups; ++g) {
    for (uint32_t j = 0; j < o.members; ++j) {
      uint32_t u = uint32_t((uint64_t(g) * o.members + j) % p->active);
      p->group_members[g].push_back(u);
      p->user_groups[u].push_back(g);
    }
  }
}

}  // namespace

bool make_mixed_plan(const Options& o, MixedPlan* p, std::string* error) {
  p->chatters = 2 * o.pairs;
  p->active = std::max(p->chatters, o.members);
  if (!check_options(o, p->active, error)) return false;
  p->idle_conns = o.users - p->active;
  p->idle_accounts = (p->idle_conns + o.devices_per_user - 1) / o.devices_per_user;
  p->active_names = bench_usernames(o.user_prefix + "m", 0, p->active);
  p->idle_names = bench_usernames(o.user_prefix + "mi", 0, p->idle_accounts);
  assign_groups(o, p);
  p->chat_rate_per_sender = o.pair_rate / 2;
  p->group_rate_per_sender = o.group_rate;
  p->chat_max_seq = uint32_t(std::ceil(o.duration_s * p->chat_rate_per_sender)) + 1;
  p->group_max_seq = uint32_t(std::ceil(o.duration_s * p->group_rate_per_sender)) + 1;
  return true;
}

}  // namespace im::bench
