// group_delivery.cc - the reader thread's side of groups: GroupPush entries go through the
// GroupTracker (client/group_tracker.h) to the app exactly once and in group_seq order; a
// gap starts a GroupSync of that group (at most PendingRequests::kMaxGroupSyncs at once,
// the rest wait in a bounded queue); after each login a ListGroups finds the groups with
// entries past their cursors. Reader thread only, except the tracker, which is read by
// callers too and so is touched under mu_.
#include <algorithm>

#include "client/client.h"

namespace im::client {

namespace proto = im::proto;

namespace {
constexpr size_t kMaxHeldGroups = 1024;  // gaps of unknown groups held during the ListGroups
}  // namespace

void Client::deliver_group_entry(InboxEntry& entry, bool from_sync, bool* stalled) {
  GroupTracker::Verdict verdict;
  bool hold = false;
  {
    std::lock_guard lock(mu_);
    if (*stalled || entries_stalled_) {  // the app's queue is full: fetch it again later
      group_tracker_.note_gap(entry.gid, entry.group_seq);
      *stalled = true;
      return;
    }
    verdict = group_tracker_.check(entry.gid, entry.group_seq);
    if (verdict == GroupTracker::Verdict::Duplicate) {
      stats_.duplicates_dropped++;
      return;
    }
    if (verdict == GroupTracker::Verdict::Gap && !from_sync) {
      stats_.group_gaps_detected++;
      hold = group_listing_ && !group_tracker_.known(entry.gid);
      if (!hold) group_tracker_.note_gap(entry.gid, entry.group_seq);
    }
  }
  if (verdict == GroupTracker::Verdict::Gap && !from_sync) {
    if (!hold) return request_group_sync(entry.gid);
    if (group_held_.size() < kMaxHeldGroups || group_held_.contains(entry.gid)) {
      uint64_t& seen = group_held_[entry.gid];
      seen = std::max(seen, entry.group_seq);
    }
    return;
  }
  // Deliver, or a GroupSync page that skips seqs the member may not see.
  if (!deliver_one(entry)) *stalled = true;
}

void Client::request_group_sync(uint64_t gid) {
  if (group_syncing_.contains(gid) || group_sync_queued_.contains(gid)) return;
  if (group_syncing_.size() < PendingRequests::kMaxGroupSyncs) return send_group_sync(gid);
  if (group_sync_queue_.size() >= options_.max_tracked_groups) return;  // a later push retries
  group_sync_queue_.push_back(gid);
  group_sync_queued_.insert(gid);
}

void Client::send_group_sync(uint64_t gid) {
  uint64_t after;
  {
    std::lock_guard lock(mu_);
    after = group_tracker_.cursor(gid);
  }
  uint64_t req_id = next_req_id();
  FrameBytes frame = build_group_sync(fbb_, req_id, gid, after, options_.group_sync_page_limit);
  if (!send_internal(frame, req_id, proto::Body::GroupSync, InternalRequest::GroupSync, gid)) {
    return;  // the connection is going away; the login after it catches up
  }
  group_syncing_.insert(gid);
  std::lock_guard lock(mu_);
  stats_.group_syncs_sent++;
}

void Client::handle_group_sync_page(uint64_t gid, const ReceivedFrame& frame) {
  group_syncing_.erase(gid);
  Result<SyncPage> page = decode_sync_page(frame.frame());
  bool more = false;
  if (page.ok()) {
    bool stalled = false;
    for (InboxEntry& entry : page->entries) {
      if (entry.gid == gid) deliver_group_entry(entry, true, &stalled);
    }
    std::lock_guard lock(mu_);
    uint64_t cursor = group_tracker_.cursor(gid);
    bool progress = !page->entries.empty();
    more = !stalled && progress &&
           (page->has_more || page->head_inbox_seq > cursor || group_tracker_.behind(gid));
    if (!more && !stalled) group_tracker_.settle(gid);
  } else {
    std::lock_guard lock(mu_);
    last_error_ = page.status();  // e.g. NotMember after a removal: nothing more to fetch
    group_tracker_.settle(gid);
  }
  if (more) send_group_sync(gid);
  while (group_syncing_.size() < PendingRequests::kMaxGroupSyncs && !group_sync_queue_.empty()) {
    uint64_t next = group_sync_queue_.front();
    group_sync_queue_.pop_front();
    group_sync_queued_.erase(next);
    if (!group_syncing_.contains(next)) send_group_sync(next);
  }
}

void Client::start_group_catch_up() {
  uint64_t req_id = next_req_id();
  FrameBytes frame = build_list_groups(fbb_, req_id);
  if (!send_internal(frame, req_id, proto::Body::ListGroups, InternalRequest::GroupList)) {
    group_listing_ = false;  // the connection is going away
    group_held_.clear();
  }
}

// The login's ListGroups: a group with no cursor starts at the member's read cursor; every
// group with entries past its cursor is synced, and so is every group held meanwhile.
void Client::handle_group_list(const ReceivedFrame& frame) {
  group_listing_ = false;
  Result<std::vector<GroupSummary>> groups = decode_group_list(frame.frame());
  std::vector<uint64_t> behind;
  {
    std::lock_guard lock(mu_);
    if (!groups.ok()) last_error_ = groups.status();
    for (const GroupSummary& g : groups.value()) {
      if (!group_tracker_.known(g.gid)) group_tracker_.set_cursor(g.gid, g.read_group_seq);
      if (g.last_group_seq > group_tracker_.cursor(g.gid)) {
        group_tracker_.note_gap(g.gid, g.last_group_seq);
      }
    }
    for (const auto& [gid, seen] : group_held_) group_tracker_.note_gap(gid, seen);
    behind = group_tracker_.groups_behind();
  }
  group_held_.clear();
  for (uint64_t gid : behind) request_group_sync(gid);
}

void Client::resync_groups_behind() {
  std::vector<uint64_t> behind;
  {
    std::lock_guard lock(mu_);
    behind = group_tracker_.groups_behind();
  }
  for (uint64_t gid : behind) request_group_sync(gid);
}

void Client::reset_group_syncs() {
  group_syncing_.clear();
  group_sync_queue_.clear();
  group_sync_queued_.clear();
  group_listing_ = false;
  group_catch_up_due_ = false;
  group_held_.clear();
}

}  // namespace im::client
