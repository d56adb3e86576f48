// crash_support.cc - seeds, the kill/restart cycle and Violations (see crash_support.h).
#include "tests/crash/crash_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

#include "client/client.h"

namespace im::crash {

namespace {

constexpr uint32_t kPortReleaseTimeoutMs = 5000;  // a killed server's port becomes free
constexpr size_t kLogTailBytes = 4000;

// True when a plain server bind (SO_REUSEADDR, as imserver's check_port_free) would work.
bool port_bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint64_t pick_seed() {
  if (const char* env = std::getenv("IM_CRASH_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}() * 0x100000001ull ^ std::random_device{}();
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void kill_and_restart(testing::TestServer* server, KillLog* log) {
  ASSERT_TRUE(server->running()) << "imserver died on its own before kill " << log->kills + 1
                                 << " (wait status " << server->last_wait_status() << ")";
  server->kill();
  log->kill_wall_ms.push_back(client::unix_now_ms());
  int status = server->last_wait_status();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "kill " << log->kills + 1 << ": wait status " << status;
  log->kills++;
  int64_t killed_ms = client::steady_now_ms();
  while (!port_bindable(server->port()) &&
         client::steady_now_ms() - killed_ms < kPortReleaseTimeoutMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log->max_port_release_ms =
      std::max(log->max_port_release_ms, client::steady_now_ms() - killed_ms);
  ASSERT_TRUE(port_bindable(server->port()))
      << "port " << server->port() << " still bound " << kPortReleaseTimeoutMs << " ms after kill "
      << log->kills;
  ASSERT_TRUE(server->start()) << "restart after kill " << log->kills << ": " << server->error();
}

std::string server_log_tail(const testing::TestServer& server) {
  std::string log = server.log();
  if (log.size() > kLogTailBytes) log = "..." + log.substr(log.size() - kLogTailBytes);
  return log;
}

Violations::~Violations() {
  if (count_ == 0) return;
  ADD_FAILURE() << kind_ << ": " << count_ << " case(s); first:" << examples_.str();
}

std::ostream& Violations::add() {
  if (++count_ <= kExamples) return examples_ << "\n  - ";
  sink_.str({});
  return sink_;
}

}  // namespace im::crash
