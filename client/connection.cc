// connection.cc - sockets, poll-with-deadline loops and the FrameReader glue.
#include "client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace im::client {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Waits for events on fd until deadline; returns poll's revents, 0 on timeout, -1 on error.
int wait_fd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left_ms = deadline_ms - steady_now_ms();
    if (left_ms < 0) left_ms = 0;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left_ms));
    if (n > 0) return p.revents;
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

// Non-blocking connect to one resolved address, finished within deadline_ms.
int connect_one(const addrinfo* ai, int64_t deadline_ms, int* err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) {
    *err = errno;
    ::close(fd);
    return -1;
  }
  int revents = wait_fd(fd, POLLOUT, deadline_ms);
  if (revents <= 0) {
    *err = revents == 0 ? ETIMEDOUT : errno;
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(*err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) != 0 || *err != 0) {
    if (*err == 0) *err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t steady_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

const char* recv_status_name(RecvStatus status) {
  switch (status) {
    case RecvStatus::Frame:
      return "Frame";
    case RecvStatus::Timeout:
      return "Timeout";
    case RecvStatus::Closed:
      return "Closed";
    case RecvStatus::TooLarge:
      return "TooLarge";
    case RecvStatus::BadLength:
      return "BadLength";
    case RecvStatus::Error:
      return "Error";
  }
  return "?";
}

Connection::Connection(uint32_t max_receive_frame_bytes)
    : max_receive_frame_bytes_(max_receive_frame_bytes), reader_(max_receive_frame_bytes) {}

Connection::~Connection() {
  close();
}

Status Connection::connect(std::string_view host, uint16_t port, uint32_t timeout_ms) {
  close();
  peer_ = std::string(host) + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string host_str(host);
  int gai = ::getaddrinfo(host_str.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (gai != 0) return error_status(kNotConnected, "resolve " + peer_ + ": " + gai_strerror(gai));
  int64_t deadline_ms = steady_now_ms() + timeout_ms;
  int err = 0;
  for (const addrinfo* ai = list; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    fd_ = connect_one(ai, deadline_ms, &err);
  }
  ::freeaddrinfo(list);
  if (fd_ < 0) return error_status(kNotConnected, "connect " + peer_ + ": " + errno_text(err));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return ok_status();
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reader_ = im::protocol::FrameReader(max_receive_frame_bytes_);
  ready_.clear();
  failed_.reset();
}

void Connection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

Status Connection::write_all(std::span<const uint8_t> bytes, uint32_t timeout_ms) {
  if (fd_ < 0) return error_status(kNotConnected, "not connected");
  int64_t deadline_ms = steady_now_ms() + timeout_ms;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int revents = wait_fd(fd_, POLLOUT, deadline_ms);
      if (revents == 0) return error_status(kTimeout, "send to " + peer_ + " timed out");
      if (revents < 0) return error_status(kConnectionLost, "poll: " + errno_text(errno));
      continue;
    }
    return error_status(kConnectionLost, "send to " + peer_ + ": " + errno_text(errno));
  }
  return ok_status();
}

Status Connection::write_raw(std::span<const uint8_t> bytes, uint32_t timeout_ms) {
  return write_all(bytes, timeout_ms);
}

Status Connection::write_frame(std::span<const uint8_t> frame, uint32_t timeout_ms) {
  write_buf_.clear();
  im::protocol::append_frame(write_buf_, frame);
  return write_all(write_buf_, timeout_ms);
}

Status Connection::write_frames(std::span<const std::span<const uint8_t>> frames,
                                uint32_t timeout_ms) {
  write_buf_.clear();
  for (std::span<const uint8_t> frame : frames) im::protocol::append_frame(write_buf_, frame);
  return write_all(write_buf_, timeout_ms);
}

RecvStatus Connection::read_available() {
  if (fd_ < 0) return RecvStatus::Error;
  if (failed_) return *failed_;
  chunk_.resize(kReceiveChunkBytes);
  for (;;) {
    ssize_t n = ::recv(fd_, chunk_.data(), chunk_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return RecvStatus::Timeout;
    if (n <= 0) {
      failed_ = RecvStatus::Closed;  // EOF or reset: the frames before it still count
      return *failed_;
    }
    auto status = reader_.feed(std::span<const uint8_t>(chunk_.data(), static_cast<size_t>(n)),
                               [this](std::span<const uint8_t> frame) {
                                 ready_.emplace_back(frame.begin(), frame.end());
                                 return true;
                               });
    if (status == im::protocol::ReadStatus::TooLarge) failed_ = RecvStatus::TooLarge;
    if (status == im::protocol::ReadStatus::Empty) failed_ = RecvStatus::BadLength;
    if (failed_) return *failed_;
    if (static_cast<size_t>(n) < chunk_.size()) return RecvStatus::Timeout;
  }
}

bool Connection::pop_frame(std::vector<uint8_t>* out) {
  if (ready_.empty()) return false;
  *out = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

RecvStatus Connection::read_frame(std::vector<uint8_t>* out, uint32_t timeout_ms) {
  int64_t deadline_ms = steady_now_ms() + timeout_ms;
  for (;;) {
    if (pop_frame(out)) return RecvStatus::Frame;
    if (fd_ < 0) return RecvStatus::Error;
    if (failed_) return *failed_;
    int revents = wait_fd(fd_, POLLIN, deadline_ms);
    if (revents == 0) return RecvStatus::Timeout;
    if (revents < 0) return RecvStatus::Error;
    read_available();
  }
}

Result<ReceivedFrame> Connection::read_verified(uint32_t timeout_ms) {
  std::vector<uint8_t> bytes;
  RecvStatus status = read_frame(&bytes, timeout_ms);
  if (status == RecvStatus::Timeout) return error_status(kTimeout, "no frame within timeout");
  if (status != RecvStatus::Frame) {
    return error_status(kConnectionLost, std::string("read: ") + recv_status_name(status));
  }
  std::optional<ReceivedFrame> frame = ReceivedFrame::verify(bytes);
  if (!frame) return error_status(kBadResponse, "frame failed verification");
  return std::move(*frame);
}

bool Connection::wait_closed(uint32_t timeout_ms) {
  int64_t deadline_ms = steady_now_ms() + timeout_ms;
  std::vector<uint8_t> discard;
  for (;;) {
    RecvStatus status = read_frame(
        &discard, static_cast<uint32_t>(std::max<int64_t>(0, deadline_ms - steady_now_ms())));
    if (status == RecvStatus::Frame) continue;
    if (status == RecvStatus::Timeout) return false;
    return true;  // closed, reset, or a broken stream the server will not continue
  }
}

}  // namespace im::client
