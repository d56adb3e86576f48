// worker.h - one event-loop thread: its io_uring, its listener, its connections, and the
// shards it owns (shard % workers == id). Nothing here is touched by another thread except
// through the SPSC queues and eventfd of WorkerShared. The loop, per turn: reap completions
// (accepts, reads, sends, wake-ups, the tick), handle frames and queued envelopes, then
// write every owned shard's batch as one record of this worker's commit log (one write and
// sync for all of them) and each connection's pending frames with one send (acks, results
// and pushes coalesced).
#pragma once

#include <liburing.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/commit_prepared.h"
#include "core/config.h"
#include "core/connection.h"
#include "core/envelope.h"
#include "core/frames.h"
#include "core/group_index.h"
#include "core/kdf_pool.h"
#include "core/spsc_queue.h"
#include "core/token.h"
#include "protocol/im_generated.h"
#include "storage/commit_log.h"
#include "storage/shard.h"

namespace im::core {

class ShardState;

// What all workers share, read-only after start (queues and fds are SPSC/atomic).
struct WorkerShared {
  Config config;
  uint32_t worker_count = 1;
  uint32_t shard_count = 16;
  TokenSecret secret{};
  std::vector<std::unique_ptr<storage::Shard>> shards;
  // logs[w]: worker w's commit log, shared by the shards it owns (storage/commit_logs.h).
  std::vector<std::unique_ptr<storage::CommitLog>> logs;
  // queues[src * worker_count + dst]
  std::vector<std::unique_ptr<SpscQueue<EnvelopePtr>>> queues;
  std::vector<int> wake_fds;
  std::atomic<bool> stopping{false};
  // Per shard: the highest uid counter known committed (uid = counter * shards + shard).
  // Written by the shard's owner after each commit, read by every session to know, without
  // a hop, that a uid exists. A miss is not proof of absence: the user's shard decides.
  std::unique_ptr<std::atomic<uint64_t>[]> uid_counters;
  // Broadcasts dropped because a retry list was full (gather.cc). Each worker forgets its
  // groupless users when this moves: one of them may have missed a join.
  std::atomic<uint64_t> broadcasts_dropped{0};
  // Client connections of the whole process (open or closing), bounded by max_connections
  // whichever worker the kernel's SO_REUSEPORT hash hands them to.
  std::atomic<uint32_t> open_connections{0};
  // Shutdown: quiet[w] while worker w is stopping with nothing of its own left to do and has
  // handed nothing on since. A worker leaves only once every worker is quiet and every queue
  // empty, so an ack or a logout queued by another worker is never left behind.
  std::unique_ptr<std::atomic<bool>[]> quiet;
  bool all_quiet() const {
    for (const auto& q : queues) {  // queues first: a worker clears its flag before it pops
      if (!q->empty()) return false;
    }
    for (uint32_t w = 0; w < worker_count; w++) {
      if (!quiet[w].load()) return false;
    }
    return true;
  }

  SpscQueue<EnvelopePtr>& queue(uint32_t src, uint32_t dst) {
    return *queues[src * worker_count + dst];
  }
  uint32_t owner_of_shard(uint32_t shard) const { return shard % worker_count; }
};

class Worker {
 public:
  Worker(uint32_t id, WorkerShared* shared);
  ~Worker();
  bool init(std::string* error);
  void run();
  uint32_t id() const { return id_; }
  // The state of a shard this worker owns, or nullptr.
  ShardState* local_shard(uint32_t shard) {
    if (shared_->owner_of_shard(shard) != id_) return nullptr;
    return owned_shards_[shard / shared_->worker_count].get();
  }
  const Config& config() const { return shared_->config; }
  WorkerShared& shared() { return *shared_; }

  // ---- used by session and shard code (this thread only) ----
  // Hands a request to the owner of e->shard (a direct call when that is this worker).
  void route_to_shard(EnvelopePtr e);
  // Hands an outcome to the worker of e->conn.
  void route_to_conn(EnvelopePtr e);
  // Sends length-prefixed frames to a connection anywhere.
  void send_frames(const ConnRef& conn, Bytes&& frames);
  void kick(const ConnRef& conn, Code code, std::string_view reason);
  // Sends a copy of e to every worker (this one included, directly).
  void broadcast(EnvelopePtr e);
  // Hands a prefixed GroupPush frame to every worker for its online members of gid.
  void broadcast_group_frames(uint64_t gid, Bytes&& frames);
  KdfPool& kdf() { return *kdf_; }
  // True when uid is known to exist (see WorkerShared::uid_counters).
  bool uid_known(uint64_t uid) const {
    uint64_t counter = uid / shared_->shard_count;
    uint32_t shard = uint32_t(uid % shared_->shard_count);
    return counter >= 1 && counter <= shared_->uid_counters[shard].load(std::memory_order_acquire);
  }
  int wake_fd() const { return shared_->wake_fds[id_]; }

 private:
  // event loop (worker.cc)
  bool setup_ring(std::string* error);
  bool setup_listener(std::string* error);
  void reap_completions();
  bool drain_queues();
  void end_turn();
  void on_tick();
  void arm_accept();
  void arm_wake();
  void arm_tick();
  io_uring_sqe* get_sqe();
  void handle_envelope(EnvelopePtr e);
  void begin_shutdown();

  // connections (conn_io.cc)
  void on_accept(int res, bool more);
  void set_nodelay(int fd);
  uint32_t take_slot();  // a free slot, or a new one (UINT32_MAX at max_connections)
  void arm_recv(uint32_t slot);
  void on_recv(uint32_t slot, uint32_t gen, const io_uring_cqe* cqe);
  void on_send(uint32_t slot, uint32_t gen, int res);
  void queue_flush(uint32_t slot);
  void flush(uint32_t slot);
  void append_out(uint32_t slot, const uint8_t* data, size_t size);
  void close_conn(uint32_t slot, const char* why);
  void finish_close(uint32_t slot);
  void recycle_buffer(uint16_t bid);
  void release_idle_buffers(Connection& c);
  Connection* conn_at(const ConnRef& ref);
  ConnRef ref_of(uint32_t slot) const { return {id_, slot, conns_[slot].gen}; }

  // sessions (session.cc)
  bool on_frame(uint32_t slot, std::span<const uint8_t> bytes);
  void on_hello(uint32_t slot, uint64_t req_id, const im::proto::Hello& hello);
  void on_register(uint32_t slot, uint64_t req_id, const im::proto::Register& reg);
  void on_send_request(uint32_t slot, uint64_t req_id, const im::proto::Send& send,
                       std::span<const uint8_t> bytes);
  void on_get_users(uint32_t slot, uint64_t req_id, const im::proto::GetUsers& req);
  void on_conn_envelope(EnvelopePtr e);
  void on_users_part(EnvelopePtr e);
  void on_group_request(uint32_t slot, uint64_t req_id, const im::proto::Frame& frame,
                        std::span<const uint8_t> bytes);
  void route_group_manage(uint32_t slot, uint64_t req_id, uint64_t gid, GroupAction action,
                          uint64_t target, bool flag);

  // gathers across every shard (gather.cc)
  void start_gather(GatherKind kind, uint32_t slot, uint64_t req_id, uint32_t limit);
  // At login: index the connection under the user's groups (a gather, unless the user is
  // known to be in none).
  void index_login_groups(uint32_t slot);
  void on_gather_part(EnvelopePtr e);
  void finish_gather(uint64_t id);
  // Validates that every uid exists (a GetUsers gather), then routes `then`.
  void check_users_then(uint32_t slot, uint64_t req_id, std::vector<uint64_t> uids,
                        EnvelopePtr then);
  void on_group_fanout(const Envelope& e);
  void handle_broadcast(const Envelope& e);
  void on_group_membership(const Envelope& e);
  void index_conn_groups(uint32_t slot, std::span<const uint8_t> gids);
  void reply(uint32_t slot, uint64_t req_id, Code code, std::string_view reason);
  void refuse_and_close(uint32_t slot, uint64_t req_id, Code code, std::string_view reason);
  EnvelopePtr session_envelope(Op op, uint32_t slot, uint64_t req_id);

  uint32_t id_;
  WorkerShared* shared_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int listen_fd_ = -1;
  // provided buffer ring for multishot recv
  io_uring_buf_ring* buf_ring_ = nullptr;
  uint8_t* buf_base_ = nullptr;
  uint32_t buf_count_ = 0;
  uint32_t buf_size_ = 0;
  uint64_t wake_value_ = 0;
  __kernel_timespec tick_ts_{};
  __kernel_timespec drain_ts_{};  // shutdown: when open connections are kicked

  // Slots are created when no free one is left and reused newest-first; the capacity is
  // reserved for max_connections at init, so conns_ never reallocates (a Connection never
  // moves) and an unused slot costs address space only.
  std::vector<Connection> conns_;
  std::vector<uint32_t> free_slots_;
  uint32_t open_conns_ = 0;
  bool accept_paused_ = false;     // out of file descriptors: the tick arms the accept again
  int8_t nodelay_inherited_ = -1;  // accepted sockets get the listener's TCP_NODELAY (-1: unknown)
  std::vector<uint32_t> flush_list_;
  std::vector<EnvelopePtr> deferred_;  // shard requests raised by connection closes

  std::vector<std::unique_ptr<ShardState>> owned_shards_;  // indexed by shard / workers
  // End of a turn, while no record is in flight: the owned shards' batches as one record of
  // the commit log, written through the ring (done: on_log_written).
  void commit_owned_shards();
  void hold_coupled_batches();
  void on_log_written(int64_t result);
  storage::CommitLog* log_ = nullptr;
  storage::LogWrite log_write_;                // the record in flight (read by the kernel)
  std::vector<storage::LogPiece> log_pieces_;  // its pieces
  std::vector<ShardState*> log_writers_;       // the shards they belong to
  // commit_owned_shards' per owned shard (same index): what prepare_commit said, why it was
  // refused, its piece, and its coupled shards as they were before any batch failed.
  std::vector<CommitPrepared> prepared_;
  std::vector<storage::CommitStatus> refusals_;
  std::vector<storage::LogPiece> pieces_;
  std::vector<std::vector<ShardState*>> coupled_;
  bool log_inflight_ = false;
  std::unique_ptr<KdfPool> kdf_;
  std::vector<bool> wake_needed_;  // per destination worker, this turn

  struct UsersGather {
    ConnRef conn;
    uint64_t req_id;
    uint32_t parts_left;
    Bytes users;          // encoded (uid u64, len u8, name) records
    size_t expected = 0;  // check_users_then: how many must exist
    EnvelopePtr then;     // check_users_then: the request to route when all exist
  };
  std::unordered_map<uint64_t, UsersGather> gathers_;
  uint64_t next_gather_id_ = 1;
  struct ShardGather {
    GatherKind kind;
    ConnRef conn;
    uint64_t req_id;
    uint32_t limit;
    uint32_t parts_left;
    Bytes data;
    uint64_t uid = 0;
    uint64_t joins_seen = 0;  // joins_seen_ when the gather started
  };
  std::unordered_map<uint64_t, ShardGather> shard_gathers_;
  static constexpr size_t kMaxBroadcastRetries = 65536;
  static constexpr size_t kMaxQueueWorkPerTurn = 16384;  // envelopes + fan-out appends
  bool queue_backlog_ = false;  // a queue was left non-empty by the last turn
  std::deque<std::pair<uint32_t, EnvelopePtr>> broadcast_retry_;  // (worker, envelope)
  std::vector<uint32_t> retry_pending_;  // per destination worker: entries waiting above
  void retry_broadcasts();
  GroupIndex group_index_;
  // Users whose UserGroups gather came back empty with no membership broadcast naming a
  // joined user processed meanwhile, and none naming them since: their logins skip the
  // gather. At most kMaxGrouplessUids (gather.cc), then cleared.
  std::unordered_set<uint64_t> groupless_uids_;
  uint64_t joins_seen_ = 0;  // GroupMembership broadcasts with joined users handled here
  uint64_t broadcasts_dropped_seen_ = 0;

  bool shutting_down_ = false;
  bool kicked_ = false;       // shutdown: open connections were told to go
  bool done_shutting_down();  // after each turn while shutting down: true to leave the loop
  void set_quiet(bool quiet);
  int64_t shutdown_started_ms_ = 0;
  int64_t last_tick_ms_ = 0;
};

}  // namespace im::core
