// group_index.h - a worker's index of its own online connections by user and by group,
// for group fan-out: the group's owner sends one GroupFanout per worker, and each worker
// writes the frame to its local connections of that group's members. Maintained on login
// (the user's groups are gathered from every shard), on close, and on membership changes
// broadcast by the group's owner. Worker thread only. Bounded by the worker's connections
// times the groups of each (max_groups_indexed_per_connection).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace im::core {

class GroupIndex {
 public:
  void add_user_conn(uint64_t uid, uint32_t slot);
  // Removes the slot everywhere (its groups are given by the caller: the connection's list).
  void remove_conn(uint64_t uid, uint32_t slot, const std::vector<uint64_t>& gids);
  void add_member_conn(uint64_t gid, uint32_t slot);
  void remove_member_conn(uint64_t gid, uint32_t slot);
  const std::vector<uint32_t>* conns_of_user(uint64_t uid) const;
  const std::vector<uint32_t>* conns_of_group(uint64_t gid) const;

 private:
  static void erase_slot(std::unordered_map<uint64_t, std::vector<uint32_t>>& map, uint64_t key,
                         uint32_t slot);
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_user_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_group_;
};

}  // namespace im::core
