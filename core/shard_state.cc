// shard_state.cc - batch life cycle and caches of one owned shard (see shard_state.h).
#include "core/shard_state.h"

#include <algorithm>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/worker.h"

namespace im::core {

namespace {
constexpr const char* kMetaLastMsgId = "last_msg_id";
constexpr const char* kMetaUidCounter = "uid_counter";
constexpr const char* kMetaGidCounter = "gid_counter";
constexpr size_t kMaxCachedUsers = 200000;
constexpr size_t kMaxCachedConvs = 400000;
constexpr int64_t kDedupExpiryEveryMs = 60000;
constexpr uint32_t kDedupExpiryRows = 2000;
}  // namespace

ShardState::ShardState(Worker* worker, storage::Shard* shard)
    : worker_(worker),
      shard_(shard),
      ids_(shard->index(), shard->get_meta_u64(kMetaLastMsgId).value_or(0)) {
  shard->set_wake_fd(worker->wake_fd());  // a checkpoint may make room for a Busy commit
  persisted_last_msg_id_ = ids_.last();
  uid_counter_ = durable_uid_counter_ = shard->get_meta_u64(kMetaUidCounter).value_or(0);
  gid_counter_ = durable_gid_counter_ = shard->get_meta_u64(kMetaGidCounter).value_or(0);
  worker->shared().uid_counters[shard->index()].store(durable_uid_counter_);
  next_outbox_position_ = shard->last_outbox_position() + 1;
}

ShardState::~ShardState() {
  shard_->set_wake_fd(-1);
}

bool ShardState::idle() const {
  return !inflight_ && batches_[building_].empty();
}

void ShardState::handle(EnvelopePtr e) {
  switch (e->op) {
    case Op::Register:
      return on_register(std::move(e));
    case Op::LoginPassword:
      return on_login_password(std::move(e));
    case Op::LoginToken:
      return on_login_token(std::move(e));
    case Op::Send:
      return on_send(std::move(e));
    case Op::SendCheck:
      return on_send_check(std::move(e));
    case Op::SendSecond:
      return on_send_second(std::move(e));
    case Op::OutboxDone:
      return on_outbox_done(std::move(e));
    case Op::Ack:
      return on_ack(std::move(e));
    case Op::Sync:
      return on_sync(std::move(e));
    case Op::History:
      return on_history(std::move(e));
    case Op::MarkRead:
      return on_mark_read(std::move(e));
    case Op::GetUsers:
      return on_get_users(std::move(e));
    case Op::DeviceOffline:
      return on_device_offline(std::move(e));
    case Op::AppendReadEvent:
      return on_append_read_event(std::move(e));
    case Op::CreateGroup:
      return on_create_group(std::move(e));
    case Op::GroupManage:
      return on_group_manage(std::move(e));
    case Op::GroupSend:
      return on_group_send(std::move(e));
    case Op::GroupSync:
      return on_group_sync(std::move(e));
    case Op::GroupHistory:
      return on_group_history(std::move(e));
    case Op::GetGroup:
      return on_get_group(std::move(e));
    case Op::ListMembers:
      return on_list_members(std::move(e));
    case Op::GroupMarkRead:
      return on_group_mark_read(std::move(e));
    case Op::GatherPart:
      return on_gather_part(std::move(e));
    default:
      IM_ASSERT(false && "connection op routed to a shard");
  }
}

void ShardState::reply(const Envelope& e, Code code, std::string_view reason) {
  Bytes out;
  append_result(out, e.req_id, code, reason);
  worker_->send_frames(e.conn, std::move(out));
}

bool ShardState::refuse_writes(const Envelope& e) {
  if (building().writes.ops() >= worker_->config().max_batch_ops) {
    reply(e, Code::Overloaded, "too many writes waiting for this shard; retry shortly");
    return true;
  }
  if (failed_) {
    reply(e, Code::StorageFailed, "shard stopped after an I/O error; the server needs a restart");
    return true;
  }
  if (worker_->shared().stopping.load(std::memory_order_relaxed)) {
    reply(e, Code::ShuttingDown, "server is shutting down; retry after reconnecting");
    return true;
  }
  return false;
}

ShardState::UserMem* ShardState::find_user(uint64_t uid) {
  auto it = users_.find(uid);
  if (it != users_.end()) return &it->second;
  auto rec = shard_->get_user(uid);
  if (!rec || rec->status != storage::UserStatus::Active) return nullptr;
  UserMem& u = users_[uid];
  u.uid = uid;
  u.username = rec->username;
  u.durable_seq = shard_->last_inbox_seq(uid);
  u.next_seq = u.durable_seq + 1;
  return &u;
}

ShardState::ConvMem& ShardState::conv(uint64_t uid, uint64_t peer) {
  auto [it, inserted] = convs_.try_emplace({uid, peer});
  if (inserted) {
    if (auto rec = shard_->get_conv(uid, peer)) it->second.rec = *rec;
  }
  return it->second;
}

void ShardState::put_conv(uint64_t uid, uint64_t peer, ConvMem& c) {
  building().writes.put_conv(uid, peer, c.rec);
  c.batch_no = next_batch_no_;
}

uint64_t ShardState::assign_seq(UserMem& u) {
  return u.next_seq++;
}

void ShardState::put_inbox_entry(UserMem& u, uint64_t seq, Bytes&& entry) {
  building().writes.put_inbox(u.uid, seq, entry);
  if (!u.devices.empty()) u.recent.add(seq, std::move(entry));
}

void ShardState::after_frames(const ConnRef& conn, uint64_t req_id, Bytes&& frames) {
  AfterCommit a;
  a.kind = AfterCommit::Kind::Frames;
  a.conn = conn;
  a.req_id = req_id;
  a.frames = std::move(frames);
  building().after.push_back(std::move(a));
}

void ShardState::after_durable(uint64_t uid, uint64_t seq) {
  AfterCommit a;
  a.kind = AfterCommit::Kind::Durable;
  a.uid = uid;
  a.seq = seq;
  building().after.push_back(std::move(a));
}

CommitPrepared ShardState::prepare_commit(storage::LogPiece* piece,
                                          storage::CommitStatus* refusal) {
  if (inflight_ || failed_) return CommitPrepared::None;
  // Ack cursors wait for the tick, except once the server is stopping: an ack or a logout
  // handled after the last tick would not be written before this worker goes idle.
  if (worker_->shared().stopping.load(std::memory_order_relaxed)) write_dirty_acks();
  Batch& b = building();
  if (b.empty()) return CommitPrepared::None;
  if (ids_.last() != persisted_last_msg_id_) {
    b.writes.put_meta_u64(kMetaLastMsgId, ids_.last());
    persisted_last_msg_id_ = ids_.last();
  }
  if (uid_counter_ != durable_uid_counter_) b.writes.put_meta_u64(kMetaUidCounter, uid_counter_);
  if (gid_counter_ != durable_gid_counter_) b.writes.put_meta_u64(kMetaGidCounter, gid_counter_);
  storage::CommitStatus status = shard_->begin_commit(b.writes, piece);
  // The checkpointer is at its bound: the batch keeps building (bounded by max_batch_ops) and
  // the checkpointer's wake-up brings us back here.
  if (status == storage::CommitStatus::Busy) return CommitPrepared::Held;
  if (status == storage::CommitStatus::Ok && !piece->bytes.empty()) return CommitPrepared::Began;
  Batch& started = start_batch();
  if (status == storage::CommitStatus::Ok) {
    complete(started);  // answers only: everything they depend on is already durable
    return CommitPrepared::None;
  }
  inflight_ = true;
  finish_commit(status);  // refused, unwritten
  *refusal = status;
  return CommitPrepared::Refused;
}

void ShardState::fail_coupled(storage::CommitStatus status) {
  if (building().empty()) return;  // failed already (reached through another partner)
  const bool io = status == storage::CommitStatus::IoError;
  LOG_WARN("shard %u: batch failed with a coupled shard's (%s)", shard_->index(),
           storage::commit_status_name(status));
  fail_building(status, io ? Code::StorageFailed : Code::StorageFull,
                io ? "storage I/O error on another shard of this message; retry"
                   : "storage is full; writes are refused until space is freed");
  reset_caches();
}

void ShardState::couple(ShardState& other) {
  auto link = [](std::vector<ShardState*>& list, ShardState* s) {
    if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
  };
  link(building().coupled, &other);
  link(other.building().coupled, this);
}

ShardState::Batch& ShardState::start_batch() {
  Batch& b = building();
  b.batch_no = next_batch_no_++;
  b.uid_counter = uid_counter_;  // what this batch makes durable
  b.gid_counter = gid_counter_;
  building_ = 1 - building_;
  return b;
}

void ShardState::commit_placed() {
  start_batch();
  inflight_ = true;
}

void ShardState::commit_deferred() {
  shard_->abort_commit();
}

void ShardState::poll_commit() {
  if (!inflight_) shard_->publish_committed();  // forgets what the checkpoint applied
}

void ShardState::on_log_written(int err, uint64_t position) {
  IM_ASSERT(inflight_);
  finish_commit(shard_->finish_commit(err, worker_->id(), position));
}

void ShardState::finish_commit(storage::CommitStatus status) {
  // The batch becomes readable here, before anything acts on it being durable.
  shard_->publish_committed();
  inflight_ = false;
  Batch& b = batches_[1 - building_];
  if (status == storage::CommitStatus::Ok) {
    complete(b);
    return;
  }
  // The building batch was assigned seqs on top of the failed one: fail it as well.
  const char* name = storage::commit_status_name(status);
  if (status == storage::CommitStatus::IoError) {
    failed_ = true;
    LOG_ERROR("shard %u: commit failed (%s); the shard stops taking writes until restart",
              shard_->index(), name);
    fail(b, Code::StorageFailed, "storage I/O error; the shard stopped taking writes");
    fail_building(status, Code::StorageFailed,
                  "storage I/O error; the shard stopped taking writes");
  } else {
    LOG_WARN("shard %u: commit refused (%s); writes are refused until space returns",
             shard_->index(), name);
    fail(b, Code::StorageFull, "storage is full; writes are refused until space is freed");
    fail_building(status, Code::StorageFull,
                  "storage is full; writes are refused until space is freed");
  }
  reset_caches();
}

// The building batch fails, and with it the building batches coupled to it (their fused
// sends' other copies are in this one).
void ShardState::fail_building(storage::CommitStatus status, Code code, const char* reason) {
  std::vector<ShardState*> partners;
  partners.swap(building().coupled);
  fail(building(), code, reason);
  for (ShardState* p : partners) p->fail_coupled(status);
}

void ShardState::complete(Batch& batch) {
  committed_batch_no_ = batch.batch_no;
  durable_uid_counter_ = std::max(durable_uid_counter_, batch.uid_counter);
  durable_gid_counter_ = std::max(durable_gid_counter_, batch.gid_counter);
  worker_->shared().uid_counters[shard_->index()].store(durable_uid_counter_,
                                                        std::memory_order_release);
  pump_uids_.clear();
  for (auto& a : batch.after) {
    switch (a.kind) {
      case AfterCommit::Kind::Frames:
        worker_->send_frames(a.conn, std::move(a.frames));
        break;
      case AfterCommit::Kind::Forward:
        worker_->route_to_shard(std::move(a.forward));
        break;
      case AfterCommit::Kind::Durable: {
        auto it = users_.find(a.uid);
        if (it == users_.end()) break;
        if (a.seq > it->second.durable_seq) it->second.durable_seq = a.seq;
        pump_uids_.push_back(a.uid);
        break;
      }
      case AfterCommit::Kind::GroupFanout: {
        auto it = groups_.find(a.uid);
        if (it != groups_.end() && a.seq > it->second.durable_seq) it->second.durable_seq = a.seq;
        worker_->broadcast_group_frames(a.uid, std::move(a.frames));
        break;
      }
      case AfterCommit::Kind::Broadcast:
        worker_->broadcast(std::move(a.forward));
        break;
    }
  }
  std::sort(pump_uids_.begin(), pump_uids_.end());
  pump_uids_.erase(std::unique(pump_uids_.begin(), pump_uids_.end()), pump_uids_.end());
  for (uint64_t uid : pump_uids_) {
    auto it = users_.find(uid);
    if (it != users_.end()) pump(it->second);
  }
  clear_batch(batch);
}

// Forgets a batch after it committed or failed: its pending dedup rows and usernames are
// either in LMDB now or never will be.
void ShardState::clear_batch(Batch& batch) {
  for (int rdedup = 0; rdedup < 2; ++rdedup) {
    for (auto [uid, cmid] : rdedup ? batch.rdedup_keys : batch.dedup_keys) {
      (rdedup ? pending_rdedup_ : pending_dedup_).erase({uid, cmid});
      // A known high must cover the row now that the pending map forgets it (a high read from
      // the table while the row was pending missed it).
      auto high = dedup_high_[rdedup].find(uid);
      if (high != dedup_high_[rdedup].end()) high->second = std::max(high->second, cmid);
    }
  }
  for (auto& k : batch.gdedup_keys) pending_gdedup_.erase(k);
  for (auto& name : batch.usernames) pending_usernames_.erase(name);
  batch.writes.clear();
  batch.after.clear();
  batch.dedup_keys.clear();
  batch.rdedup_keys.clear();
  batch.gdedup_keys.clear();
  batch.usernames.clear();
  batch.coupled.clear();
}

void ShardState::fail(Batch& batch, Code code, const char* reason) {
  for (auto& a : batch.after) {
    if (a.kind == AfterCommit::Kind::Frames && a.req_id != 0) {
      Bytes out;
      append_result(out, a.req_id, code, reason);
      worker_->send_frames(a.conn, std::move(out));
    } else if (a.kind == AfterCommit::Kind::Forward) {
      // A second step whose first step failed: its outbox row was never written.
      if (a.forward->op == Op::SendSecond && a.forward->b != 0) outbox_open_.erase(a.forward->b);
      if (a.forward->req_id == 0) continue;  // internal follow-ups have nobody to answer
      Bytes out;
      append_result(out, a.forward->req_id, code, reason);
      worker_->send_frames(a.forward->conn, std::move(out));
    }
  }
  clear_batch(batch);
}

void ShardState::reset_caches() {
  groups_.clear();
  for (auto& highs : dedup_high_) highs.clear();
  gid_counter_ = durable_gid_counter_;
  for (auto& [uid, u] : users_) {
    u.recent.clear();
    u.durable_seq = shard_->last_inbox_seq(uid);
    u.next_seq = u.durable_seq + 1;
    for (auto& d : u.devices) {
      if (d.sent_up_to > u.durable_seq) d.sent_up_to = u.durable_seq;
      if (d.acked > d.sent_up_to) d.acked = d.sent_up_to;
    }
  }
  convs_.clear();
  uid_counter_ = durable_uid_counter_;
}

void ShardState::on_tick(int64_t now_ms) {
  if (now_ms - last_dedup_expiry_ms_ >= kDedupExpiryEveryMs && !failed_) {
    last_dedup_expiry_ms_ = now_ms;
    int64_t cutoff = wall_ms() - int64_t(worker_->config().dedup_window_ms);
    building().writes.expire_dedup(cutoff, kDedupExpiryRows);
  }
  write_dirty_acks();
  check_ack_timeouts(now_ms);
  evict_if_over_cap();
}

void ShardState::evict_if_over_cap() {
  if (users_.size() > kMaxCachedUsers) {
    for (auto it = users_.begin(); it != users_.end();) {
      const UserMem& u = it->second;
      bool clean = u.devices.empty() && u.next_seq == u.durable_seq + 1;
      it = clean ? users_.erase(it) : std::next(it);
    }
  }
  if (convs_.size() > kMaxCachedConvs) {
    for (auto it = convs_.begin(); it != convs_.end();) {
      bool clean = it->second.batch_no <= committed_batch_no_;
      it = clean ? convs_.erase(it) : std::next(it);
    }
  }
}

}  // namespace im::core
