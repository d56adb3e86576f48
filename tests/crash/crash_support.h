// crash_support.h - what the crash tests share: a replayable seed (IM_CRASH_SEED), the
// client_msg_id bijection, the SIGKILL + port wait + restart cycle, and Violations, which
// turns one kind of audit failure into one gtest failure with its first few examples.
// kill_and_restart() must run on the thread that started the server (test_server.h).
#pragma once

#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_server.h"

namespace im::crash {

// IM_CRASH_SEED when set (to replay a run), else a random seed.
uint64_t pick_seed();

// A bijection of x: seed ^ counter through it gives distinct, random-looking client_msg_ids.
uint64_t splitmix64(uint64_t x);

// The kills so far, for the summary line and for tests that relate sends to kills.
struct KillLog {
  int kills = 0;
  std::vector<int64_t> kill_wall_ms;  // unix ms right after each SIGKILL returned
  int64_t max_port_release_ms = 0;    // longest wait for the killed server's port
};

// A server that is gone before its kill crashed by itself: that is a failure, not a kill.
// The killed process's listening socket outlives waitpid by a few ms (its io_uring is torn
// down asynchronously): wait for the port as a supervisor would, then start again on the
// same data directory. Fails the test (fatally) on any of these.
void kill_and_restart(testing::TestServer* server, KillLog* log);

// The server log's tail, for a failed test's output.
std::string server_log_tail(const testing::TestServer& server);

// Counts one kind of violation and keeps its first few examples for the failure message,
// reported (one gtest failure) when it goes out of scope.
class Violations {
 public:
  explicit Violations(std::string kind) : kind_(std::move(kind)) {}
  ~Violations();
  Violations(const Violations&) = delete;
  Violations& operator=(const Violations&) = delete;
  std::ostream& add();
  uint64_t count() const { return count_; }

 private:
  static constexpr uint64_t kExamples = 8;
  std::string kind_;
  uint64_t count_ = 0;
  std::ostringstream examples_, sink_;
};

}  // namespace im::crash
