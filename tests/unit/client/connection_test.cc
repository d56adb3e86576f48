// connection_test.cc - the socket + framing layer against a plain loopback socket: frames
// split across writes, oversized length prefixes, EOF, refused connects, raw bytes.
#include "client/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "protocol/frame_reader.h"
#include "tests/unit/client/server_frames.h"

namespace im::client {
namespace {

// A listening loopback socket on an ephemeral port.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() {
    if (peer_ >= 0) ::close(peer_);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int accept() { return peer_ = ::accept(fd_, nullptr, nullptr); }
  void write(const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(::write(peer_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  void close_peer() {
    ::close(peer_);
    peer_ = -1;
  }
  std::vector<uint8_t> read_exactly(size_t n) {
    std::vector<uint8_t> out(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(peer_, out.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

 private:
  int fd_ = -1;
  int peer_ = -1;
  uint16_t port_ = 0;
};

TEST(Connection, ReadsAFrameSplitAcrossWrites) {
  Listener listener;
  Connection conn;
  ASSERT_TRUE(conn.connect("127.0.0.1", listener.port(), 2000).ok());
  ASSERT_GE(listener.accept(), 0);
  std::vector<uint8_t> wire;
  im::protocol::append_frame(wire, testing::pong_frame(5, 1, 2));
  im::protocol::append_frame(wire, testing::pong_frame(6, 1, 2));
  listener.write({wire.begin(), wire.begin() + 2});
  std::vector<uint8_t> frame;
  EXPECT_EQ(conn.read_frame(&frame, 50), RecvStatus::Timeout);
  listener.write({wire.begin() + 2, wire.end()});
  Result<ReceivedFrame> first = conn.read_verified(2000);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->req_id(), 5u);
  Result<ReceivedFrame> second = conn.read_verified(2000);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->req_id(), 6u);
}

TEST(Connection, OversizedLengthPrefixIsReportedNotAllocated) {
  Listener listener;
  Connection conn(1024);
  ASSERT_TRUE(conn.connect("127.0.0.1", listener.port(), 2000).ok());
  ASSERT_GE(listener.accept(), 0);
  std::vector<uint8_t> prefix(4);
  im::protocol::write_le32(prefix.data(), 4096);
  listener.write(prefix);
  std::vector<uint8_t> frame;
  EXPECT_EQ(conn.read_frame(&frame, 2000), RecvStatus::TooLarge);
}

TEST(Connection, WaitClosedSeesThePeerHangUp) {
  Listener listener;
  Connection conn;
  ASSERT_TRUE(conn.connect("localhost", listener.port(), 2000).ok());
  ASSERT_GE(listener.accept(), 0);
  EXPECT_FALSE(conn.wait_closed(50));
  listener.close_peer();
  EXPECT_TRUE(conn.wait_closed(2000));
}

TEST(Connection, RefusedConnectIsNotConnectedWithTheAddress) {
  uint16_t port;
  {
    Listener gone;
    port = gone.port();
  }
  Connection conn;
  Status status = conn.connect("127.0.0.1", port, 2000);
  EXPECT_EQ(status.code, kNotConnected);
  EXPECT_NE(status.reason.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_FALSE(conn.is_open());
}

TEST(Connection, WriteRawSendsExactlyTheBytesAndWriteFrameAddsThePrefix) {
  Listener listener;
  Connection conn;
  ASSERT_TRUE(conn.connect("127.0.0.1", listener.port(), 2000).ok());
  ASSERT_GE(listener.accept(), 0);
  std::vector<uint8_t> garbage{0xff, 0xff, 0xff, 0x7f, 1, 2};
  ASSERT_TRUE(conn.write_raw(garbage, 1000).ok());
  EXPECT_EQ(listener.read_exactly(garbage.size()), garbage);
  std::vector<uint8_t> body{9, 8, 7};
  ASSERT_TRUE(conn.write_frame(body, 1000).ok());
  std::vector<uint8_t> expected{3, 0, 0, 0, 9, 8, 7};
  EXPECT_EQ(listener.read_exactly(expected.size()), expected);
}

}  // namespace
}  // namespace im::client
