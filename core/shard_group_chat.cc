// shard_group_chat.cc - group messages on the group's shard (read diffusion): a send is
// one log entry plus the group row, never a write per member; online members get it from
// the fan-out after the commit. Reads (sync, history) are clamped to what the member may
// see: entries after its join seq and up to its leave seq. Read cursors live in the member
// row; marking a group read also appends a ReadEvent to the user's inbox (on the user's
// shard) so the user's other devices learn of it.
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/group_frames.h"
#include "core/shard_state.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace p = im::proto;
using storage::MemberRecord;

namespace {
constexpr size_t kMaxUnreadScan = 500;  // beyond this, unread is counted without the
                                        // caller's own messages being subtracted
constexpr size_t kMaxGroupsListed = 2000;

size_t page_budget(const Config& c) {
  return c.max_frame_bytes - 512;
}

// Stored entries are read in place from LMDB at any alignment: copy before reading.
const p::InboxEntry* entry_of(std::span<const uint8_t> bytes, std::vector<uint64_t>& scratch) {
  scratch.resize((bytes.size() + 7) / 8);
  std::memcpy(scratch.data(), bytes.data(), bytes.size());
  return flatbuffers::GetRoot<p::InboxEntry>(scratch.data());
}
}  // namespace

std::pair<uint64_t, uint64_t> ShardState::visible(const GroupMem& g, const MemberRecord& m) {
  uint64_t hi = m.leave_seq != 0 ? std::min(m.leave_seq, g.durable_seq) : g.durable_seq;
  return {m.join_seq, std::max(hi, m.join_seq)};
}

bool ShardState::member_for_read(const Envelope& e, GroupMem** g, MemberRecord** m) {
  *g = find_group(e.a);
  if (!*g) {
    reply(e, Code::UnknownGroup, "no such group");
    return false;
  }
  *m = find_member(**g, e.uid);
  if (!*m) {
    reply(e, Code::NotMember, "you are not a member of this group");
    return false;
  }
  return true;
}

void ShardState::on_group_send(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const auto* send = p::GetFrame(e->bytes.data())->body_as_GroupSend();
  GroupMem* g = find_group(send->gid());
  if (!g) return reply(*e, Code::UnknownGroup, "no such group");
  // A resend is answered with the original result before any check: the message was
  // accepted, whatever changed since (muted, removed, dismissed).
  uint64_t cmid = send->client_msg_id();
  auto pend = pending_gdedup_.find({g->rec.gid, e->uid, cmid});
  if (pend != pending_gdedup_.end()) {
    Bytes out;
    append_group_send_result(out, e->req_id, pend->second.msg_id, g->rec.gid,
                             pend->second.inbox_seq, pend->second.server_time_ms, true);
    return after_frames(e->conn, e->req_id, std::move(out));
  }
  if (auto seen = shard_->get_group_dedup(g->rec.gid, e->uid, cmid)) {
    int64_t window = int64_t(worker_->config().dedup_window_ms);
    if (seen->server_time_ms + window >= wall_ms()) {
      Bytes out;
      append_group_send_result(out, e->req_id, seen->msg_id, g->rec.gid, seen->inbox_seq,
                               seen->server_time_ms, true);
      return worker_->send_frames(e->conn, std::move(out));
    }
  }
  MemberRecord* m = find_member(*g, e->uid);
  if (!m || m->leave_seq != 0) return reply(*e, Code::NotMember, "you are not a member");
  if (g->rec.dismissed) return reply(*e, Code::GroupDismissed, "the group was dismissed");
  if (m->muted) return reply(*e, Code::MutedInGroup, "an admin muted you in this group");
  int64_t now = wall_ms();
  uint64_t msg_id = ids_.next(now);
  uint64_t seq = g->rec.last_group_seq + 1;
  Bytes entry;
  build_group_message_entry(entry, g->rec.gid, seq, msg_id, e->uid, cmid, now, *send);
  append_group_entry(*g, seq, entry);
  // @mentions: one member row per named member (bounded by the session's mention cap).
  if (send->mentions()) {
    for (uint64_t uid : *send->mentions()) {
      MemberRecord* target = find_member(*g, uid);
      if (!target || target->leave_seq != 0 || uid == e->uid) continue;
      MemberRecord copy = *target;
      copy.mention_seq = seq;
      put_member(*g, uid, copy);
    }
  }
  storage::DedupRecord rec{msg_id, seq, now};
  building().writes.put_group_dedup(g->rec.gid, e->uid, cmid, rec);
  pending_gdedup_[{g->rec.gid, e->uid, cmid}] = rec;
  building().gdedup_keys.push_back({g->rec.gid, e->uid, cmid});
  Bytes out;
  append_group_send_result(out, e->req_id, msg_id, g->rec.gid, seq, now, false);
  after_frames(e->conn, e->req_id, std::move(out));
}

void ShardState::on_group_sync(EnvelopePtr e) {
  GroupMem* g;
  MemberRecord* m;
  if (!member_for_read(*e, &g, &m)) return;
  const Config& cfg = worker_->config();
  uint32_t limit =
      e->c == 0 ? cfg.default_page_entries : std::min<uint32_t>(e->c, cfg.max_page_entries);
  auto [lo, hi] = visible(*g, *m);
  EntryPage page(page_budget(cfg));
  bool has_more = false;
  uint64_t last = std::max(e->b, lo);
  shard_->read_group_log(g->rec.gid, 0, e->b, lo, hi, limit, [&](const storage::InboxItem& it) {
    if (has_more) return;
    if (!page.add(it.bytes)) {
      has_more = true;
      return;
    }
    last = it.inbox_seq;
  });
  if (last < hi) has_more = true;
  Bytes out;
  page.append_sync_page(out, e->req_id, hi, has_more);
  worker_->send_frames(e->conn, std::move(out));
}

void ShardState::on_group_history(EnvelopePtr e) {
  GroupMem* g;
  MemberRecord* m;
  if (!member_for_read(*e, &g, &m)) return;
  const Config& cfg = worker_->config();
  uint32_t limit =
      e->d == 0 ? cfg.default_page_entries : std::min<uint32_t>(e->d, cfg.max_page_entries);
  auto [lo, hi] = visible(*g, *m);
  uint64_t before = (e->b == 0 && e->c == 0) ? UINT64_MAX : e->b;
  EntryPage page(page_budget(cfg));
  bool has_more = false;
  size_t n = shard_->read_group_log(
      g->rec.gid, before, e->c, lo, hi, limit + 1, [&](const storage::InboxItem& it) {
        if (has_more || page.count() == limit || !page.add(it.bytes)) {
          has_more = true;
        }
      });
  if (n > limit) has_more = true;
  Bytes out;
  page.append_history_page(out, e->req_id, has_more);
  worker_->send_frames(e->conn, std::move(out));
}

void ShardState::on_group_mark_read(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  GroupMem* g;
  MemberRecord* m;
  if (!member_for_read(*e, &g, &m)) return;
  auto [lo, hi] = visible(*g, *m);
  uint64_t up_to = (e->b == 0 || e->b > hi) ? hi : e->b;
  if (up_to > m->read_seq) {
    MemberRecord copy = *m;
    copy.read_seq = up_to;
    put_member(*g, e->uid, copy);
    // The user's other devices learn of it through the user's inbox.
    auto ev = make_envelope(Op::AppendReadEvent);
    ev->shard = storage::shard_of_uid(e->uid, worker_->shared().shard_count);
    ev->conn = ConnRef::none();
    ev->uid = e->uid;
    ev->device = e->device;
    ev->a = g->rec.gid;
    ev->b = up_to;
    AfterCommit a;
    a.kind = AfterCommit::Kind::Forward;
    a.forward = std::move(ev);
    building().after.push_back(std::move(a));
  }
  Bytes row;
  summarize(*g, e->uid, *find_member(*g, e->uid), row);
  auto rows = decode_group_summaries(row);
  uint32_t unread = rows.empty() ? 0 : rows[0].unread;
  Bytes out;
  append_group_mark_read_ok(out, e->req_id, std::max(up_to, m->read_seq), unread);
  after_frames(e->conn, e->req_id, std::move(out));
}

void ShardState::on_append_read_event(EnvelopePtr e) {
  if (failed_) return;
  UserMem* u = find_user(e->uid);
  if (!u) return;
  uint64_t seq = assign_seq(*u);
  Bytes entry;
  build_group_read_event_entry(entry, e->uid, seq, e->a, e->b, e->device);
  put_inbox_entry(*u, seq, std::move(entry));
  after_durable(e->uid, seq);
}

// One row of "my groups": unread counts the messages of others after the read cursor
// (scanning at most kMaxUnreadScan entries), mentioned is true when one of them names the
// member or all. Committed entries only.
void ShardState::summarize(GroupMem& g, uint64_t uid, const MemberRecord& m, Bytes& out) {
  auto [lo, hi] = visible(g, m);
  GroupSummaryRow row;
  row.gid = g.rec.gid;
  row.name = g.rec.name;
  row.my_role = static_cast<uint8_t>(m.role);
  row.last_group_seq = hi;
  row.read_group_seq = std::max(m.read_seq, lo);
  row.join_group_seq = lo;
  row.updated_ms = g.rec.updated_ms;
  row.do_not_disturb = m.do_not_disturb;
  row.dismissed = g.rec.dismissed;
  std::vector<uint64_t> scratch;
  if (hi > row.read_group_seq) {
    if (hi - row.read_group_seq > kMaxUnreadScan) {
      row.unread = uint32_t(std::min<uint64_t>(hi - row.read_group_seq, UINT32_MAX));
    } else {
      shard_->read_group_log(g.rec.gid, 0, row.read_group_seq, lo, hi, kMaxUnreadScan,
                             [&](const storage::InboxItem& it) {
                               const p::InboxEntry* entry = entry_of(it.bytes, scratch);
                               const p::Message* msg = entry->body_as_Message();
                               if (!msg || msg->sender_uid() == uid) return;
                               row.unread++;
                               bool named =
                                   msg->mentions() &&
                                   std::find(msg->mentions()->begin(), msg->mentions()->end(),
                                             uid) != msg->mentions()->end();
                               if (named || msg->mention_all()) row.mentioned = true;
                             });
    }
    if (m.mention_seq > row.read_group_seq) row.mentioned = true;
  }
  if (hi > lo) {
    shard_->read_group_log(g.rec.gid, hi + 1, 0, lo, hi, 1, [&](const storage::InboxItem& it) {
      row.last_entry.assign(it.bytes.begin(), it.bytes.end());
    });
  }
  encode_group_summary(out, row);
}

void ShardState::on_gather_part(EnvelopePtr e) {
  auto part = make_envelope(Op::ConnGatherPart);
  part->conn = e->conn;
  part->a = e->a;
  part->code = e->code;
  auto kind = static_cast<GatherKind>(e->code);
  if (kind == GatherKind::Conversations &&
      storage::shard_of_uid(e->uid, worker_->shared().shard_count) == shard_->index()) {
    append_conv_rows(e->uid, uint32_t(e->b), part->bytes);
  }
  for (auto& [gid, ug] : shard_->list_user_groups(e->uid, kMaxGroupsListed)) {
    if (!ug.member) continue;
    GroupMem* g = find_group(gid);
    if (!g) continue;
    MemberRecord* m = find_member(*g, e->uid);
    if (!m || m->leave_seq != 0) continue;
    if (kind == GatherKind::UserGroups) {
      uint8_t raw[8];
      std::memcpy(raw, &gid, 8);
      part->bytes.insert(part->bytes.end(), raw, raw + 8);
    } else {
      summarize(*g, e->uid, *m, part->bytes);
    }
  }
  worker_->route_to_conn(std::move(part));
}

}  // namespace im::core
