// group_tracker.h - the receive side for groups (read diffusion): every group has its own
// gapless group_seq, and GroupPush is not acked, so the SDK keeps, per group, the highest
// group_seq delivered to the app and fills gaps with GroupSync. An entry with seq <= cursor
// is a duplicate; seq == cursor + 1 is delivered; anything past it is a gap. A group never
// seen has cursor 0, so its first pushed entry (unless it is seq 1) syncs the group from
// the start of what the member may see (the server clamps to the join seq).
// Bounded: at most max_groups groups; the least recently used idle one is forgotten first
// (it then counts as never seen). Pure logic, no I/O; guarded by the Client's mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace im::client {

class GroupTracker {
 public:
  enum class Verdict : uint8_t {
    Deliver,    // the next entry of its group: hand it to the app, then accept()
    Duplicate,  // already delivered: drop
    Gap,        // entries are missing before it: drop, note_gap() and GroupSync from cursor()
  };

  explicit GroupTracker(size_t max_groups) : max_groups_(max_groups ? max_groups : 1) {}

  Verdict check(uint64_t gid, uint64_t group_seq) const;
  // Records delivery of group_seq (check() said Deliver, or a GroupSync page skipped seqs
  // the member may not see). Never moves a cursor back.
  void accept(uint64_t gid, uint64_t group_seq);
  // Sets a cursor the app already has (persisted from an earlier run); keeps a higher one.
  void set_cursor(uint64_t gid, uint64_t group_seq);
  uint64_t cursor(uint64_t gid) const;
  bool known(uint64_t gid) const { return groups_.contains(gid); }

  // A gap was seen at group_seq: the group needs a GroupSync until its cursor reaches it.
  void note_gap(uint64_t gid, uint64_t group_seq);
  // True when entries the app should have were seen (or the server reported them) past
  // the cursor.
  bool behind(uint64_t gid) const;
  // A GroupSync finished without bringing the group up to what was seen (e.g. the member
  // left meanwhile): forget the target so it is not chased forever.
  void settle(uint64_t gid);
  // Groups that are behind (for a resync after the app's queue drained).
  std::vector<uint64_t> groups_behind() const;

  // Every (gid, cursor) pair, to persist and pass back as ClientOptions::group_cursors.
  std::vector<std::pair<uint64_t, uint64_t>> cursors() const;
  size_t size() const { return groups_.size(); }
  size_t max_groups() const { return max_groups_; }

 private:
  struct State {
    uint64_t cursor = 0;    // highest group_seq delivered
    uint64_t seen = 0;      // highest group_seq known to exist (pushed past a gap)
    uint64_t last_use = 0;  // for eviction
  };
  State& touch(uint64_t gid);
  void evict_one();

  size_t max_groups_;
  uint64_t clock_ = 0;
  std::unordered_map<uint64_t, State> groups_;
};

}  // namespace im::client
