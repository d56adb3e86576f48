// group_index.cc - the worker's online index (see group_index.h).
#include "core/group_index.h"

#include <algorithm>

namespace im::core {

void GroupIndex::add_user_conn(uint64_t uid, uint32_t slot) {
  by_user_[uid].push_back(slot);
}

void GroupIndex::erase_slot(std::unordered_map<uint64_t, std::vector<uint32_t>>& map, uint64_t key,
                            uint32_t slot) {
  auto it = map.find(key);
  if (it == map.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), slot), v.end());
  if (v.empty()) map.erase(it);
}

void GroupIndex::remove_conn(uint64_t uid, uint32_t slot, const std::vector<uint64_t>& gids) {
  erase_slot(by_user_, uid, slot);
  for (uint64_t gid : gids) erase_slot(by_group_, gid, slot);
}

void GroupIndex::add_member_conn(uint64_t gid, uint32_t slot) {
  auto& v = by_group_[gid];
  if (std::find(v.begin(), v.end(), slot) == v.end()) v.push_back(slot);
}

void GroupIndex::remove_member_conn(uint64_t gid, uint32_t slot) {
  erase_slot(by_group_, gid, slot);
}

const std::vector<uint32_t>* GroupIndex::conns_of_user(uint64_t uid) const {
  auto it = by_user_.find(uid);
  return it == by_user_.end() ? nullptr : &it->second;
}

const std::vector<uint32_t>* GroupIndex::conns_of_group(uint64_t gid) const {
  auto it = by_group_.find(gid);
  return it == by_group_.end() ? nullptr : &it->second;
}

}  // namespace im::core
