// shard_chat.cc - one-to-one chat on one shard: where a send becomes writes.
//
// A send crosses at most two shards without locks or two-phase commit:
//   1. the receiver's shard appends the receiver's copy and an rdedup row keyed by
//      (sender uid, client_msg_id), commits, pushes to the receiver's devices, and then
//   2. forwards to the sender's shard, which appends the sender's copy and the dedup row,
//      commits, and only then answers SendResult.
// A crash between 1 and 2 leaves the receiver's copy alone; the client resends (no result
// came), step 1 finds the rdedup row and reuses its msg_id, step 2 writes the sender's
// copy: in the end each message is in both inboxes exactly once. docs/design.md has more.
#include <algorithm>

#include "core/clock.h"
#include "core/group_frames.h"
#include "core/shard_state.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace p = im::proto;

namespace {
const p::Send* send_of(const Envelope& e) {
  return p::GetFrame(e.bytes.data())->body_as_Send();  // verified by the session already
}
size_t page_budget(const Config& c) {
  return c.max_frame_bytes - 512;
}
}  // namespace

std::optional<storage::DedupRecord> ShardState::find_dedup(PairMap& pending, bool receiver_side,
                                                           uint64_t uid, uint64_t cmid,
                                                           bool* is_pending) {
  *is_pending = false;
  auto it = pending.find({uid, cmid});
  if (it != pending.end()) {
    *is_pending = true;
    return it->second;
  }
  auto rec = receiver_side ? shard_->get_rdedup(uid, cmid) : shard_->get_dedup(uid, cmid);
  if (!rec) return std::nullopt;
  int64_t window = int64_t(worker_->config().dedup_window_ms);
  if (rec->server_time_ms + window < wall_ms()) return std::nullopt;
  return rec;
}

void ShardState::on_send(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const p::Send* send = send_of(*e);
  uint64_t from = e->uid, to = send->to_uid(), cmid = send->client_msg_id();
  UserMem* receiver = find_user(to);
  if (!receiver) return reply(*e, Code::UnknownUser, "no such user");

  auto forward = make_envelope(Op::SendSenderSide);
  forward->shard = storage::shard_of_uid(from, worker_->shared().shard_count);
  forward->conn = e->conn;
  forward->req_id = e->req_id;
  forward->uid = from;

  bool pending = false;
  if (auto seen = find_dedup(pending_rdedup_, true, from, cmid, &pending)) {
    forward->a = seen->msg_id;
    forward->t = seen->server_time_ms;
    forward->b = 1;
    forward->bytes = std::move(e->bytes);
    if (!pending) return worker_->route_to_shard(std::move(forward));
    AfterCommit a;
    a.kind = AfterCommit::Kind::Forward;
    a.forward = std::move(forward);
    building().after.push_back(std::move(a));
    return;
  }

  int64_t now = wall_ms();
  uint64_t msg_id = ids_.next(now);
  uint64_t seq = assign_seq(*receiver);
  Bytes entry;
  build_message_entry(entry, {to, seq, msg_id, from, to, cmid, now}, *send);
  Batch& b = building();
  b.writes.put_inbox(to, seq, entry);
  b.writes.put_conv_index(to, from, seq, true);
  ConvMem& c = conv(to, from);
  c.rec.last_inbox_seq = seq;
  c.rec.unread += 1;
  c.rec.updated_ms = now;
  c.pending_incoming.push_back(seq);
  put_conv(to, from, c);
  storage::DedupRecord rec{msg_id, seq, now};
  b.writes.put_rdedup(from, cmid, rec);
  pending_rdedup_[{from, cmid}] = rec;
  b.rdedup_keys.push_back({from, cmid});
  after_durable(to, seq);

  forward->a = msg_id;
  forward->t = now;
  forward->bytes = std::move(e->bytes);
  AfterCommit a;
  a.kind = AfterCommit::Kind::Forward;
  a.forward = std::move(forward);
  b.after.push_back(std::move(a));
}

void ShardState::on_send_sender_side(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const p::Send* send = send_of(*e);
  uint64_t from = e->uid, to = send->to_uid(), cmid = send->client_msg_id();
  UserMem* sender = find_user(from);
  if (!sender) return reply(*e, Code::UnknownUser, "the sending user no longer exists");

  bool pending = false;
  if (auto seen = find_dedup(pending_dedup_, false, from, cmid, &pending)) {
    Bytes out;
    append_send_result(out, e->req_id, seen->msg_id, seen->inbox_seq, seen->server_time_ms, true);
    if (!pending) return worker_->send_frames(e->conn, std::move(out));
    return after_frames(e->conn, e->req_id, std::move(out));
  }

  uint64_t seq = assign_seq(*sender);
  Bytes entry;
  build_message_entry(entry, {from, seq, e->a, from, to, cmid, e->t}, *send);
  Batch& b = building();
  b.writes.put_inbox(from, seq, entry);
  b.writes.put_conv_index(from, to, seq, false);
  ConvMem& c = conv(from, to);
  c.rec.last_inbox_seq = seq;
  c.rec.updated_ms = e->t;
  put_conv(from, to, c);
  storage::DedupRecord rec{e->a, seq, e->t};
  b.writes.put_dedup(from, cmid, rec);
  pending_dedup_[{from, cmid}] = rec;
  b.dedup_keys.push_back({from, cmid});
  after_durable(from, seq);
  Bytes out;
  append_send_result(out, e->req_id, e->a, seq, e->t, false);
  after_frames(e->conn, e->req_id, std::move(out));
}

void ShardState::on_mark_read(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  UserMem* u = find_user(e->uid);
  if (!u) return reply(*e, Code::UnknownUser, "no such user");
  uint64_t peer = e->a;
  ConvMem& c = conv(e->uid, peer);
  uint64_t up_to = (e->b == 0 || e->b > c.rec.last_inbox_seq) ? c.rec.last_inbox_seq : e->b;
  if (up_to <= c.rec.read_inbox_seq) {
    Bytes out;
    append_mark_read_ok(out, e->req_id, c.rec.read_inbox_seq, c.rec.unread);
    return worker_->send_frames(e->conn, std::move(out));
  }
  // Unread = incoming entries after the cursor: committed ones counted in LMDB, the rest
  // from the pending list (pruned of seqs that are committed by now).
  auto& pend = c.pending_incoming;
  pend.erase(
      std::remove_if(pend.begin(), pend.end(), [&](uint64_t s) { return s <= u->durable_seq; }),
      pend.end());
  uint32_t unread = 0;
  if (up_to < u->durable_seq) unread = shard_->count_incoming(e->uid, peer, up_to, u->durable_seq);
  for (uint64_t s : pend) unread += s > up_to ? 1 : 0;
  c.rec.read_inbox_seq = up_to;
  c.rec.unread = unread;
  put_conv(e->uid, peer, c);

  uint64_t seq = assign_seq(*u);
  Bytes entry;
  build_read_event_entry(entry, e->uid, seq, peer, up_to, e->device);
  building().writes.put_inbox(e->uid, seq, entry);
  after_durable(e->uid, seq);
  Bytes out;
  append_mark_read_ok(out, e->req_id, up_to, unread);
  after_frames(e->conn, e->req_id, std::move(out));
}

void ShardState::on_sync(EnvelopePtr e) {
  UserMem* u = find_user(e->uid);
  if (!u) return reply(*e, Code::UnknownUser, "no such user");
  const Config& cfg = worker_->config();
  uint32_t limit =
      e->b == 0 ? cfg.default_page_entries : std::min<uint32_t>(e->b, cfg.max_page_entries);
  EntryPage page(page_budget(cfg));
  bool has_more = false;
  uint64_t upto = u->durable_seq;  // uncommitted entries are not visible yet
  shard_->read_inbox(e->uid, e->a, limit, [&](const storage::InboxItem& item) {
    if (item.inbox_seq > upto || has_more) return;
    if (!page.add(item.bytes)) has_more = true;
  });
  if (page.count() == limit && e->a + limit < upto) has_more = true;
  Bytes out;
  page.append_sync_page(out, e->req_id, upto, has_more);
  worker_->send_frames(e->conn, std::move(out));
}

void ShardState::on_history(EnvelopePtr e) {
  const Config& cfg = worker_->config();
  uint32_t limit =
      e->d == 0 ? cfg.default_page_entries : std::min<uint32_t>(e->d, cfg.max_page_entries);
  // before = 0 and after = 0: the newest page (newest first); after alone: oldest first.
  uint64_t before = (e->b == 0 && e->c == 0) ? UINT64_MAX : e->b;
  auto index = shard_->read_conv_index(e->uid, e->a, before, e->c, limit + 1);
  bool has_more = index.size() > limit;
  if (has_more) index.resize(limit);
  std::vector<uint64_t> seqs;
  seqs.reserve(index.size());
  for (auto& it : index) seqs.push_back(it.inbox_seq);
  EntryPage page(page_budget(cfg));
  shard_->read_inbox_seqs(e->uid, seqs, [&](const storage::InboxItem& item) {
    if (!page.add(item.bytes)) has_more = true;
  });
  Bytes out;
  page.append_history_page(out, e->req_id, has_more);
  worker_->send_frames(e->conn, std::move(out));
}

void ShardState::append_conv_rows(uint64_t uid, uint32_t limit, Bytes& out) {
  constexpr size_t kMaxConvsScanned = 100000;
  auto rows = shard_->list_convs(uid, kMaxConvsScanned);
  std::sort(rows.begin(), rows.end(), [](const storage::ConvRow& a, const storage::ConvRow& b) {
    return a.record.updated_ms != b.record.updated_ms ? a.record.updated_ms > b.record.updated_ms
                                                      : a.peer_uid > b.peer_uid;
  });
  // Rows past the limit still count toward the total unread: they travel without the
  // last entry.
  for (size_t i = 0; i < rows.size(); i++) {
    const auto& r = rows[i];
    GroupSummaryRow row;
    row.peer_uid = r.peer_uid;
    row.last_group_seq = r.record.last_inbox_seq;
    row.read_group_seq = r.record.read_inbox_seq;
    row.unread = r.record.unread;
    row.updated_ms = r.record.updated_ms;
    row.do_not_disturb = r.record.muted;
    if (i < limit) {
      uint64_t seq = r.record.last_inbox_seq;
      shard_->read_inbox_seqs(uid, {&seq, 1}, [&](const storage::InboxItem& item) {
        row.last_entry.assign(item.bytes.begin(), item.bytes.end());
      });
    }
    encode_group_summary(out, row);
  }
}

}  // namespace im::core
