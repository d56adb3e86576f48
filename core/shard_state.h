// shard_state.h - everything a worker keeps for one shard it owns: the users whose inboxes
// live there (next inbox_seq, online devices and their delivery cursors), cached
// conversation rows, the dedup rows of sends not yet committed, and the two write batches
// (one building during this loop turn, one whose log write is in flight).
//
// Invariants (owner worker thread only):
// - inbox_seq is assigned here, in order, and a batch commits all of its writes or none;
//   on a failed commit both batches are answered with an error and every cache that may
//   hold uncommitted state is reset to the durable state, so seqs stay gapless.
// - Nothing is answered or pushed before the batch that made it durable has committed.
// - Reads (sync, history, conversation list) see committed state only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/commit_prepared.h"
#include "core/envelope.h"
#include "core/frames.h"
#include "core/kdf_pool.h"
#include "core/recent_entries.h"
#include "storage/msg_id.h"
#include "storage/shard.h"
#include "storage/write_batch.h"

namespace im::core {

class Worker;

class ShardState {
 public:
  ShardState(Worker* worker, storage::Shard* shard);
  ~ShardState();

  void handle(EnvelopePtr e);
  void on_kdf_done(KdfJob&& job);
  void poll_commit();  // each loop turn: let the overlay forget what the checkpoint applied
  // End of each loop turn, while the worker's log has no record in flight (see
  // core/commit_prepared.h; *refusal says why when Refused). After Began (with *piece) the
  // worker answers with commit_placed (the record holding it is being written) or
  // commit_deferred (it is not: the batch keeps building). Batches of answers only complete
  // here.
  CommitPrepared prepare_commit(storage::LogPiece* piece, storage::CommitStatus* refusal);
  void commit_placed();
  void commit_deferred();
  // Shards of this worker whose building batch holds the other copy of a message whose one
  // copy is in ours (a fused send, see on_send): the batches must be in the same log record,
  // or fail together.
  const std::vector<ShardState*>& coupled() { return building().coupled; }
  // Fails the building batch because a coupled shard's storage refused its batch (status).
  void fail_coupled(storage::CommitStatus status);
  // The record holding the in-flight batch was written at log position (err 0) or failed.
  void on_log_written(int err, uint64_t position);
  void on_tick(int64_t now_ms);
  bool idle() const;
  // At start: re-sends the second steps this shard committed but never saw confirmed.
  void replay_outbox();

 private:
  // One per online connection of the user (fields ordered to pack: 104 bytes).
  struct DeviceSession {
    std::string device_id;
    // (last seq, bytes) of each push frame not yet acked, oldest first: at most
    // max_unacked_entries frames (each frame carries at least one entry).
    std::vector<std::pair<uint64_t, uint32_t>> unacked_frames;
    uint64_t sent_up_to = 0;        // highest inbox_seq pushed to this connection
    uint64_t acked = 0;             // highest inbox_seq the device acked
    int64_t ack_wait_since_ms = 0;  // when the device last had nothing unacked or acked
    ConnRef conn;
    // Bytes of pushed frames not yet covered by an ack: at most max_unacked_bytes plus one
    // frame, which config.cc keeps under max_outbound_bytes (at most 1 GiB).
    uint32_t unacked_bytes = 0;
    bool ack_dirty = false;  // the device row differs from this session: write it
    uint8_t platform = 0;
    uint32_t seen_written_s = 0;  // last_seen of the device row as last written, unix s
  };
  struct UserMem {
    uint64_t uid = 0;
    std::string username;
    uint64_t next_seq = 1;     // next inbox_seq to assign
    uint64_t durable_seq = 0;  // highest inbox_seq known committed
    std::vector<DeviceSession> devices;
    RecentEntries recent;  // while a device is online: the newest entries, for pushes
  };
  struct ConvMem {
    storage::ConvRecord rec;
    std::vector<uint64_t> pending_incoming;  // incoming seqs not yet known committed
    uint64_t batch_no = 0;                   // batch that last wrote this row
  };
  // What to do once a batch is durable (or how to answer if it fails).
  struct AfterCommit {
    enum class Kind : uint8_t { Frames, Forward, Durable, GroupFanout, Broadcast };
    Kind kind = Kind::Frames;
    ConnRef conn;
    uint64_t req_id = 0;
    Bytes frames;
    EnvelopePtr forward;
    uint64_t uid = 0;
    uint64_t seq = 0;
  };
  // (gid, sender uid, client_msg_id), like the group_dedup table's key: a sender may reuse a
  // client_msg_id in another group (uniqueness is only promised per sender and conversation).
  struct GroupDedupKey {
    uint64_t gid, uid, cmid;
    bool operator==(const GroupDedupKey&) const = default;
  };
  struct GroupDedupKeyHash {
    size_t operator()(const GroupDedupKey& k) const {
      return std::hash<uint64_t>()((k.gid * 0xBF58476D1CE4E5B9ull ^ k.uid) * 0x9E3779B97F4A7C15ull ^
                                   k.cmid);
    }
  };
  struct Batch {
    storage::WriteBatch writes;
    std::vector<AfterCommit> after;
    std::vector<std::pair<uint64_t, uint64_t>> dedup_keys, rdedup_keys;
    std::vector<GroupDedupKey> gdedup_keys;
    std::vector<std::string> usernames;
    uint64_t batch_no = 0;
    uint64_t uid_counter = 0;  // uid/gid counters as of this batch (meta rows written in it)
    uint64_t gid_counter = 0;
    std::vector<ShardState*> coupled;  // see coupled()
    bool empty() const { return writes.empty() && after.empty(); }
  };
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.first * 0x9E3779B97F4A7C15ull ^ k.second);
    }
  };
  using PairMap = std::unordered_map<std::pair<uint64_t, uint64_t>, storage::DedupRecord, PairHash>;
  using GroupDedupMap = std::unordered_map<GroupDedupKey, storage::DedupRecord, GroupDedupKeyHash>;
  using ConvMap = std::unordered_map<std::pair<uint64_t, uint64_t>, ConvMem, PairHash>;

  struct GroupMem {
    storage::GroupRecord rec;
    uint64_t durable_seq = 0;  // newest group_seq known committed
    std::unordered_map<uint64_t, storage::MemberRecord> members;  // loaded on demand
    std::unordered_set<uint64_t> absent;  // uids known to have no member row
    // Current admins: read from the members table once, then kept by put_member.
    std::optional<std::vector<uint64_t>> admins;
  };

  // shard_state.cc: batches, caches, failure handling
  Batch& building() { return batches_[building_]; }
  Batch& start_batch();              // the building batch becomes the one committing; returns it
  UserMem* find_user(uint64_t uid);  // loads from LMDB; nullptr when no such user
  ConvMem& conv(uint64_t uid, uint64_t peer);
  void put_conv(uint64_t uid, uint64_t peer, ConvMem& c);
  uint64_t assign_seq(UserMem& u);
  // Writes entry at seq of u's inbox into the building batch (and keeps it for pushes while
  // u has a device online).
  void put_inbox_entry(UserMem& u, uint64_t seq, Bytes&& entry);
  void after_frames(const ConnRef& conn, uint64_t req_id, Bytes&& frames);
  void after_durable(uint64_t uid, uint64_t seq);
  void finish_commit(storage::CommitStatus status);
  void complete(Batch& batch);
  void clear_batch(Batch& batch);
  void fail(Batch& batch, Code code, const char* reason);
  void reset_caches();
  bool refuse_writes(const Envelope& e);
  void fail_building(storage::CommitStatus status, Code code, const char* reason);
  void couple(ShardState& other);  // see coupled()
  void reply(const Envelope& e, Code code, std::string_view reason);
  void evict_if_over_cap();

  // shard_auth.cc: register, login, device sessions
  void on_register(EnvelopePtr e);
  void on_login_password(EnvelopePtr e);
  void on_login_token(EnvelopePtr e);
  void finish_register(KdfJob&& job);
  void login_device(EnvelopePtr e, UserMem& u);
  void login_failed(const Envelope& e, Code code, std::string_view reason);
  void on_device_offline(EnvelopePtr e);
  void on_get_users(EnvelopePtr e);

  // shard_chat.cc: send (both sides), mark read, sync, history, conversation list
  void on_send(EnvelopePtr e);
  void on_send_check(EnvelopePtr e);
  void on_send_second(EnvelopePtr e);
  void on_outbox_done(EnvelopePtr e);
  static void encode_outbox_row(const Envelope& second, Bytes& row);
  // Writes one copy of a 1:1 message into owner's inbox (receiver: the receiver's copy)
  // with its conversation rows and dedup row; returns its inbox_seq.
  uint64_t write_copy(UserMem& owner, bool receiver, const Envelope& e, uint64_t msg_id,
                      int64_t time_ms);
  void on_mark_read(EnvelopePtr e);
  void on_sync(EnvelopePtr e);
  void on_history(EnvelopePtr e);
  // The 1:1 conversation rows of uid (newest first, at most limit) as gather rows.
  void append_conv_rows(uint64_t uid, uint32_t limit, Bytes& out);
  std::optional<storage::DedupRecord> find_dedup(PairMap& pending, bool receiver_side, uint64_t uid,
                                                 uint64_t cmid, bool* is_pending);

  // shard_groups.cc: group management (every change a log entry)
  GroupMem* find_group(uint64_t gid);
  storage::MemberRecord* find_member(GroupMem& g, uint64_t uid);
  void put_member(GroupMem& g, uint64_t uid, const storage::MemberRecord& m);
  const std::vector<uint64_t>& admins_of(GroupMem& g);
  uint64_t append_event(GroupMem& g, im::proto::GroupEventKind kind, uint64_t actor,
                        std::span<const uint64_t> targets, std::string_view text, bool flag);
  uint64_t append_group_entry(GroupMem& g, uint64_t seq, const Bytes& entry);
  void broadcast_membership(uint64_t gid, std::span<const uint64_t> joined,
                            std::span<const uint64_t> left);
  void on_create_group(EnvelopePtr e);
  void on_group_manage(EnvelopePtr e);
  Code manage(GroupMem& g, storage::MemberRecord& me, Envelope& e, std::string* reason);
  Code add_members(GroupMem& g, Envelope& e, std::string* reason);
  Code remove_member(GroupMem& g, storage::MemberRecord& me, Envelope& e, std::string* reason);
  void on_get_group(EnvelopePtr e);
  void on_list_members(EnvelopePtr e);

  // shard_group_chat.cc: group send, sync, history, read cursors, summaries
  void on_group_send(EnvelopePtr e);
  void on_group_sync(EnvelopePtr e);
  void on_group_history(EnvelopePtr e);
  void on_group_mark_read(EnvelopePtr e);
  void on_append_read_event(EnvelopePtr e);
  void on_gather_part(EnvelopePtr e);
  // The (lo, hi] range of group_seq a member may read now (committed entries only).
  static std::pair<uint64_t, uint64_t> visible(const GroupMem& g, const storage::MemberRecord& m);
  void summarize(GroupMem& g, uint64_t uid, const storage::MemberRecord& m, Bytes& out);
  bool member_for_read(const Envelope& e, GroupMem** g, storage::MemberRecord** m);

  // shard_delivery.cc: pushes and acks
  void on_ack(EnvelopePtr e);
  void write_dirty_acks();
  void pump(UserMem& u);
  void pump_device(UserMem& u, DeviceSession& d);
  void check_ack_timeouts(int64_t now_ms);

  Worker* worker_;
  storage::Shard* shard_;
  storage::MsgIdGenerator ids_;
  uint64_t persisted_last_msg_id_ = 0;
  uint64_t uid_counter_ = 0;  // last uid counter assigned (uid = counter * S + shard)
  uint64_t durable_uid_counter_ = 0;
  Batch batches_[2];
  int building_ = 0;
  bool inflight_ = false;
  uint64_t next_batch_no_ = 1;
  uint64_t committed_batch_no_ = 0;
  bool failed_ = false;  // an I/O error: no more writes until restart

  std::unordered_map<uint64_t, UserMem> users_;
  ConvMap convs_;
  PairMap pending_dedup_, pending_rdedup_;
  // [0] per uid (dedup), [1] per sender uid (rdedup): the highest client_msg_id of any row,
  // stored or pending, where known. A send whose id is above it is new without a table read
  // (the SDK's ids grow per client, client/client_msg_ids.h). A cache: read from the table on
  // a miss (which misses pending rows: those are in the pending maps), raised when a batch's
  // rows leave the pending maps (clear_batch), cleared when it reaches kMaxDedupHighs entries.
  std::unordered_map<uint64_t, uint64_t> dedup_high_[2];
  GroupDedupMap pending_gdedup_;
  std::unordered_map<uint64_t, GroupMem> groups_;
  uint64_t gid_counter_ = 0;
  uint64_t durable_gid_counter_ = 0;
  std::unordered_set<std::string> pending_usernames_;
  std::vector<uint64_t> ack_dirty_uids_;
  std::vector<uint64_t> pump_uids_;
  int64_t last_dedup_expiry_ms_ = 0;
  uint64_t next_outbox_position_ = 1;
  std::set<uint64_t> outbox_open_;  // positions forwarded and not yet confirmed
  uint64_t outbox_deleted_through_ = 0;
};

}  // namespace im::core
