// gather.cc - requests whose answer is spread over every shard, collected on the worker
// of the connection that asked: the user's groups (for the online index at login, for
// ListGroups) and the merged conversation list (1:1 rows from the user's shard, group rows
// from wherever each group lives). One GatherPart goes to every shard; the answer is built
// when the last part arrives. Bounded: at most kMaxShardGathers in flight per worker.
// A login whose user is known to be in no group skips its gather (index_login_groups).
#include <algorithm>
#include <cstring>

#include "core/group_frames.h"
#include "core/log.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace {
constexpr size_t kMaxShardGathers = 4096;
constexpr size_t kMaxGrouplessUids = 1 << 20;  // about 40 MiB per worker when full
}  // namespace

void Worker::start_gather(GatherKind kind, uint32_t slot, uint64_t req_id, uint32_t limit) {
  if (shard_gathers_.size() >= kMaxShardGathers) {
    if (req_id != 0) reply(slot, req_id, Code::Overloaded, "too many lookups in progress");
    return;
  }
  uint64_t id = next_gather_id_++;
  ShardGather& g = shard_gathers_[id];
  g.kind = kind;
  g.conn = ref_of(slot);
  g.req_id = req_id;
  g.limit = limit;
  g.parts_left = shared_->shard_count;
  g.uid = conns_[slot].uid;
  g.joins_seen = joins_seen_;
  for (uint32_t s = 0; s < shared_->shard_count; s++) {
    auto e = make_envelope(Op::GatherPart);
    e->shard = s;
    e->conn = g.conn;
    e->uid = conns_[slot].uid;
    e->a = id;
    e->b = limit;
    e->code = static_cast<uint16_t>(kind);
    route_to_shard(std::move(e));
  }
}

void Worker::on_gather_part(EnvelopePtr e) {
  auto it = shard_gathers_.find(e->a);
  if (it == shard_gathers_.end()) return;
  it->second.data.insert(it->second.data.end(), e->bytes.begin(), e->bytes.end());
  if (--it->second.parts_left == 0) finish_gather(e->a);
}

// Why skipping is safe: the connection is in the by-user index before this runs, so every
// membership broadcast handled from then on indexes it (on_group_membership). A join whose
// broadcast was handled earlier either erased the user from groupless_uids_ (so the gather
// runs) or came before the gather that put it there, and then that gather read the
// committed membership: the group's shard commits before it broadcasts, and a gather part
// sent after the broadcast was handled here reaches that shard after its commit.
void Worker::index_login_groups(uint32_t slot) {
  uint64_t dropped = shared_->broadcasts_dropped.load(std::memory_order_acquire);
  if (dropped != broadcasts_dropped_seen_) {
    broadcasts_dropped_seen_ = dropped;
    groupless_uids_.clear();
  }
  if (groupless_uids_.count(conns_[slot].uid)) return;
  start_gather(GatherKind::UserGroups, slot, 0, 0);
}

void Worker::finish_gather(uint64_t id) {
  ShardGather g = std::move(shard_gathers_[id]);
  shard_gathers_.erase(id);
  // No group anywhere, and no join broadcast handled while the parts were collected (that
  // join might be one the parts did not see yet): remember the user as groupless.
  if (g.kind == GatherKind::UserGroups && g.data.empty() && g.joins_seen == joins_seen_) {
    if (groupless_uids_.size() >= kMaxGrouplessUids) groupless_uids_.clear();
    groupless_uids_.insert(g.uid);
  }
  if (!conn_at(g.conn)) return;
  uint32_t slot = g.conn.slot;
  if (g.kind == GatherKind::UserGroups) return index_conn_groups(slot, g.data);
  auto rows = decode_group_summaries(g.data);
  std::sort(rows.begin(), rows.end(), [](const GroupSummaryRow& a, const GroupSummaryRow& b) {
    return a.updated_ms != b.updated_ms ? a.updated_ms > b.updated_ms : a.gid > b.gid;
  });
  Bytes out;
  if (g.kind == GatherKind::GroupList) {
    append_group_list(out, g.req_id, rows);
  } else {
    uint32_t total_unread = 0;
    std::vector<ConvListItem> items;
    size_t budget = shared_->config.max_frame_bytes - 512, used = 0;
    for (const auto& r : rows) {
      total_unread += r.unread;
      if (items.size() >= g.limit) continue;
      used += r.last_entry.size() + r.name.size() + 128;
      if (used > budget) continue;
      ConvListItem it{};
      it.peer_uid = r.peer_uid;
      it.last_entry = r.last_entry;
      it.unread = r.unread;
      it.muted = r.do_not_disturb;
      it.updated_ms = r.updated_ms;
      if (r.gid == 0) {
        it.last_inbox_seq = r.last_group_seq;
        it.read_inbox_seq = r.read_group_seq;
      } else {
        it.gid = r.gid;
        it.last_group_seq = r.last_group_seq;
        it.read_group_seq = r.read_group_seq;
        it.mentioned = r.mentioned;
        it.name = r.name;
      }
      items.push_back(it);
    }
    append_conversation_list(out, g.req_id, items, total_unread);
  }
  append_out(slot, out.data(), out.size());
}

// The login-time part of the online index: every group the user is a current member of.
void Worker::index_conn_groups(uint32_t slot, std::span<const uint8_t> gids) {
  Connection& c = conns_[slot];
  for (size_t i = 0; i + 8 <= gids.size(); i += 8) {
    uint64_t gid;
    std::memcpy(&gid, gids.data() + i, 8);
    if (std::find(c.gids.begin(), c.gids.end(), gid) != c.gids.end()) continue;
    c.gids.push_back(gid);
    group_index_.add_member_conn(gid, slot);
  }
}

void Worker::on_group_fanout(const Envelope& e) {
  const auto* slots = group_index_.conns_of_group(e.a);
  if (!slots) return;
  // append_out may close a slow connection, which edits the index: iterate a copy.
  thread_local std::vector<uint32_t> targets;
  targets.assign(slots->begin(), slots->end());
  for (uint32_t slot : targets) append_out(slot, e.bytes.data(), e.bytes.size());
}

void Worker::on_group_membership(const Envelope& e) {
  uint64_t gid = e.a;
  if (!e.bytes.empty()) joins_seen_++;
  auto each_uid = [](const uint8_t* p, size_t n, auto&& fn) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t uid;
      std::memcpy(&uid, p + i, 8);
      fn(uid);
    }
  };
  each_uid(e.bytes.data(), e.bytes.size(), [&](uint64_t uid) {
    groupless_uids_.erase(uid);
    const auto* slots = group_index_.conns_of_user(uid);
    if (!slots) return;
    for (uint32_t slot : *slots) {
      auto& gids = conns_[slot].gids;
      if (std::find(gids.begin(), gids.end(), gid) != gids.end()) continue;
      gids.push_back(gid);
      group_index_.add_member_conn(gid, slot);
    }
  });
  each_uid(reinterpret_cast<const uint8_t*>(e.text.data()), e.text.size(), [&](uint64_t uid) {
    const auto* slots = group_index_.conns_of_user(uid);
    if (!slots) return;
    for (uint32_t slot : *slots) {
      auto& gids = conns_[slot].gids;
      gids.erase(std::remove(gids.begin(), gids.end(), gid), gids.end());
      group_index_.remove_member_conn(gid, slot);
    }
  });
}

void Worker::broadcast(EnvelopePtr e) {
  for (uint32_t w = 0; w < shared_->worker_count; w++) {
    if (w == id_) continue;
    auto copy = std::make_unique<Envelope>(*e);
    if (retry_pending_[w] > 0 || !shared_->queue(id_, w).push(std::move(copy))) {
      // Never drop a membership change or a fan-out: retry it on the next turns, in order.
      if (broadcast_retry_.size() >= kMaxBroadcastRetries) {
        LOG_WARN("broadcast retry list full: a group update to worker %u was dropped", w);
        shared_->broadcasts_dropped.fetch_add(1, std::memory_order_release);
        continue;
      }
      broadcast_retry_.emplace_back(w, std::make_unique<Envelope>(*e));
      retry_pending_[w]++;
      continue;
    }
    wake_needed_[w] = true;
  }
  handle_broadcast(*e);
}

// Resends broadcasts that met a full queue, oldest first; stops at the first that still
// does not fit so a worker's broadcasts keep their order.
void Worker::retry_broadcasts() {
  while (!broadcast_retry_.empty()) {
    auto& [w, e] = broadcast_retry_.front();
    if (!shared_->queue(id_, w).push(std::move(e))) return;
    wake_needed_[w] = true;
    retry_pending_[w]--;
    broadcast_retry_.pop_front();
  }
}

void Worker::broadcast_group_frames(uint64_t gid, Bytes&& frames) {
  auto e = make_envelope(Op::GroupFanout);
  e->a = gid;
  e->bytes = std::move(frames);
  broadcast(std::move(e));
}

void Worker::handle_broadcast(const Envelope& e) {
  if (e.op == Op::GroupFanout) return on_group_fanout(e);
  if (e.op == Op::GroupMembership) return on_group_membership(e);
}

void Worker::check_users_then(uint32_t slot, uint64_t req_id, std::vector<uint64_t> uids,
                              EnvelopePtr then) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (uids.empty()) return route_to_shard(std::move(then));
  if (gathers_.size() >= 4096) {
    return reply(slot, req_id, Code::Overloaded, "too many lookups in progress");
  }
  uint32_t shards = shared_->shard_count;
  std::vector<Bytes> per_shard(shards);
  for (uint64_t uid : uids) {
    Bytes& b = per_shard[storage::shard_of_uid(uid, shards)];
    b.push_back(1);
    uint8_t raw[8];
    std::memcpy(raw, &uid, 8);
    b.insert(b.end(), raw, raw + 8);
  }
  uint64_t id = next_gather_id_++;
  UsersGather& g = gathers_[id];
  g.conn = ref_of(slot);
  g.req_id = req_id;
  g.expected = uids.size();
  g.then = std::move(then);
  g.parts_left = 0;
  for (uint32_t s = 0; s < shards; s++) g.parts_left += per_shard[s].empty() ? 0 : 1;
  for (uint32_t s = 0; s < shards; s++) {
    if (per_shard[s].empty()) continue;
    auto e = make_envelope(Op::GetUsers);
    e->shard = s;
    e->conn = g.conn;
    e->req_id = req_id;
    e->a = id;
    e->bytes = std::move(per_shard[s]);
    route_to_shard(std::move(e));
  }
}

}  // namespace im::core
