// connection.h - one client connection as its worker sees it: socket, framing state,
// outbound bytes and session identity. Owned by exactly one worker; lives in that worker's
// slot table and is referred to from elsewhere only by ConnRef (worker, slot, gen).
// Memory per idle connection: this struct (136 bytes on x86-64) plus nothing. No private
// receive buffer (reads land in the worker's shared provided-buffer ring), and the write
// buffers exist only while the connection sends: released at the first tick with nothing sent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/frame_reader.h"

namespace im::core {

enum class ConnState : uint8_t { Free, Open, Closing };

// A connection's bytes on their way out (conn_io.cc): frames queued this turn, and the bytes
// of the send in flight, which the kernel reads until it completes.
struct Outbound {
  std::vector<uint8_t> out;      // frames waiting for the next send
  std::vector<uint8_t> sending;  // bytes owned by the send in flight
  uint32_t sending_offset = 0;   // bytes of `sending` written (below max_outbound_bytes)
};

struct Connection {
  explicit Connection(uint32_t max_frame_bytes) : reader(max_frame_bytes) {}

  int fd = -1;
  uint32_t gen = 0;
  ConnState state = ConnState::Free;
  bool recv_armed = false;
  bool send_inflight = false;
  bool close_after_flush = false;  // a Kick/last Result is queued; close once written
  bool queued_for_flush = false;
  bool sent_since_tick = false;  // a send was started since the last one-second tick
  bool logged_in = false;        // session: a LoginOk was delivered
  bool login_pending = false;    // session: a Hello is at the user's shard
  protocol::FrameReader reader;
  std::unique_ptr<Outbound> outbound;  // while sending, and until the next idle tick
  int64_t last_rx_ms = 0;
  int64_t closing_since_ms = 0;

  // Session (when logged_in).
  uint64_t uid = 0;
  std::string device_id;
  std::vector<uint64_t> gids;  // groups this connection is indexed under (group_index.h)

  size_t backlog_bytes() const {
    if (!outbound) return 0;
    return outbound->out.size() + outbound->sending.size() - outbound->sending_offset;
  }
};

}  // namespace im::core
