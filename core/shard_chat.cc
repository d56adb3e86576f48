// shard_chat.cc - one-to-one chat on one shard: where a send becomes writes.
//
// A send crosses at most two shards without locks or two-phase commit. Step 1 runs on the
// shard of the conversation's smaller uid, step 2 on the other user's shard:
//   1. write that user's copy of the message and its dedup row (dedup for the sender's
//      copy, rdedup for the receiver's, both keyed by (sender uid, client_msg_id)), commit,
//      then forward msg_id and time to step 2;
//   2. write the other copy and its dedup row, commit, and only then answer SendResult.
// A crash between the two leaves one copy alone and no answer; the client resends with the
// same client_msg_id, step 1 finds its dedup row and reuses the msg_id without writing,
// step 2 writes the missing copy: each message ends up in both inboxes exactly once.
// Every message of a conversation passes the same first shard and both queues are FIFO,
// so both users (and all their devices) see a conversation in the same order, and a
// sender's messages never pass each other. docs/design.md has more.
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/group_frames.h"
#include "core/log.h"
#include "core/shard_state.h"
#include "core/worker.h"
#include "protocol/frame_verify.h"
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
// Envelope::d of a second step. kSecondDuplicate: the sender's copy already existed (step 1
// found it), answer duplicate. kSecondCheckDedup: look for an earlier copy on the second
// shard; set when step 1 found its own dedup row and for replayed outbox rows. A send that
// step 1 saw for the first time cannot have a copy on the second shard (that copy is only
// ever written after the first one is durable), so its second step skips the lookup: one
// dedup-table miss per message fewer.
constexpr uint64_t kSecondDuplicate = 1;
constexpr uint64_t kSecondCheckDedup = 2;
// Entries of each dedup_high_ map (16 bytes each plus the map's node): ~4 MiB per shard at most.
constexpr size_t kMaxDedupHighs = 65536;
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
  auto& highs = dedup_high_[receiver_side];
  auto high = highs.find(uid);
  if (high == highs.end()) {
    if (auto stored = shard_->max_dedup_id(receiver_side, uid)) {
      if (highs.size() >= kMaxDedupHighs) highs.clear();
      high = highs.emplace(uid, *stored).first;
    }
  }
  if (high != highs.end() && cmid > high->second) return std::nullopt;  // above every row
  auto rec = receiver_side ? shard_->get_rdedup(uid, cmid) : shard_->get_dedup(uid, cmid);
  if (!rec) return std::nullopt;
  int64_t window = int64_t(worker_->config().dedup_window_ms);
  if (rec->server_time_ms + window < wall_ms()) return std::nullopt;
  return rec;
}

// Step 1, on the shard of the conversation's smaller uid (its owner): every message of a
// conversation passes here first and leaves in commit order, so both inboxes get the
// conversation's messages in the same order.
void ShardState::on_send(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const p::Send* send = send_of(*e);
  uint64_t from = e->uid, to = send->to_uid(), cmid = send->client_msg_id();
  bool receiver_first = to < from;
  if (!receiver_first && e->c == 0 && !worker_->uid_known(to)) {
    // Not yet published as existing: let the receiver's shard decide (on_send_check).
    e->op = Op::SendCheck;
    e->shard = storage::shard_of_uid(to, worker_->shared().shard_count);
    return worker_->route_to_shard(std::move(e));
  }
  UserMem* owner = find_user(receiver_first ? to : from);
  if (!owner) return reply(*e, Code::UnknownUser, "no such user");

  // The request's envelope travels on as the second step (conn, req_id, uid and the Send
  // frame stay): one allocation per message fewer.
  uint32_t second_shard =
      storage::shard_of_uid(receiver_first ? from : to, worker_->shared().shard_count);
  bool pending = false;
  if (auto seen = find_dedup(receiver_first ? pending_rdedup_ : pending_dedup_, receiver_first,
                             from, cmid, &pending)) {
    e->a = seen->msg_id;
    e->t = seen->server_time_ms;
    e->c = receiver_first ? 0 : seen->inbox_seq;
    e->d = (receiver_first ? 0 : kSecondDuplicate) | kSecondCheckDedup;
    e->b = 0;
  } else {
    // A second shard on this worker: its copy goes into its building batch now, and both
    // batches into the same log record (coupled: they commit or fail together), so no
    // outbox row and no second commit. Refused there: nothing is written here either.
    ShardState* fused = worker_->local_shard(second_shard);
    if (fused && fused->refuse_writes(*e)) return;
    int64_t now = wall_ms();
    uint64_t msg_id = ids_.next(now);
    uint64_t seq = write_copy(*owner, receiver_first, *e, msg_id, now);
    e->a = msg_id;
    e->t = now;
    e->c = receiver_first ? 0 : seq;
    e->d = 0;
    if (fused) {
      if (fused != this) couple(*fused);
      e->b = 0;
      e->op = Op::SendSecond;
      e->shard = second_shard;
      return fused->on_send_second(std::move(e));
    }
    e->b = next_outbox_position_++;
    Bytes row;
    encode_outbox_row(*e, row);
    building().writes.put_outbox(e->b, row);
    outbox_open_.insert(e->b);
    pending = true;
  }
  e->op = Op::SendSecond;
  e->shard = second_shard;
  if (!pending) return worker_->route_to_shard(std::move(e));
  AfterCommit a;
  a.kind = AfterCommit::Kind::Forward;
  a.forward = std::move(e);
  building().after.push_back(std::move(a));
}

// The receiver was not known to exist where the send entered: its own shard decides.
void ShardState::on_send_check(EnvelopePtr e) {
  const p::Send* send = send_of(*e);
  if (!find_user(send->to_uid())) return reply(*e, Code::UnknownUser, "no such user");
  e->op = Op::Send;
  e->c = 1;
  e->shard = storage::shard_of_uid(std::min(e->uid, send->to_uid()), worker_->shared().shard_count);
  worker_->route_to_shard(std::move(e));
}

// Step 2, on the other user's shard: write the other copy (unless a resend finds it), then
// answer SendResult once both copies are durable.
void ShardState::on_send_second(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const p::Send* send = send_of(*e);
  uint64_t from = e->uid, to = send->to_uid(), cmid = send->client_msg_id();
  bool receiver = to > from;  // the larger uid's copy is written second
  UserMem* owner = find_user(receiver ? to : from);
  if (!owner) return reply(*e, Code::UnknownUser, "no such user");
  bool pending = false;
  uint64_t sender_seq = e->c;
  bool duplicate = (e->d & kSecondDuplicate) != 0;
  std::optional<storage::DedupRecord> seen;
  if (e->d & kSecondCheckDedup) {
    seen = find_dedup(receiver ? pending_rdedup_ : pending_dedup_, receiver, from, cmid, &pending);
  }
  if (seen) {
    if (!receiver) {
      sender_seq = seen->inbox_seq;
      duplicate = true;
    }
  } else {
    uint64_t seq = write_copy(*owner, receiver, *e, e->a, e->t);
    if (!receiver) sender_seq = seq;
    pending = true;
  }
  Bytes out;
  append_send_result(out, e->req_id, e->a, sender_seq, e->t, duplicate);
  EnvelopePtr done;
  if (e->b != 0) {  // confirm to the first shard: its outbox row can go
    done = make_envelope(Op::OutboxDone);
    done->shard = storage::shard_of_uid(std::min(from, to), worker_->shared().shard_count);
    done->conn = ConnRef::none();
    done->a = e->b;
  }
  if (!pending) {
    if (done) worker_->route_to_shard(std::move(done));
    return worker_->send_frames(e->conn, std::move(out));
  }
  after_frames(e->conn, e->req_id, std::move(out));
  if (done) {
    AfterCommit a;
    a.kind = AfterCommit::Kind::Forward;
    a.forward = std::move(done);
    building().after.push_back(std::move(a));
  }
}

// Outbox rows: [sender uid][msg_id][time][sender's inbox_seq][resend flag][Send frame].
void ShardState::encode_outbox_row(const Envelope& second, Bytes& row) {
  uint64_t head[4] = {second.uid, second.a, uint64_t(second.t), second.c};
  row.resize(sizeof(head) + 1);
  std::memcpy(row.data(), head, sizeof(head));
  row[sizeof(head)] = uint8_t(second.d);
  row.insert(row.end(), second.bytes.begin(), second.bytes.end());
}

void ShardState::replay_outbox() {
  constexpr size_t kMaxReplayed = 1000000;
  size_t n = shard_->read_outbox(kMaxReplayed, [&](uint64_t pos, std::span<const uint8_t> row) {
    uint64_t head[4];
    if (row.size() <= sizeof(head) + 1) return;
    std::memcpy(head, row.data(), sizeof(head));
    std::span<const uint8_t> frame = row.subspan(sizeof(head) + 1);
    if (!protocol::verify_frame(frame) || !p::GetFrame(frame.data())->body_as_Send()) return;
    auto e = make_envelope(Op::SendSecond);
    e->conn = ConnRef::none();
    e->uid = head[0];
    e->a = head[1];
    e->t = int64_t(head[2]);
    e->c = head[3];
    e->d = row[sizeof(head)] | kSecondCheckDedup;  // its copy may have been written already
    e->b = pos;
    e->bytes.assign(frame.begin(), frame.end());
    uint64_t to = send_of(*e)->to_uid();
    e->shard = storage::shard_of_uid(std::max(e->uid, to), worker_->shared().shard_count);
    outbox_open_.insert(pos);
    worker_->route_to_shard(std::move(e));
  });
  if (n > 0) LOG_INFO("shard %u: replayed %zu unconfirmed sends", shard_->index(), n);
}

void ShardState::on_outbox_done(EnvelopePtr e) {
  outbox_open_.erase(e->a);
  uint64_t through = outbox_open_.empty() ? next_outbox_position_ - 1 : *outbox_open_.begin() - 1;
  if (through > outbox_deleted_through_ && !failed_) {
    building().writes.delete_outbox_through(through);
    outbox_deleted_through_ = through;
  }
}

uint64_t ShardState::write_copy(UserMem& owner, bool receiver, const Envelope& e, uint64_t msg_id,
                                int64_t time_ms) {
  const p::Send* send = send_of(e);
  uint64_t from = e.uid, to = send->to_uid(), cmid = send->client_msg_id();
  uint64_t peer = receiver ? from : to;
  uint64_t seq = assign_seq(owner);
  Bytes entry;
  build_message_entry(entry, {owner.uid, seq, msg_id, from, to, cmid, time_ms}, *send);
  put_inbox_entry(owner, seq, std::move(entry));
  Batch& b = building();
  b.writes.put_conv_index(owner.uid, peer, seq, receiver);
  ConvMem& c = conv(owner.uid, peer);
  c.rec.last_inbox_seq = seq;
  c.rec.updated_ms = time_ms;
  if (receiver) {
    c.rec.unread += 1;
    c.pending_incoming.push_back(seq);
  }
  put_conv(owner.uid, peer, c);
  storage::DedupRecord rec{msg_id, seq, time_ms};
  if (receiver) {
    b.writes.put_rdedup(from, cmid, rec);
    pending_rdedup_[{from, cmid}] = rec;
    b.rdedup_keys.push_back({from, cmid});
  } else {
    b.writes.put_dedup(from, cmid, rec);
    pending_dedup_[{from, cmid}] = rec;
    b.dedup_keys.push_back({from, cmid});
  }
  after_durable(owner.uid, seq);
  return seq;
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
  put_inbox_entry(*u, seq, std::move(entry));
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
