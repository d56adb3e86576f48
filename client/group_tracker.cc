// group_tracker.cc - per-group cursor arithmetic behind exactly-once, in-order delivery of
// group log entries, with a bounded table of groups.
#include "client/group_tracker.h"

#include <algorithm>

namespace im::client {

GroupTracker::Verdict GroupTracker::check(uint64_t gid, uint64_t group_seq) const {
  uint64_t at = cursor(gid);
  if (group_seq == 0 || group_seq <= at) return Verdict::Duplicate;
  if (group_seq == at + 1) return Verdict::Deliver;
  return Verdict::Gap;
}

GroupTracker::State& GroupTracker::touch(uint64_t gid) {
  auto it = groups_.find(gid);
  if (it == groups_.end()) {
    if (groups_.size() >= max_groups_) evict_one();
    it = groups_.emplace(gid, State{}).first;
  }
  it->second.last_use = ++clock_;
  return it->second;
}

// O(n) over a bounded table, and only when a group not seen before arrives while full.
void GroupTracker::evict_one() {
  auto victim = groups_.end();
  for (auto it = groups_.begin(); it != groups_.end(); ++it) {
    bool idle = it->second.seen <= it->second.cursor;
    bool victim_idle = victim != groups_.end() && victim->second.seen <= victim->second.cursor;
    if (victim == groups_.end() || (idle && !victim_idle) ||
        (idle == victim_idle && it->second.last_use < victim->second.last_use)) {
      victim = it;
    }
  }
  if (victim != groups_.end()) groups_.erase(victim);
}

void GroupTracker::accept(uint64_t gid, uint64_t group_seq) {
  State& s = touch(gid);
  s.cursor = std::max(s.cursor, group_seq);
}

void GroupTracker::set_cursor(uint64_t gid, uint64_t group_seq) {
  accept(gid, group_seq);
}

uint64_t GroupTracker::cursor(uint64_t gid) const {
  auto it = groups_.find(gid);
  return it == groups_.end() ? 0 : it->second.cursor;
}

void GroupTracker::note_gap(uint64_t gid, uint64_t group_seq) {
  State& s = touch(gid);
  s.seen = std::max(s.seen, group_seq);
}

bool GroupTracker::behind(uint64_t gid) const {
  auto it = groups_.find(gid);
  return it != groups_.end() && it->second.seen > it->second.cursor;
}

void GroupTracker::settle(uint64_t gid) {
  auto it = groups_.find(gid);
  if (it != groups_.end()) it->second.seen = it->second.cursor;
}

std::vector<uint64_t> GroupTracker::groups_behind() const {
  std::vector<uint64_t> out;
  for (const auto& [gid, s] : groups_) {
    if (s.seen > s.cursor) out.push_back(gid);
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> GroupTracker::cursors() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.reserve(groups_.size());
  for (const auto& [gid, s] : groups_) out.emplace_back(gid, s.cursor);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace im::client
