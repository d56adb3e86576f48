// conn_loop.h - the connection driver of imbench: one epoll loop per thread drives many
// non-blocking TCP connections (never a thread per connection). Frames written during a
// loop turn are coalesced per connection and sent with one send() at the end of the turn;
// each readable connection gets one read() per turn into the loop's shared buffer, which
// is split into frames, verified, and handed to the connection's handler.
// Thread: a Loop and its Conns belong to the thread that runs it.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocol/frame_reader.h"
#include "protocol/im_generated.h"

namespace im::bench {

class Conn;
class Loop;

// What a workload does with its connections. Callbacks run on the loop's thread.
class ConnHandler {
 public:
  virtual ~ConnHandler() = default;
  virtual void on_connected(Conn& conn) = 0;
  // A verified frame; it is valid only during the call.
  virtual void on_frame(Conn& conn, const im::proto::Frame& frame) = 0;
  // The connection closed (by the peer, an error, or a bad frame); not called for close().
  virtual void on_closed(Conn& conn, const char* why) = 0;
};

struct LoopStats {
  uint64_t sends = 0;  // send() calls
  uint64_t reads = 0;  // read() calls that returned data
  uint64_t bad_frames = 0;
};

class Conn {
 public:
  Conn() : reader_(kMaxFrameBytes) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Starts a non-blocking connect (from `source` when given). False when the socket could
  // not even be created or bound; errno tells why.
  bool connect(Loop& loop, ConnHandler& handler, const sockaddr_in& server,
               const sockaddr_in* source);
  // Queues [length][bytes]; sent at the end of the loop turn.
  void write(std::span<const uint8_t> frame);
  // Closes now without calling on_closed. reset: send RST instead of FIN, so this side
  // keeps no TIME_WAIT port (login storms would run out of ephemeral ports).
  void close(bool reset = false);
  bool open() const { return fd_ >= 0; }
  bool connected() const { return fd_ >= 0 && !connecting_; }

  void* user = nullptr;  // the workload's per-connection state

 private:
  friend class Loop;
  static constexpr uint32_t kMaxFrameBytes = 16u << 20;
  void fail(const char* why);

  Loop* loop_ = nullptr;
  ConnHandler* handler_ = nullptr;
  int fd_ = -1;
  bool connecting_ = false;
  bool dirty_ = false;       // in the loop's flush list
  bool want_write_ = false;  // EPOLLOUT armed because the socket buffer was full
  std::vector<uint8_t> out_;
  size_t out_sent_ = 0;
  im::protocol::FrameReader reader_;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Waits up to timeout_ns for events and handles them. Returns the number handled.
  // Frames written meanwhile stay queued until flush(): call it once per loop turn.
  int poll(int64_t timeout_ns);
  // Sends what every connection was given since the last flush, one send() each.
  void flush();
  const LoopStats& stats() const { return stats_; }

 private:
  friend class Conn;
  static constexpr int kMaxEvents = 256;
  static constexpr size_t kReadBufferBytes = 256 * 1024;
  void handle(Conn& conn, uint32_t events);
  void handle_readable(Conn& conn);
  bool flush_one(Conn& conn);  // false when the connection failed
  void set_want_write(Conn& conn, bool on);

  int epfd_ = -1;
  std::vector<uint8_t> read_buf_;
  std::vector<Conn*> dirty_;
  LoopStats stats_;
};

// "127.0.0.1:7700" -> sockaddr. False on a malformed address.
bool parse_host_port(const std::string& text, sockaddr_in* out);
// "127.0.0.1" -> sockaddr with port 0.
bool parse_ipv4(const std::string& text, sockaddr_in* out);

}  // namespace im::bench
