// user_setup.cc - pipelined Register requests over a few blocking connections.
#include "bench/imbench/user_setup.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "bench/imbench/clock.h"
#include "client/frame_builders.h"
#include "client/frame_decoders.h"
#include "protocol/frame_reader.h"
#include "protocol/frame_verify.h"

namespace im::bench {

namespace {

constexpr uint32_t kSetupThreads = 4;
constexpr uint32_t kPipelineDepth = 32;  // Register requests in flight per connection

struct Shared {
  std::atomic<uint32_t> created{0}, existing{0};
  std::mutex mutex;
  std::string error;
  void fail(const std::string& why) {
    std::lock_guard lock(mutex);
    if (error.empty()) error = why;
  }
};

bool write_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

// Registers names[i] for i in [begin, end) stepping by `step`.
void register_slice(const sockaddr_in& server, const std::vector<std::string>& names,
                    const std::string& password, size_t begin, size_t step, int64_t deadline_ns,
                    Shared* shared) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof(server)) != 0) {
    if (fd >= 0) ::close(fd);
    return shared->fail("setup: cannot connect to the server");
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  flatbuffers::FlatBufferBuilder fbb(256);
  im::protocol::FrameReader reader(1 << 20);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(64 * 1024);
  size_t next = begin;
  while (next < names.size() && shared->error.empty()) {
    out.clear();
    uint32_t batch = 0;
    for (; next < names.size() && batch < kPipelineDepth; next += step, ++batch)
      im::protocol::append_frame(out,
                                 im::client::build_register(fbb, next + 1, names[next], password));
    if (!write_all(fd, out)) return shared->fail("setup: send failed"), void(::close(fd));
    uint32_t answered = 0;
    while (answered < batch) {
      pollfd p{fd, POLLIN, 0};
      int64_t left_ms = (deadline_ns - now_ns()) / 1'000'000;
      if (left_ms <= 0 || ::poll(&p, 1, int(left_ms)) <= 0) {
        ::close(fd);
        return shared->fail("setup: timed out registering users");
      }
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) return shared->fail("setup: connection closed"), void(::close(fd));
      reader.feed(std::span<const uint8_t>(buf.data(), size_t(n)), [&](auto bytes) {
        const im::proto::Frame* frame = im::protocol::verify_frame(bytes);
        if (frame == nullptr) return shared->fail("setup: bad frame"), false;
        im::client::Status status = im::client::decode_status(*frame);
        if (status.ok())
          shared->created.fetch_add(1);
        else if (status.code == im::proto::Code::UserExists)
          shared->existing.fetch_add(1);
        else
          shared->fail("setup: register failed: " + status.to_string());
        ++answered;
        return true;
      });
    }
  }
  ::close(fd);
}

}  // namespace

std::vector<std::string> bench_usernames(const std::string& prefix, uint32_t first,
                                         uint32_t count) {
  std::vector<std::string> names;
  names.reserve(count);
  for (uint32_t i = 0; i < count; ++i) names.push_back(prefix + std::to_string(first + i));
  return names;
}

SetupResult register_users(const sockaddr_in& server, const std::vector<std::string>& usernames,
                           const std::string& password, double timeout_s) {
  int64_t start = now_ns();
  int64_t deadline = start + int64_t(timeout_s * 1e9);
  Shared shared;
  std::vector<std::thread> threads;
  size_t n = std::min<size_t>(kSetupThreads, usernames.size());
  for (size_t t = 0; t < n; ++t)
    threads.emplace_back(register_slice, std::cref(server), std::cref(usernames),
                         std::cref(password), t, n, deadline, &shared);
  for (auto& t : threads) t.join();
  SetupResult r;
  r.created = shared.created;
  r.existing = shared.existing;
  r.error = shared.error;
  r.ok = r.error.empty() && r.created + r.existing == usernames.size();
  r.seconds = seconds_between(start, now_ns());
  return r;
}

}  // namespace im::bench
