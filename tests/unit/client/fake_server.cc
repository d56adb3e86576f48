// fake_server.cc - sockets and threads of the scripted test server.
#include "tests/unit/client/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "protocol/frame_reader.h"
#include "protocol/frame_verify.h"

namespace im::client::testing {

void FakeConn::send(const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> wire;
  im::protocol::append_frame(wire, frame);
  std::lock_guard lock(write_mu_);
  size_t off = 0;
  while (off < wire.size() && fd_ >= 0) {
    ssize_t n = ::send(fd_, wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void FakeConn::close() {
  std::lock_guard lock(write_mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

FakeServer::FakeServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("fake server: bind/listen failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread(&FakeServer::accept_loop, this);
}

FakeServer::~FakeServer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  ::close(listen_fd_);
  drop_connections();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  for (auto& conn : conns_) {
    if (conn->fd_ >= 0) ::close(conn->fd_);
  }
}

void FakeServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (stop_) {
      ::close(fd);
      break;
    }
    auto conn = std::make_shared<FakeConn>();
    conn->fd_ = fd;
    conn->index_ = ++accepted_;
    std::lock_guard lock(mu_);
    conns_.push_back(conn);
    threads_.emplace_back(&FakeServer::serve, this, conn);
  }
}

void FakeServer::serve(std::shared_ptr<FakeConn> conn) {
  im::protocol::FrameReader reader(1 << 20);
  std::vector<uint8_t> chunk(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(conn->fd_, chunk.data(), chunk.size(), 0);
    if (n <= 0) break;
    std::vector<std::vector<uint8_t>> frames;
    auto status = reader.feed(std::span<const uint8_t>(chunk.data(), static_cast<size_t>(n)),
                              [&](std::span<const uint8_t> f) {
                                frames.emplace_back(f.begin(), f.end());
                                return true;
                              });
    for (auto& bytes : frames) {
      if (im::protocol::verify_frame(bytes) == nullptr) continue;
      {
        std::lock_guard lock(mu_);
        log_.push_back({conn->index(), bytes});
      }
      cv_.notify_all();
      handler_(*conn, *im::proto::GetFrame(bytes.data()));
    }
    if (status != im::protocol::ReadStatus::Ok) break;
  }
  conn->close();
}

void FakeServer::drop_connections() {
  std::lock_guard lock(mu_);
  for (auto& conn : conns_) conn->close();
}

std::vector<LoggedFrame> FakeServer::frames() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::vector<LoggedFrame> FakeServer::frames_of(im::proto::Body type) const {
  std::vector<LoggedFrame> out;
  for (LoggedFrame& f : frames()) {
    if (f.frame().body_type() == type) out.push_back(std::move(f));
  }
  return out;
}

bool FakeServer::wait_for(const std::function<bool(const LoggedFrame&)>& pred,
                          int timeout_ms) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const LoggedFrame& f : log_) {
      if (pred(f)) return true;
    }
    return false;
  });
}

}  // namespace im::client::testing
