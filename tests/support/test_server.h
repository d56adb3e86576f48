// test_server.h - runs the real imserver binary as a child process for integration tests:
// a fresh temporary data directory (mkdtemp), free loopback ports, extra flags, and a
// bounded wait until it serves (TCP accept + a Ping answered by a Pong). stop() sends
// SIGTERM and waits, kill() SIGKILLs (a crash), restart() starts again on the same data
// directory and ports. The destructor kills the server and removes the directory.
// The server's stdout/stderr go to log_path(); a failed start() puts its tail in error().
// One TestServer is used by one thread at a time; start()/restart() may be called from
// any thread (forks happen on a process-lifetime helper thread, see test_server.cc).
// The server gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace im::testing {

struct TestServerOptions {
  std::vector<std::string> extra_args;  // e.g. {"--workers", "2"}
  uint32_t start_timeout_ms = 10000;    // until the server answers a Ping
  uint32_t stop_timeout_ms = 10000;     // SIGTERM, then SIGKILL after this
  std::string binary;                   // default: env IMSERVER_BIN, else IMSERVER_PATH
  bool keep_data_dir = false;           // leave the directory behind (debugging)
};

class TestServer {
 public:
  explicit TestServer(std::vector<std::string> extra_args = {});
  explicit TestServer(TestServerOptions options);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Starts the server and waits until it serves. On a port clash with another process it
  // picks new ports and tries again (first start only: restart keeps its ports).
  bool start();
  // SIGTERM and wait; true when it exited with status 0 (a clean shutdown).
  bool stop();
  // SIGKILL and wait: a crash, as far as the data directory can tell.
  void kill();
  // stop() (if running) then start() on the same data directory and ports.
  bool restart();
  // Replaces the extra flags; the next start() or restart() uses them (e.g. a setting
  // changed between two runs on the same data directory).
  void set_extra_args(std::vector<std::string> extra_args) {
    options_.extra_args = std::move(extra_args);
  }

  bool running();
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string address() const { return host() + ":" + std::to_string(port_); }  // for imcli
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  std::string log() const;  // everything the server printed so far
  // Exit status of the last stopped server (as from waitpid: use WIFEXITED ...), -1 if none.
  int last_wait_status() const { return wait_status_; }
  const std::string& error() const { return error_; }

 private:
  bool spawn();
  bool wait_until_serving();
  bool wait_exit(uint32_t timeout_ms);
  bool pick_ports();
  std::vector<std::string> argv() const;

  TestServerOptions options_;
  std::string base_dir_;  // mkdtemp: holds data/ and server.log
  std::string data_dir_;
  std::string log_path_;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
  pid_t pid_ = -1;
  int wait_status_ = -1;
  std::string error_;
};

}  // namespace im::testing
