// worker.cc - the event loop of one worker thread (see worker.h): ring setup, the turn,
// completions, cross-worker envelopes and the one-second tick.
#include "core/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/shard_state.h"
#include "core/uring_tags.h"

namespace im::core {

namespace {
constexpr unsigned kRingEntries = 4096;
constexpr unsigned kCqEntries = 32768;
constexpr uint32_t kRecvBufferCount = 1024;  // power of two
constexpr uint32_t kRecvBufferBytes = 16384;
constexpr int64_t kShutdownGraceMs = 5000;
// Frames that clients sent before a stop (acks, a logout, a last request) are read and
// handled for this long before every open connection is kicked.
constexpr int64_t kShutdownDrainMs = 100;
}  // namespace

Worker::Worker(uint32_t id, WorkerShared* shared)
    : id_(id), shared_(shared), log_(shared->logs[id].get()) {
  wake_needed_.assign(shared->worker_count, false);
  retry_pending_.assign(shared->worker_count, 0);
}

Worker::~Worker() {
  owned_shards_.clear();
  kdf_.reset();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (auto& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_) munmap(buf_ring_, kRecvBufferCount * sizeof(io_uring_buf));
  free(buf_base_);
}

bool Worker::init(std::string* error) {
  // Any worker may end up with all of the process's connections (SO_REUSEPORT spreads
  // them by hash, not evenly), so each reserves room for max_connections slots.
  conns_.reserve(shared_->config.max_connections);
  free_slots_.reserve(shared_->config.max_connections);
  kdf_ = std::make_unique<KdfPool>(shared_->config.kdf_queue_entries,
                                   ScryptParams{.n = shared_->config.password_scrypt_n}, wake_fd());
  for (uint32_t s = id_; s < shared_->shard_count; s += shared_->worker_count) {
    owned_shards_.push_back(std::make_unique<ShardState>(this, shared_->shards[s].get()));
  }
  return setup_ring(error) && setup_listener(error);
}

bool Worker::setup_ring(std::string* error) {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = kCqEntries;
  int rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
  if (rc < 0) {
    *error = std::string("io_uring_queue_init: ") + strerror(-rc);
    return false;
  }
  ring_ready_ = true;
  buf_count_ = kRecvBufferCount;
  buf_size_ = kRecvBufferBytes;
  size_t ring_bytes = buf_count_ * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    *error = "mmap of the buffer ring failed";
    return false;
  }
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = buf_count_;
  reg.bgid = kRecvBufferGroup;
  rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    *error = std::string("io_uring_register_buf_ring: ") + strerror(-rc);
    return false;
  }
  io_uring_buf_ring_init(buf_ring_);
  buf_base_ = static_cast<uint8_t*>(aligned_alloc(4096, size_t(buf_count_) * buf_size_));
  for (uint32_t i = 0; i < buf_count_; i++) {
    io_uring_buf_ring_add(buf_ring_, buf_base_ + size_t(i) * buf_size_, buf_size_, i,
                          io_uring_buf_ring_mask(buf_count_), i);
  }
  io_uring_buf_ring_advance(buf_ring_, buf_count_);
  return true;
}

bool Worker::setup_listener(std::string* error) {
  const Config& cfg = shared_->config;
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = cfg.bind.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(cfg.port);
    if (inet_pton(AF_INET, cfg.bind.c_str(), &a->sin_addr) != 1) {
      *error = "bad bind address: " + cfg.bind;
      return false;
    }
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(cfg.port);
    if (inet_pton(AF_INET6, cfg.bind.c_str(), &a->sin6_addr) != 1) {
      *error = "bad bind address: " + cfg.bind;
      return false;
    }
    len = sizeof(*a);
  }
  listen_fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  setsockopt(listen_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // inherited (conn_io.cc)
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) < 0 ||
      listen(listen_fd_, 4096) < 0) {
    *error =
        "cannot listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": " + strerror(errno);
    return false;
  }
  return true;
}

io_uring_sqe* Worker::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  IM_ASSERT(sqe != nullptr);
  return sqe;
}

void Worker::arm_accept() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Accept, 0, 0));
}

void Worker::arm_wake() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, wake_fd(), &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Wake, 0, 0));
}

void Worker::commit_owned_shards() {
  if (log_inflight_) return;
  log_pieces_.clear();
  log_writers_.clear();
  const size_t n = owned_shards_.size();
  prepared_.assign(n, CommitPrepared::None);
  refusals_.assign(n, storage::CommitStatus::Ok);
  pieces_.resize(n);
  coupled_.resize(n);
  for (size_t i = 0; i < n; ++i) coupled_[i] = owned_shards_[i]->coupled();
  for (size_t i = 0; i < n; ++i) {
    prepared_[i] = owned_shards_[i]->prepare_commit(&pieces_[i], &refusals_[i]);
  }
  hold_coupled_batches();
  for (size_t i = 0; i < n; ++i) {
    if (prepared_[i] != CommitPrepared::Began) continue;
    log_pieces_.push_back(pieces_[i]);
    log_writers_.push_back(owned_shards_[i].get());
  }
  if (log_pieces_.empty()) return;
  log_->trim([this](uint32_t shard) { return shared_->shards[shard]->applied_through(); });
  switch (log_->place(log_pieces_, &log_write_)) {
    case storage::CommitLog::Place::Ok: {
      for (ShardState* s : log_writers_) s->commit_placed();
      log_inflight_ = true;
      const storage::LogWrite& w = log_write_;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_writev2(sqe, w.fd, w.iov.data(), unsigned(w.iov.size()), w.offset, w.rw_flags);
      io_uring_sqe_set_data64(sqe, make_tag(Tag::LogWrite, 0, 0));
      break;
    }
    case storage::CommitLog::Place::NoRoom:
      // Full of unapplied records: the batches keep building (bounded by max_batch_ops) and
      // the checkpointers, asked to apply now, wake us when they have.
      for (ShardState* s : log_writers_) s->commit_deferred();
      for (uint32_t s = id_; s < shared_->shard_count; s += shared_->worker_count) {
        shared_->shards[s]->request_checkpoint();
      }
      log_writers_.clear();
      break;
    case storage::CommitLog::Place::Failed:
      for (ShardState* s : log_writers_) {
        s->commit_placed();
        s->on_log_written(log_->failed_errno(), 0);
      }
      log_writers_.clear();
      break;
  }
}

// Coupled batches (fused sends) go into one record or none: a batch coupled to one that is
// held (its checkpointer at its bound) is held too; one coupled to a refused batch fails with
// it. Runs to a fixed point, so coupling is transitive.
void Worker::hold_coupled_batches() {
  using P = CommitPrepared;
  auto index_of = [&](const ShardState* s) {
    for (size_t j = 0; j < owned_shards_.size(); ++j) {
      if (owned_shards_[j].get() == s) return j;
    }
    return owned_shards_.size();
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < owned_shards_.size(); ++i) {
      if (prepared_[i] != P::Held && prepared_[i] != P::Refused) continue;
      for (const ShardState* partner : coupled_[i]) {
        const size_t j = index_of(partner);
        if (j == owned_shards_.size() || prepared_[j] == P::Refused) continue;
        if (prepared_[i] == P::Held && prepared_[j] != P::Began) continue;
        if (prepared_[j] == P::Began) owned_shards_[j]->commit_deferred();
        if (prepared_[i] == P::Refused) {
          owned_shards_[j]->fail_coupled(refusals_[i]);
          refusals_[j] = refusals_[i];
        }
        prepared_[j] = prepared_[i];
        changed = true;
      }
    }
  }
}

void Worker::on_log_written(int64_t result) {
  IM_ASSERT(log_inflight_);
  log_inflight_ = false;
  const int err = log_->complete(result);
  for (ShardState* s : log_writers_) s->on_log_written(err, log_write_.position);
  log_writers_.clear();
}

void Worker::arm_tick() {
  tick_ts_.tv_sec = 1;
  tick_ts_.tv_nsec = 0;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Tick, 0, 0));
}

void Worker::run() {
  char name[32];
  std::snprintf(name, sizeof(name), "worker-%u", id_);
  set_thread_log_name(name);
  // Unconfirmed second steps first, before any new request can overtake them.
  for (auto& s : owned_shards_) s->replay_outbox();
  arm_accept();
  arm_wake();
  arm_tick();
  last_tick_ms_ = mono_ms();
  for (;;) {
    int rc = queue_backlog_ ? io_uring_submit_and_get_events(&ring_)
                            : io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      LOG_ERROR("io_uring_submit_and_wait: %s", strerror(-rc));
    }
    reap_completions();
    queue_backlog_ = drain_queues();
    KdfJob job;
    while (kdf_->pop_done(&job)) {
      if (shutting_down_) set_quiet(false);
      uint32_t shard = job.request->shard;
      owned_shards_[shard / shared_->worker_count]->on_kdf_done(std::move(job));
    }
    for (auto& s : owned_shards_) s->poll_commit();
    if (!shutting_down_ && shared_->stopping.load(std::memory_order_relaxed)) begin_shutdown();
    end_turn();
    if (shutting_down_ && done_shutting_down()) break;
  }
  LOG_DEBUG("worker stopped");
}

void Worker::reap_completions() {
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    seen++;
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    uint32_t slot = tag_slot(tag), gen = tag_gen(tag);
    switch (tag_kind(tag)) {
      case Tag::Accept:
        on_accept(cqe->res, cqe->flags & IORING_CQE_F_MORE);
        break;
      case Tag::Recv:
        on_recv(slot, gen, cqe);
        break;
      case Tag::Send:
        on_send(slot, gen, cqe->res);
        break;
      case Tag::Wake:
        arm_wake();
        break;
      case Tag::Tick:
        on_tick();
        arm_tick();
        break;
      case Tag::LogWrite:
        on_log_written(cqe->res);
        break;
      case Tag::Ignore:
        break;
    }
  }
  io_uring_cq_advance(&ring_, seen);
}

// Bounded per turn by work, not by the queue's capacity: a GroupFanout costs one append per
// local member connection, so a backlog of fan-outs (65,536 x 1,000 appends) must not keep
// the loop from sending, receiving and committing. True when a queue may still hold
// envelopes: the next turn then submits without waiting.
bool Worker::drain_queues() {
  bool more = false;
  for (uint32_t src = 0; src < shared_->worker_count; src++) {
    if (src == id_) continue;
    auto& q = shared_->queue(src, id_);
    EnvelopePtr e;
    size_t work = 0;
    if (shutting_down_ && !q.empty()) set_quiet(false);  // before the pop: see all_quiet
    while (work < kMaxQueueWorkPerTurn && q.pop(&e)) {
      work += 1;
      if (e->op == Op::GroupFanout) {
        const auto* slots = group_index_.conns_of_group(e->a);
        work += slots ? slots->size() : 0;
      }
      handle_envelope(std::move(e));
    }
    if (work >= kMaxQueueWorkPerTurn) more = true;
  }
  return more;
}

void Worker::handle_envelope(EnvelopePtr e) {
  if (e->op == Op::GroupFanout || e->op == Op::GroupMembership) return handle_broadcast(*e);
  if (e->op < Op::ConnFrames) {
    uint32_t local = e->shard / shared_->worker_count;
    IM_ASSERT(shared_->owner_of_shard(e->shard) == id_ && local < owned_shards_.size());
    owned_shards_[local]->handle(std::move(e));
  } else {
    on_conn_envelope(std::move(e));
  }
}

void Worker::route_to_shard(EnvelopePtr e) {
  uint32_t owner = shared_->owner_of_shard(e->shard);
  if (owner == id_) return handle_envelope(std::move(e));
  ConnRef conn = e->conn;
  uint64_t req_id = e->req_id;
  bool is_request = e->op != Op::Ack && e->op != Op::DeviceOffline;
  if (!shared_->queue(id_, owner).push(std::move(e))) {
    LOG_WARN("queue to worker %u full: refusing a request", owner);
    if (is_request) {
      Bytes out;
      append_result(out, req_id, Code::Overloaded, "server busy; retry with the same request");
      send_frames(conn, std::move(out));
    }
    return;
  }
  wake_needed_[owner] = true;
}

void Worker::route_to_conn(EnvelopePtr e) {
  uint32_t owner = e->conn.worker;
  if (owner >= shared_->worker_count) return;  // ConnRef::none(): nobody to answer
  if (owner == id_) return on_conn_envelope(std::move(e));
  if (!shared_->queue(id_, owner).push(std::move(e))) {
    // The frames are lost for this connection only: a client whose request got no result
    // retries it (same client_msg_id), and one that sees a gap in inbox_seq syncs.
    LOG_WARN("queue to worker %u full: frames for one connection dropped", owner);
    return;
  }
  wake_needed_[owner] = true;
}

void Worker::send_frames(const ConnRef& conn, Bytes&& frames) {
  if (conn.worker == id_) {  // this worker's connection: straight to its output, no envelope
    if (conn_at(conn)) append_out(conn.slot, frames.data(), frames.size());
    return;
  }
  auto e = make_envelope(Op::ConnFrames);
  e->conn = conn;
  e->bytes = std::move(frames);
  route_to_conn(std::move(e));
}

void Worker::kick(const ConnRef& conn, Code code, std::string_view reason) {
  auto e = make_envelope(Op::ConnKick);
  e->conn = conn;
  e->code = static_cast<uint16_t>(code);
  e->text = std::string(reason);
  route_to_conn(std::move(e));
}

void Worker::end_turn() {
  retry_broadcasts();
  while (!deferred_.empty()) {
    std::vector<EnvelopePtr> batch;
    batch.swap(deferred_);
    for (auto& e : batch) route_to_shard(std::move(e));
  }
  commit_owned_shards();
  for (uint32_t slot : flush_list_) {
    conns_[slot].queued_for_flush = false;
    flush(slot);
  }
  flush_list_.clear();
  for (uint32_t w = 0; w < shared_->worker_count; w++) {
    if (!wake_needed_[w]) continue;
    wake_needed_[w] = false;
    uint64_t one = 1;
    ssize_t n = write(shared_->wake_fds[w], &one, sizeof(one));
    (void)n;
  }
}

void Worker::on_tick() {
  int64_t now = mono_ms();
  last_tick_ms_ = now;
  if (accept_paused_ && !shutting_down_) {
    accept_paused_ = false;
    arm_accept();
  }
  int64_t idle_ms = shared_->config.idle_timeout_ms;
  for (uint32_t slot = 0; slot < conns_.size(); slot++) {
    Connection& c = conns_[slot];
    if (c.state != ConnState::Open) continue;
    if (!c.close_after_flush && now - c.last_rx_ms > idle_ms) {
      kick(ref_of(slot), Code::IdleTimeout, "no frame within the idle timeout");
    } else if (c.close_after_flush && now - c.closing_since_ms > 2000) {
      close_conn(slot, "peer did not read its last frames");
    } else {
      release_idle_buffers(c);
    }
  }
  for (auto& s : owned_shards_) s->on_tick(now);
}

bool Worker::done_shutting_down() {
  if (!kicked_ && mono_ms() - shutdown_started_ms_ >= kShutdownDrainMs) {
    kicked_ = true;
    for (uint32_t slot = 0; slot < conns_.size(); slot++) {
      if (conns_[slot].state == ConnState::Open) {
        kick(ref_of(slot), Code::ServerShutdown, "server is shutting down");
      }
    }
  }
  bool idle = open_conns_ == 0 && !log_inflight_ && deferred_.empty() && broadcast_retry_.empty();
  for (auto& s : owned_shards_) idle = idle && s->idle();
  if (idle) set_quiet(true);
  if (mono_ms() - shutdown_started_ms_ > kShutdownGraceMs) return true;
  return idle && shared_->all_quiet();
}

void Worker::set_quiet(bool quiet) {
  if (shared_->quiet[id_].exchange(quiet) == quiet || !quiet) return;
  // Newly quiet: the others re-check (each one's loop may be waiting for this).
  for (uint32_t w = 0; w < shared_->worker_count; w++) {
    if (w == id_) continue;
    uint64_t one = 1;
    ssize_t n = write(shared_->wake_fds[w], &one, sizeof(one));
    (void)n;
  }
}

void Worker::begin_shutdown() {
  shutting_down_ = true;
  shutdown_started_ms_ = mono_ms();
  if (listen_fd_ >= 0) {
    shutdown(listen_fd_, SHUT_RDWR);
  }
  // The loop wakes when the drain is over (done_shutting_down kicks what is still open).
  drain_ts_.tv_sec = 0;
  drain_ts_.tv_nsec = kShutdownDrainMs * 1000000;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, &drain_ts_, 0, 0);
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Ignore, 0, 0));
}

}  // namespace im::core
