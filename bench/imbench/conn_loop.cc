// conn_loop.cc - epoll (level-triggered) driver: connect, one read per readable connection
// per turn, frame splitting and verification, coalesced sends at the end of the turn.
#include "bench/imbench/conn_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "protocol/frame_verify.h"

namespace im::bench {

bool Conn::connect(Loop& loop, ConnHandler& handler, const sockaddr_in& server,
                   const sockaddr_in* source) {
  loop_ = &loop;
  handler_ = &handler;
  reader_ = im::protocol::FrameReader(kMaxFrameBytes);
  out_.clear();
  out_sent_ = 0;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (source != nullptr) {
    // Let connect() pick the port per 4-tuple, so many sources share the port range.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (::bind(fd, reinterpret_cast<const sockaddr*>(source), sizeof(*source)) != 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
  }
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof(server));
  if (rc != 0 && errno != EINPROGRESS) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return false;
  }
  fd_ = fd;
  connecting_ = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = this;
  epoll_ctl(loop.epfd_, EPOLL_CTL_ADD, fd, &ev);
  want_write_ = true;
  return true;
}

void Conn::write(std::span<const uint8_t> frame) {
  if (fd_ < 0) return;
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  im::protocol::append_frame(out_, frame);
  if (!dirty_ && !connecting_) {
    dirty_ = true;
    loop_->dirty_.push_back(this);
  }
}

void Conn::close(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  epoll_ctl(loop_->epfd_, EPOLL_CTL_DEL, fd_, nullptr);
  ::close(fd_);
  fd_ = -1;
  connecting_ = false;
  want_write_ = false;
  out_.clear();
  out_sent_ = 0;
}

void Conn::fail(const char* why) {
  if (fd_ < 0) return;
  close();
  handler_->on_closed(*this, why);
}

Loop::Loop() : read_buf_(kReadBufferBytes) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) std::abort();
}

Loop::~Loop() {
  ::close(epfd_);
}

int Loop::poll(int64_t timeout_ns) {
  epoll_event events[kMaxEvents];
  if (timeout_ns < 0) timeout_ns = 0;
  timespec ts{time_t(timeout_ns / 1'000'000'000), long(timeout_ns % 1'000'000'000)};
  int n = epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
  for (int i = 0; i < n; ++i) handle(*static_cast<Conn*>(events[i].data.ptr), events[i].events);
  return n < 0 ? 0 : n;
}

void Loop::handle(Conn& conn, uint32_t events) {
  if (conn.fd_ < 0) return;
  if (conn.connecting_) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(conn.fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      conn.fail(err == ECONNREFUSED ? "connection refused" : "connect failed");
      return;
    }
    if (!(events & EPOLLOUT)) return;
    conn.connecting_ = false;
    set_want_write(conn, false);
    conn.handler_->on_connected(conn);
    if (!conn.out_.empty() && !conn.dirty_ && conn.fd_ >= 0) {
      conn.dirty_ = true;
      dirty_.push_back(&conn);
    }
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) handle_readable(conn);
  if (conn.fd_ >= 0 && (events & EPOLLOUT)) {
    if (flush_one(conn) && conn.out_sent_ == conn.out_.size()) set_want_write(conn, false);
  }
}

void Loop::handle_readable(Conn& conn) {
  ssize_t n = ::read(conn.fd_, read_buf_.data(), read_buf_.size());
  if (n == 0) return conn.fail("closed by server");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return conn.fail("read error");
  }
  ++stats_.reads;
  bool bad = false;
  auto status = conn.reader_.feed(
      std::span<const uint8_t>(read_buf_.data(), size_t(n)), [&](std::span<const uint8_t> bytes) {
        const im::proto::Frame* frame = im::protocol::verify_frame(bytes);
        if (frame == nullptr) {
          bad = true;
          return false;
        }
        conn.handler_->on_frame(conn, *frame);
        return conn.fd_ >= 0;
      });
  if (bad) {
    ++stats_.bad_frames;
    return conn.fail("bad frame from server");
  }
  if (status != im::protocol::ReadStatus::Ok && conn.fd_ >= 0) conn.fail("broken framing");
}

void Loop::flush() {
  // dirty_ may grow while flushing (a failure callback may write to another connection).
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Conn* conn = dirty_[i];
    conn->dirty_ = false;
    if (conn->fd_ < 0 || conn->want_write_) continue;  // EPOLLOUT will flush it
    if (flush_one(*conn) && conn->out_sent_ < conn->out_.size()) set_want_write(*conn, true);
  }
  dirty_.clear();
}

bool Loop::flush_one(Conn& conn) {
  while (conn.out_sent_ < conn.out_.size()) {
    ssize_t n = ::send(conn.fd_, conn.out_.data() + conn.out_sent_,
                       conn.out_.size() - conn.out_sent_, MSG_NOSIGNAL);
    ++stats_.sends;
    if (n < 0) {
      if (errno == EAGAIN) return true;
      if (errno == EINTR) continue;
      conn.fail("send error");
      return false;
    }
    conn.out_sent_ += size_t(n);
  }
  conn.out_.clear();
  conn.out_sent_ = 0;
  return true;
}

void Loop::set_want_write(Conn& conn, bool on) {
  if (conn.want_write_ == on) return;
  conn.want_write_ = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &conn;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, conn.fd_, &ev);
}

bool parse_ipv4(const std::string& text, sockaddr_in* out) {
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  return inet_pton(AF_INET, text.c_str(), &out->sin_addr) == 1;
}

bool parse_host_port(const std::string& text, sockaddr_in* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (!parse_ipv4(host, out)) return false;
  char* end = nullptr;
  long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) return false;
  out->sin_port = htons(uint16_t(port));
  return true;
}

}  // namespace im::bench
