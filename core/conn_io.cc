// conn_io.cc - a connection's socket life: accept, multishot receive into the shared
// buffer ring, one coalesced send per loop turn, and close. Closing is two steps: shut the
// socket down (which ends the in-flight receive and send), then free the slot once no
// operation refers to it any more.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/uring_tags.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace {
// A send buffer above this size is released after its send unless that send filled at least
// a quarter of it: a connection that keeps receiving bursts (a group fan-out behind a slow
// reader) keeps the buffer it needs instead of growing a new one by doubling for every send
// (the copies and the fresh pages were 18% of the server's time in group-fanout with
// jemalloc), and one that had a single large burst gives it back after its next small send.
constexpr size_t kKeepBufferBytes = 16384;
}  // namespace

Connection* Worker::conn_at(const ConnRef& ref) {
  if (ref.worker != id_ || ref.slot >= conns_.size()) return nullptr;
  Connection& c = conns_[ref.slot];
  if (c.gen != ref.gen || c.state != ConnState::Open) return nullptr;
  return &c;
}

void Worker::on_accept(int res, bool more) {
  if (!more && (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS)) {
    // Accepting again at once would fail the same way, in a loop: wait for the tick.
    LOG_WARN("accept: %s; accepting again in a second", strerror(-res));
    accept_paused_ = true;
    return;
  }
  if (!more && !shutting_down_) arm_accept();
  if (res < 0) {
    if (res != -ECANCELED && res != -EINVAL) LOG_WARN("accept: %s", strerror(-res));
    return;
  }
  uint32_t slot = shutting_down_ ? UINT32_MAX : take_slot();
  if (slot == UINT32_MAX) {
    LOG_WARN("connection refused: %s", shutting_down_ ? "shutting down" : "max_connections");
    close(res);
    return;
  }
  Connection& c = conns_[slot];
  c.fd = res;
  c.state = ConnState::Open;
  c.last_rx_ms = mono_ms();
  set_nodelay(res);
  open_conns_++;
  arm_recv(slot);
}

// The listener has TCP_NODELAY set and Linux copies it to accepted sockets: checked once
// on the first accepted socket, then no syscall per accept (set per socket otherwise).
void Worker::set_nodelay(int fd) {
  int one = 1;
  if (nodelay_inherited_ < 0) {
    int value = 0;
    socklen_t len = sizeof(value);
    bool ok = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0;
    nodelay_inherited_ = ok && value != 0 ? 1 : 0;
  }
  if (nodelay_inherited_ == 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

uint32_t Worker::take_slot() {
  uint32_t max = shared_->config.max_connections;
  if (shared_->open_connections.fetch_add(1, std::memory_order_relaxed) >= max) {
    shared_->open_connections.fetch_sub(1, std::memory_order_relaxed);
    return UINT32_MAX;
  }
  if (free_slots_.empty()) {
    // This worker's slots never outnumber the process's connections, so the reserved
    // capacity holds: the vector does not move.
    IM_ASSERT(conns_.size() < conns_.capacity());
    conns_.emplace_back(shared_->config.max_frame_bytes);
    return uint32_t(conns_.size() - 1);
  }
  uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void Worker::arm_recv(uint32_t slot) {
  Connection& c = conns_[slot];
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kRecvBufferGroup;
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Recv, slot, c.gen));
  c.recv_armed = true;
}

void Worker::recycle_buffer(uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buf_base_ + size_t(bid) * buf_size_, buf_size_, bid,
                        io_uring_buf_ring_mask(buf_count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

void Worker::on_recv(uint32_t slot, uint32_t gen, const io_uring_cqe* cqe) {
  Connection& c = conns_[slot];
  if (c.gen != gen) {
    if (cqe->flags & IORING_CQE_F_BUFFER) recycle_buffer(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    return;
  }
  bool more = cqe->flags & IORING_CQE_F_MORE;
  int res = cqe->res;
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    uint16_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (res > 0 && c.state == ConnState::Open) {
      c.last_rx_ms = mono_ms();
      std::span<const uint8_t> data(buf_base_ + size_t(bid) * buf_size_, size_t(res));
      auto status = c.reader.feed(
          data, [&](std::span<const uint8_t> frame) { return on_frame(slot, frame); });
      if (status == protocol::ReadStatus::TooLarge) {
        refuse_and_close(slot, 0, Code::FrameTooLarge, "frame longer than max_frame_bytes");
      } else if (status == protocol::ReadStatus::Empty) {
        refuse_and_close(slot, 0, Code::BadFrame, "frame with length 0");
      }
    }
    recycle_buffer(bid);
  }
  if (res == 0 || (res < 0 && res != -ENOBUFS)) {
    if (!more) c.recv_armed = false;  // ended: close_conn needs no shutdown to end it
    close_conn(slot, res == 0 ? "peer closed" : "receive error");
  }
  if (!more) {
    c.recv_armed = false;
    if (c.state == ConnState::Open && (res > 0 || res == -ENOBUFS)) arm_recv(slot);
    if (c.state == ConnState::Closing) finish_close(slot);
  }
}

void Worker::append_out(uint32_t slot, const uint8_t* data, size_t size) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Open) return;
  if (c.backlog_bytes() + size > shared_->config.max_outbound_bytes) {
    // A client that does not read: it loses nothing, it resyncs from its ack cursor.
    close_conn(slot, "outbound backlog over max_outbound_bytes (slow consumer)");
    return;
  }
  if (!c.outbound) c.outbound = std::make_unique<Outbound>();
  c.outbound->out.insert(c.outbound->out.end(), data, data + size);
  queue_flush(slot);
}

void Worker::queue_flush(uint32_t slot) {
  Connection& c = conns_[slot];
  if (c.queued_for_flush) return;
  c.queued_for_flush = true;
  flush_list_.push_back(slot);
}

void Worker::flush(uint32_t slot) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Open || c.send_inflight || !c.outbound || c.outbound->out.empty()) {
    return;
  }
  Outbound& o = *c.outbound;
  std::swap(o.out, o.sending);
  o.sending_offset = 0;
  c.sent_since_tick = true;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, c.fd, o.sending.data(), o.sending.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, make_tag(Tag::Send, slot, c.gen));
  c.send_inflight = true;
}

void Worker::on_send(uint32_t slot, uint32_t gen, int res) {
  Connection& c = conns_[slot];
  if (c.gen != gen) return;
  c.send_inflight = false;
  if (c.state != ConnState::Open) {
    if (c.state == ConnState::Closing) finish_close(slot);
    return;
  }
  if (res < 0) {
    close_conn(slot, "send error");
    return;
  }
  IM_ASSERT(c.outbound != nullptr);  // kept while a send is in flight
  Outbound& o = *c.outbound;
  o.sending_offset += uint32_t(res);
  if (o.sending_offset < o.sending.size()) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c.fd, o.sending.data() + o.sending_offset,
                       o.sending.size() - o.sending_offset, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, make_tag(Tag::Send, slot, c.gen));
    c.send_inflight = true;
    return;
  }
  const size_t sent = o.sending.size();
  o.sending.clear();
  o.sending_offset = 0;
  if (o.sending.capacity() > kKeepBufferBytes && sent < o.sending.capacity() / 4) {
    std::vector<uint8_t>().swap(o.sending);
  }
  if (!o.out.empty()) {
    flush(slot);
  } else if (c.close_after_flush) {
    close_conn(slot, "closed after its last frame");
  }
}

// Called every tick: a connection that sent nothing for a whole tick gives its (empty)
// write buffers back to the heap, so an idle connection holds none, while a busy one keeps
// them and sends without allocating.
void Worker::release_idle_buffers(Connection& c) {
  bool idle = !c.sent_since_tick && !c.send_inflight && c.backlog_bytes() == 0;
  c.sent_since_tick = false;
  if (idle) c.outbound.reset();
}

void Worker::close_conn(uint32_t slot, const char* why) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Open) return;
  LOG_DEBUG("closing connection %u: %s", slot, why);
  c.state = ConnState::Closing;
  if (c.logged_in) {
    group_index_.remove_conn(c.uid, slot, c.gids);
    std::vector<uint64_t>().swap(c.gids);
    auto e = make_envelope(Op::DeviceOffline);
    e->shard = storage::shard_of_uid(c.uid, shared_->shard_count);
    e->conn = ref_of(slot);
    e->uid = c.uid;
    e->device = c.device_id;
    // Deferred to the end of the turn: a close can happen while a shard is iterating its
    // device sessions (a push that overflows the backlog), which must not change under it.
    deferred_.push_back(std::move(e));
  }
  // The shutdown only ends a receive or send in flight; with none, close() is enough.
  if (!c.recv_armed && !c.send_inflight) return finish_close(slot);
  shutdown(c.fd, SHUT_RDWR);
}

void Worker::finish_close(uint32_t slot) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Closing || c.recv_armed || c.send_inflight) return;
  close(c.fd);
  c.fd = -1;
  c.gen++;
  c.state = ConnState::Free;
  c.close_after_flush = false;
  c.logged_in = false;
  c.login_pending = false;
  c.uid = 0;
  std::string().swap(c.device_id);
  c.outbound.reset();
  c.reader = protocol::FrameReader(shared_->config.max_frame_bytes);
  c.sent_since_tick = false;
  free_slots_.push_back(slot);
  open_conns_--;
  shared_->open_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace im::core
