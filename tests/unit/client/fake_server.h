// fake_server.h - a scripted stand-in for imserver on 127.0.0.1 (ephemeral port), so the
// SDK's session logic (login, delivery, acks, resends, reconnects, kicks) can be tested
// without the real server. One thread per accepted connection reads frames and calls the
// test's handler; every verified frame is also logged for assertions. Test-only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "protocol/im_generated.h"

namespace im::client::testing {

class FakeServer;

// One accepted connection, as the handler sees it.
class FakeConn {
 public:
  int index() const { return index_; }
  void send(const std::vector<uint8_t>& frame);  // adds the length prefix
  void close();                                  // the client sees EOF

 private:
  friend class FakeServer;
  int fd_ = -1;
  int index_ = 0;
  std::mutex write_mu_;
};

struct LoggedFrame {
  int conn = 0;
  std::vector<uint8_t> bytes;
  const im::proto::Frame& frame() const { return *im::proto::GetFrame(bytes.data()); }
};

class FakeServer {
 public:
  using Handler = std::function<void(FakeConn&, const im::proto::Frame&)>;

  explicit FakeServer(Handler handler);
  ~FakeServer();

  uint16_t port() const { return port_; }
  // Closes every open connection (the listener keeps accepting).
  void drop_connections();
  // Connections accepted so far.
  int connections() const { return accepted_.load(); }

  std::vector<LoggedFrame> frames() const;
  // Waits until some logged frame satisfies pred; false on timeout.
  bool wait_for(const std::function<bool(const LoggedFrame&)>& pred, int timeout_ms) const;
  // Logged frames of one body type.
  std::vector<LoggedFrame> frames_of(im::proto::Body type) const;

 private:
  void accept_loop();
  void serve(std::shared_ptr<FakeConn> conn);

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<LoggedFrame> log_;
  std::vector<std::shared_ptr<FakeConn>> conns_;
  std::vector<std::thread> threads_;
};

}  // namespace im::client::testing
