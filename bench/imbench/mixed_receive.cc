// mixed_receive.cc - the receive side of a mixed loop thread, as docs/protocol.md asks of a
// client: inbox entries (Push, Sync pages) pass the SDK's InboxTracker and group entries
// (GroupPush, GroupSync pages) its GroupTracker, so a re-push after a reconnect is dropped
// by seq and a gap is filled by a sync. What they deliver goes to the per-conversation
// DeliveryChecks, which count a message stored twice, lost or out of its sender's order.
// After a reconnect the user syncs its inbox and each of its groups from its cursors; it is
// caught up when every sync has come back complete.
#include <algorithm>

#include "bench/imbench/mixed_thread.h"
#include "bench/imbench/payload_time.h"
#include "client/frame_builders.h"

namespace im::bench {

namespace {

namespace proto = im::proto;
constexpr uint32_t kSyncPageEntries = 200;  // the server's max_page_entries
constexpr uint32_t kMaxIdleSyncs = 3;       // sync pages in a row that bring nothing new

const proto::SyncPage* sync_page(const proto::Frame& frame) {
  const proto::Result* r = frame.body_as_Result();
  return r->code() == proto::Code::Ok ? r->data_as_SyncPage() : nullptr;
}

uint64_t deliver_latency_us(const proto::Message& m, int64_t now) {
  const proto::TextContent* text = m.content_as_TextContent();
  if (text == nullptr || text->text() == nullptr || text->text()->size() < kTimeHexChars) return 0;
  int64_t sent = read_send_time(text->text()->data());
  return now > sent ? uint64_t(now - sent) / 1000 : 0;
}

}  // namespace

void MixedThread::start_catch_up(ActiveUser& u) {
  u.idle_syncs = 0;
  sync_inbox(u);
  for (Membership& m : u.memberships) {
    m.idle_syncs = 0;
    sync_group(u, m);
  }
}

void MixedThread::sync_inbox(ActiveUser& u) {
  u.inbox_syncing = true;
  u.conn.write(im::client::build_sync(fbb_, mixed_req_id(MixedReq::Sync, 0, 0), u.inbox.cursor(),
                                      kSyncPageEntries));
}

void MixedThread::sync_group(ActiveUser& u, Membership& m) {
  m.syncing = true;
  uint64_t gid = s_.gids[m.group];
  uint32_t index = uint32_t(&m - u.memberships.data());
  u.conn.write(im::client::build_group_sync(fbb_, mixed_req_id(MixedReq::GroupSync, index, 0), gid,
                                            u.groups.cursor(gid), kSyncPageEntries));
}

void MixedThread::on_sync_page(ActiveUser& u, const proto::Frame& frame, int64_t now) {
  u.inbox_syncing = false;
  const proto::SyncPage* page = sync_page(frame);
  if (page == nullptr) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
    return finish_catch_up(u, now);
  }
  uint64_t before = u.inbox.cursor();
  receive(u, page->entries(), true, now);
  u.idle_syncs = u.inbox.cursor() > before ? 0 : u.idle_syncs + 1;
  // Pushed entries past a gap that this page did not reach yet: sync on (a few times more
  // when the server had nothing new, in case the page was read before they committed).
  bool behind = u.inbox_seen > u.inbox.cursor() && u.idle_syncs < kMaxIdleSyncs;
  if (page->has_more() || behind) return sync_inbox(u);
  finish_catch_up(u, now);
}

void MixedThread::on_group_sync_page(ActiveUser& u, const proto::Frame& frame, int64_t now) {
  uint32_t index = mixed_req_aux(frame.req_id());
  if (index >= u.memberships.size()) return;
  Membership& m = u.memberships[index];
  m.syncing = false;
  const proto::SyncPage* page = sync_page(frame);
  if (page == nullptr) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
    return finish_catch_up(u, now);
  }
  uint64_t gid = s_.gids[m.group];
  uint64_t before = u.groups.cursor(gid);
  receive(u, page->entries(), true, now);
  m.idle_syncs = u.groups.cursor(gid) > before ? 0 : m.idle_syncs + 1;
  bool behind = u.groups.behind(gid) && m.idle_syncs < kMaxIdleSyncs;
  if (page->has_more() || behind) return sync_group(u, m);
  u.groups.settle(gid);
  finish_catch_up(u, now);
}

void MixedThread::receive(ActiveUser& u, const im::client::EntryBlobs* blobs, bool from_sync,
                          int64_t now) {
  if (blobs == nullptr) return;
  for (const proto::EntryBlob* blob : *blobs) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    const proto::InboxEntry& e = *blob->data_nested_root();
    if (e.gid() != 0)
      receive_group(u, e, from_sync, now);
    else
      receive_inbox(u, e, from_sync, now);
  }
  if (u.inbox.cursor() > u.inbox.acked() && !u.ack_due) {
    u.ack_due = true;
    ack_list_.push_back(&u);
  }
}

void MixedThread::receive_inbox(ActiveUser& u, const proto::InboxEntry& e, bool from_sync,
                                int64_t now) {
  uint64_t seq = e.inbox_seq();
  auto verdict = u.inbox.check(seq);
  if (verdict == im::client::InboxTracker::Verdict::Duplicate) {
    u.redelivered += running_;
    return;
  }
  // A gap in a push: drop it and sync. A sync page that skips seqs: nothing is in between.
  if (verdict == im::client::InboxTracker::Verdict::Gap && !from_sync) {
    ++u.gaps;
    u.inbox_seen = std::max(u.inbox_seen, seq);
    u.idle_syncs = 0;
    if (!u.inbox_syncing) sync_inbox(u);
    return;
  }
  u.inbox.accept(seq);
  const proto::Message* m = e.body_as_Message();
  if (m == nullptr || m->sender_uid() == u.uid) return;  // own copies: acked only
  if (m->client_msg_id() >> 32 != s_.nonce) return;      // an earlier run's message
  // A chatter's 1:1 messages are its stream 0 (mixed_send.cc).
  uint32_t low = uint32_t(m->client_msg_id());
  if (u.partner == kNoPartner || m->sender_uid() != u.partner_uid || low >> 24 != 0)
    return void(++u.stray);
  count_delivery(u, u.chat_check.deliver(low), false, *m, now);
}

void MixedThread::receive_group(ActiveUser& u, const proto::InboxEntry& e, bool from_sync,
                                int64_t now) {
  if (!armed_) return;  // setup events, before the cursors exist
  uint64_t gid = e.gid(), seq = e.group_seq();
  auto m = std::find_if(u.memberships.begin(), u.memberships.end(),
                        [&](const Membership& ms) { return s_.gids[ms.group] == gid; });
  if (m == u.memberships.end()) return void(++u.stray);
  auto verdict = u.groups.check(gid, seq);
  if (verdict == im::client::GroupTracker::Verdict::Duplicate) {
    u.redelivered += running_;
    return;
  }
  if (verdict == im::client::GroupTracker::Verdict::Gap && !from_sync) {
    ++u.gaps;
    u.groups.note_gap(gid, seq);
    m->idle_syncs = 0;
    if (!m->syncing) sync_group(u, *m);
    return;
  }
  u.groups.accept(gid, seq);
  const proto::Message* msg = e.body_as_Message();
  if (msg == nullptr || msg->client_msg_id() >> 32 != s_.nonce) return;  // events
  check_group(u, *m, *msg, now);
}

void MixedThread::check_group(ActiveUser& u, Membership& ms, const proto::Message& m, int64_t now) {
  const std::vector<uint32_t>& members = s_.plan.group_members[ms.group];
  uint32_t slot = 0;  // the sender's place among the group's senders, 0-based
  while (slot < ms.checks.size() && s_.uids[members[slot]] != m.sender_uid()) ++slot;
  if (slot == ms.checks.size()) return void(++u.stray);
  uint32_t seq = uint32_t(m.client_msg_id()) & kMixedMaxSeq;
  count_delivery(u, ms.checks[slot].deliver(seq), true, m, now);
}

// A message through its check: counted once; its latency only when it came live (one that
// waited while its receiver was away belongs to the reconnect).
void MixedThread::count_delivery(ActiveUser& u, DeliveryCheck::Outcome outcome, bool group,
                                 const proto::Message& m, int64_t now) {
  if (outcome == DeliveryCheck::Outcome::OutOfRange) ++u.stray;
  if (outcome != DeliveryCheck::Outcome::New) return;  // duplicates: counted by the check
  (group ? m_.group_delivered : m_.chat_delivered).fetch_add(1, std::memory_order_relaxed);
  activity.progressed();
  if (u.catching_up) return void(++u.synced);
  (group ? group_deliver_hist : chat_deliver_hist).record(deliver_latency_us(m, now));
}

void MixedThread::finish_catch_up(ActiveUser& u, int64_t now) {
  if (!u.catching_up || u.inbox_syncing) return;
  for (const Membership& m : u.memberships)
    if (m.syncing) return;
  u.catching_up = false;
  reconnect_hist.record(uint64_t(now - u.reconnect_start_ns) / 1000);
  m_.reconnects_done.fetch_add(1, std::memory_order_relaxed);
  activity.progressed();
}

void MixedThread::flush_acks() {
  for (ActiveUser* u : ack_list_) {
    u->ack_due = false;
    std::optional<uint64_t> seq = u->ready ? u->inbox.take_ack() : std::nullopt;
    if (seq) u->conn.write(im::client::build_ack(fbb_, 0, *seq));
  }
  ack_list_.clear();
}

}  // namespace im::bench
