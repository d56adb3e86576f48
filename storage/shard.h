// shard.h - one LMDB environment holding one shard's tables (data/shard-NNN/).
//
// Model: a shard is owned by exactly one worker thread (core decides which). Reads happen
// on that worker through short read transactions (MDB_NOTLS), and return copies or invoke
// a callback while the transaction is open. Writes are never done directly: the owner
// collects a WriteBatch per loop turn and commits it as its piece of the next record of a
// commit log (storage/commit_log.h; the server's workers each write one, shared by the shards
// they own): begin_commit() encodes it, the owner places and writes the record (durable in sync
// mode), finish_commit() takes the result. The owner then calls publish_committed(): reads see
// the batch from then on, through an in-memory overlay (storage/overlay.h), until the
// checkpointer (storage/checkpointer.h) has applied it to the keyed tables below, in large
// batches. A restart replays the log pieces the tables do not include yet into the overlay.
//
// Tables (named databases, big-endian composite keys so scans come out ordered; inbox,
// conv_index and group_log lie in LMDB as one duplicate set per owner, storage/dup_layout.h):
//   users (uid) users_by_name (username) devices (uid, device_id) inbox (uid, inbox_seq)
//   convs (uid, peer) conv_index (uid, peer, inbox_seq) -> 1 byte: 1 incoming, 0 outgoing
//   dedup (uid, client_msg_id) rdedup (sender_uid, client_msg_id) meta (name)
//   groups, members, user_groups, group_log, group_dedup (storage/group_records.h)
//
// Faults: a commit that fails leaves the shard as it was before the batch (LMDB aborts the
// whole transaction). MapFull/DiskFull are recoverable; IoError is not (see docs/design.md:
// a failed fsync is never retried, the owner stops writing to the shard).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/commit_log.h"
#include "storage/group_records.h"
#include "storage/log_record.h"
#include "storage/records.h"
#include "storage/write_batch.h"

namespace im::storage {

enum class CommitStatus : uint8_t {
  Ok = 0,
  MapFull,   // MDB_MAP_FULL at max_map_bytes: writes refused until space is freed
  DiskFull,  // ENOSPC / EDQUOT
  IoError,   // EIO or anything else: the shard must stop taking writes
  Busy,      // begin_commit only: no room in the log yet; nothing happened, retry later
};
const char* commit_status_name(CommitStatus s);

struct ShardOptions {
  uint64_t map_bytes = 1ull << 30;       // initial LMDB map size of the tables
  uint64_t max_map_bytes = 64ull << 30;  // the map grows up to this on MDB_MAP_FULL
  bool sync = true;                      // false: no fsync at all (benchmarks only)
  // Checkpoints (storage/checkpointer.h): apply the log to the tables once its oldest
  // unapplied record is this old or this many bytes are unapplied; commits wait while
  // max_unapplied_bytes are unapplied. A restart replays at most that much.
  uint32_t checkpoint_interval_ms = 100;
  uint64_t checkpoint_bytes = 4ull << 20;
  uint64_t max_unapplied_bytes = 16ull << 20;
  // A shard opened on its own commits to a private log in its dir (log/); the server's shards
  // write to their workers' logs instead (false). A private log's ring grows to this before it
  // wraps (at least 4 x max_unapplied_bytes).
  bool private_log = true;
  uint64_t log_ring_bytes = 64ull << 20;
};

// The log id of a shard's private log (the server's worker logs are 0..workers-1).
constexpr uint32_t kPrivateLogId = 0xffffffff;

struct InboxItem {
  uint64_t inbox_seq;
  std::span<const uint8_t> bytes;  // valid only inside the callback
};

struct ConvIndexItem {
  uint64_t inbox_seq;
  bool incoming;
};

struct ConvRow {
  uint64_t peer_uid;
  ConvRecord record;
};

class Shard {
 public:
  // Opens (creating if missing) the environment in dir. Returns nullptr and sets *error.
  static std::unique_ptr<Shard> open(const std::string& dir, uint32_t index,
                                     const ShardOptions& options, std::string* error);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  uint32_t index() const { return index_; }

  // ---- writes (owner thread only, one commit at a time) ----
  // The owner's asynchronous commit: encodes batch as this shard's piece of the next commit log
  // record (*piece points into the shard until finish_commit or abort_commit); the caller
  // places the record in its log, writes it (the worker through its io_uring) and passes the
  // outcome to finish_commit, which returns Ok once the record is durable (sync mode).
  // begin_commit returns Busy, doing nothing, while the checkpointer is at its bound (retry
  // when the wake fd fires), and refuses the batch with the apply's status while the
  // checkpointer cannot apply (map or disk full). An empty batch needs no write: Ok with an
  // empty piece, no finish_commit.
  CommitStatus begin_commit(const WriteBatch& batch, LogPiece* piece);
  // The log had no room for the record: as if begin_commit had not been called.
  void abort_commit();
  // The record holding the piece is written, at log_position of log log_id (err 0), or its
  // write failed with err (ENOSPC/EDQUOT: DiskFull, retry; else IoError for good).
  CommitStatus finish_commit(int err, uint32_t log_id, uint64_t log_position);
  // The synchronous form through the private log (tests, tools, benchmarks): durable on
  // return in sync mode; waits for the checkpointer when Busy.
  CommitStatus commit(const WriteBatch& batch);
  // Recovery (storage/commit_logs.h), before the owner commits: the piece of record
  // log_position of log log_id. Returns the seq it was given, 0 when the tables hold it
  // already, nullopt when it is damaged.
  std::optional<uint64_t> replay(uint32_t log_id, uint64_t log_position,
                                 std::span<const uint8_t> bytes);
  // The highest seq (LogPiece::seq) applied to the tables. Any thread.
  uint64_t applied_through() const;
  // The checkpointer writes 1 (an eventfd counter) to fd after each apply: an owner waiting
  // on Busy, or for records to prune, wakes. -1: nobody.
  void set_wake_fd(int fd);
  // Owner thread, each loop turn: makes batches committed since the last call visible to reads
  // and forgets those the checkpointer has applied. Cheap when there is nothing to do.
  void publish_committed();
  // Blocks until every committed batch is applied to the tables (tests, tools); the status of
  // the apply.
  CommitStatus checkpoint();
  // Starts applying what is committed now, without waiting (the owner's log has no room);
  // the wake fd fires when it is done.
  void request_checkpoint();
  // True once a commit returned IoError: every later commit returns IoError at once (a failed
  // write or fsync is never retried; reopen the shard after a restart). Any thread.
  bool writes_stopped() const;
  // LMDB/OS text of the last failed commit's error, "" if none yet. Any thread.
  std::string last_commit_error() const;

  // ---- reads (owner worker thread; safe from any thread) ----
  // Each read holds a short read transaction plus a shared lock that map growth takes
  // exclusively (mdb_env_set_mapsize must not run under an open transaction). So a callback
  // must be short and must not call into this Shard (no nested reads, no commit).
  // A read that cannot open a transaction (reader slots full, broken env) returns nothing.
  std::optional<UserRecord> get_user(uint64_t uid);
  std::optional<uint64_t> get_uid_by_username(std::string_view username);
  std::optional<DeviceRecord> get_device(uint64_t uid, std::string_view device_id);
  std::optional<ConvRecord> get_conv(uint64_t uid, uint64_t peer_uid);
  std::optional<DedupRecord> get_dedup(uint64_t uid, uint64_t client_msg_id);
  std::optional<DedupRecord> get_rdedup(uint64_t sender_uid, uint64_t client_msg_id);
  // The highest client_msg_id with a row in dedup (of uid) or rdedup (of sender uid), 0 when
  // there is none; nullopt when the read failed. Rows of any age count.
  std::optional<uint64_t> max_dedup_id(bool rdedup, uint64_t uid);
  std::optional<uint64_t> get_meta_u64(std::string_view name);
  // Newest inbox_seq of uid, 0 when the inbox is empty.
  uint64_t last_inbox_seq(uint64_t uid);
  // Entries of uid's inbox with seq > after_seq, ascending, at most limit; returns the count.
  size_t read_inbox(uint64_t uid, uint64_t after_seq, size_t limit,
                    const std::function<void(const InboxItem&)>& fn);
  // Reads specific inbox entries (ascending or not, as given); missing seqs are skipped.
  size_t read_inbox_seqs(uint64_t uid, std::span<const uint64_t> seqs,
                         const std::function<void(const InboxItem&)>& fn);
  // Conversation index of (uid, peer): if before_seq != 0, entries with seq < before_seq,
  // newest first; else entries with seq > after_seq, oldest first. At most limit.
  std::vector<ConvIndexItem> read_conv_index(uint64_t uid, uint64_t peer_uid, uint64_t before_seq,
                                             uint64_t after_seq, size_t limit);
  // Number of incoming entries of (uid, peer) with seq in (after_seq, up_to_seq].
  uint32_t count_incoming(uint64_t uid, uint64_t peer_uid, uint64_t after_seq, uint64_t up_to_seq);
  // All conversation rows of uid (at most limit), in peer order.
  std::vector<ConvRow> list_convs(uint64_t uid, size_t limit);

  // ---- groups (storage/group_records.h) ----
  std::optional<GroupRecord> get_group(uint64_t gid);
  std::optional<MemberRecord> get_member(uint64_t gid, uint64_t uid);
  // Members of gid with uid > after_uid (current and former), in uid order, at most limit.
  std::vector<std::pair<uint64_t, MemberRecord>> list_members(uint64_t gid, uint64_t after_uid,
                                                              size_t limit);
  // The (gid, record) rows of uid in this shard, in gid order, at most limit.
  std::vector<std::pair<uint64_t, UserGroupRecord>> list_user_groups(uint64_t uid, size_t limit);
  std::optional<DedupRecord> get_group_dedup(uint64_t gid, uint64_t sender_uid,
                                             uint64_t client_msg_id);
  // Group log entries of gid: if before_seq != 0, seq < before_seq newest first; else
  // seq > after_seq oldest first; only seqs in (min_seq, max_seq]; at most limit.
  size_t read_group_log(uint64_t gid, uint64_t before_seq, uint64_t after_seq, uint64_t min_seq,
                        uint64_t max_seq, size_t limit,
                        const std::function<void(const InboxItem&)>& fn);
  // ---- outbox (storage/outbox.cc) ----
  // Outbox rows in position order (at most limit): fn(position, bytes).
  size_t read_outbox(size_t limit,
                     const std::function<void(uint64_t, std::span<const uint8_t>)>& fn);
  // Highest outbox position ever written and not yet deleted (or deleted by a record not yet
  // applied: such positions are not free yet), 0 when empty.
  uint64_t last_outbox_position();

  // Newest group_seq of gid, 0 when the log is empty.
  uint64_t last_group_seq(uint64_t gid);

  // Bytes used by the map (for metrics) and the map size now.
  uint64_t used_bytes();
  uint64_t log_used_bytes();  // the private log's ring file (0 without one)
  uint64_t map_bytes();

 private:
  struct Impl;
  Shard(uint32_t index, std::unique_ptr<Impl> impl);
  uint32_t index_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::storage
