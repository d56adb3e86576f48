// connection.h - one TCP connection speaking the framed protocol: [u32 LE length][Frame].
// Blocking with timeouts (the socket is non-blocking underneath and every wait is a poll
// with a deadline). This is also the SDK's low-level API for tests: write_raw() sends any
// bytes (garbage, a lying length prefix, half a frame), read_frame() returns frames exactly
// as received, before verification, and wait_closed() observes the server hanging up.
// Not thread-safe: one reader at a time and one writer at a time (Client serialises).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/frame_decoders.h"
#include "client/status.h"
#include "protocol/frame_reader.h"

namespace im::client {

// Largest frame the SDK accepts from a server. Pages of pushes are bounded by the server's
// max_frame_bytes (64 KiB by default); this leaves room for servers configured higher.
inline constexpr uint32_t kDefaultMaxReceiveFrameBytes = 1u << 20;
inline constexpr size_t kReceiveChunkBytes = 64 * 1024;

enum class RecvStatus : uint8_t {
  Frame,      // a complete frame was returned
  Timeout,    // nothing complete within the timeout (partial bytes stay buffered)
  Closed,     // the peer closed the connection (EOF) or reset it
  TooLarge,   // a length prefix over max_receive_frame_bytes (connection is unusable)
  BadLength,  // a zero length prefix (connection is unusable)
  Error,      // socket error or not open
};
const char* recv_status_name(RecvStatus status);

class Connection {
 public:
  explicit Connection(uint32_t max_receive_frame_bytes = kDefaultMaxReceiveFrameBytes);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Resolves host (name or address, IPv4 or IPv6) and connects within timeout_ms.
  // Fails with kNotConnected and a reason naming the address and errno text.
  Status connect(std::string_view host, uint16_t port, uint32_t timeout_ms);
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Closes the socket and forgets buffered input. Safe to call twice.
  void close();
  // Half-close: the server sees EOF, we may still read its answer.
  void shutdown_write();

  // Writes every byte (no framing added) within timeout_ms.
  Status write_raw(std::span<const uint8_t> bytes, uint32_t timeout_ms);
  // Writes [length][frame] in one send.
  Status write_frame(std::span<const uint8_t> frame, uint32_t timeout_ms);
  // Writes several frames, each with its prefix, in one send (batching).
  Status write_frames(std::span<const std::span<const uint8_t>> frames, uint32_t timeout_ms);

  // Returns the next frame's bytes (without prefix, not verified) into *out.
  RecvStatus read_frame(std::vector<uint8_t>* out, uint32_t timeout_ms);
  // read_frame + verification; a frame failing verification is kBadResponse.
  Result<ReceivedFrame> read_verified(uint32_t timeout_ms);
  // Reads and discards until the peer closes; true when it closed within timeout_ms.
  bool wait_closed(uint32_t timeout_ms);

  // For an external poll loop (Client's reader thread): read what the socket has now
  // without blocking, then take complete frames with pop_frame(). Returns Timeout when
  // the socket simply has nothing more (the normal case) or the failure (Closed, ...);
  // frames that arrived before a failure are still handed out by pop_frame().
  RecvStatus read_available();
  bool pop_frame(std::vector<uint8_t>* out);
  bool has_frames() const { return !ready_.empty(); }

  const std::string& peer() const { return peer_; }

 private:
  Status write_all(std::span<const uint8_t> bytes, uint32_t timeout_ms);

  uint32_t max_receive_frame_bytes_;
  int fd_ = -1;
  std::string peer_;  // "host:port" for error reasons
  im::protocol::FrameReader reader_;
  std::deque<std::vector<uint8_t>> ready_;  // complete frames not yet handed out
  std::optional<RecvStatus> failed_;        // sticky framing failure / EOF after ready_ drains
  std::vector<uint8_t> chunk_;
  std::vector<uint8_t> write_buf_;
};

// Milliseconds since the unix epoch, and a monotonic clock for deadlines.
int64_t unix_now_ms();
int64_t steady_now_ms();

}  // namespace im::client
