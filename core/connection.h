// connection.h - one client connection as its worker sees it: socket, framing state,
// outbound bytes and session identity. Owned by exactly one worker; lives in that worker's
// slot table and is referred to from elsewhere only by ConnRef (worker, slot, gen).
// Memory per idle connection: this struct plus nothing (no private receive buffer: reads
// land in the worker's shared provided-buffer ring; out buffers exist only under backlog).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/frame_reader.h"

namespace im::core {

enum class ConnState : uint8_t { Free, Open, Closing };

struct Connection {
  explicit Connection(uint32_t max_frame_bytes) : reader(max_frame_bytes) {}

  int fd = -1;
  uint32_t gen = 0;
  ConnState state = ConnState::Free;
  bool recv_armed = false;
  bool send_inflight = false;
  bool close_after_flush = false;  // a Kick/last Result is queued; close once written
  bool queued_for_flush = false;
  protocol::FrameReader reader;
  std::vector<uint8_t> out;      // frames waiting for the next send
  std::vector<uint8_t> sending;  // bytes owned by the send in flight
  size_t sending_offset = 0;
  int64_t last_rx_ms = 0;
  int64_t closing_since_ms = 0;

  // Session.
  bool logged_in = false;
  bool login_pending = false;
  uint64_t uid = 0;
  std::string device_id;
  std::vector<uint64_t> gids;  // groups this connection is indexed under (group_index.h)

  size_t backlog_bytes() const { return out.size() + sending.size() - sending_offset; }
};

}  // namespace im::core
