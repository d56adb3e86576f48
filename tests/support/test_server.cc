// test_server.cc - fork/exec of imserver, port picking, readiness probe, cleanup.
#include "tests/support/test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "client/connection.h"
#include "client/frame_builders.h"

#ifndef IMSERVER_PATH
#define IMSERVER_PATH "imserver"
#endif

namespace im::testing {

namespace {

constexpr int kMaxStartAttempts = 5;
constexpr uint16_t kLowPort = 20000;   // below Linux's ephemeral range (32768+), so outgoing
constexpr uint16_t kHighPort = 32000;  // connections of other tests do not take our ports

// True when nobody listens on the port right now (bind without SO_REUSEADDR succeeds).
bool port_free(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process. So every
// fork happens on one helper thread that lives as long as the process: start()/restart()
// may then be called from short-lived threads (e.g. "restart the server in 500 ms").
class ForkThread {
 public:
  static pid_t run(const std::function<pid_t()>& fork_fn) {
    static ForkThread* instance = new ForkThread();  // never destroyed: outlives every test
    return instance->submit(fork_fn);
  }

 private:
  ForkThread() {
    std::thread([this] { loop(); }).detach();
  }
  pid_t submit(const std::function<pid_t()>& fork_fn) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return job_ == nullptr; });
    job_ = &fork_fn;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lock, [&] { return done_; });
    job_ = nullptr;
    cv_.notify_all();
    return result_;
  }
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return job_ != nullptr && !done_; });
      result_ = (*job_)();
      done_ = true;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<pid_t()>* job_ = nullptr;
  bool done_ = false;
  pid_t result_ = -1;
};

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path);
}

std::string default_binary() {
  if (const char* env = std::getenv("IMSERVER_BIN"); env && *env) return env;
  return IMSERVER_PATH;
}

// A Ping answered by a Pong: the server accepts, reads, verifies and answers frames.
bool answers_ping(uint16_t port) {
  im::client::Connection conn;
  if (!conn.connect("127.0.0.1", port, 500).ok()) return false;
  flatbuffers::FlatBufferBuilder fbb;
  if (!conn.write_frame(im::client::build_ping(fbb, 1, 0), 500).ok()) return false;
  auto frame = conn.read_verified(1000);
  return frame.ok() && frame->type() == im::proto::Body::Pong;
}

}  // namespace

namespace {
TestServerOptions with_args(std::vector<std::string> extra_args) {
  TestServerOptions options;
  options.extra_args = std::move(extra_args);
  return options;
}
}  // namespace

TestServer::TestServer(std::vector<std::string> extra_args)
    : TestServer(with_args(std::move(extra_args))) {}

TestServer::TestServer(TestServerOptions options) : options_(std::move(options)) {
  if (options_.binary.empty()) options_.binary = default_binary();
  char tmpl[] = "/tmp/imserver-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  base_dir_ = tmpl;
  data_dir_ = base_dir_ + "/data";
  log_path_ = base_dir_ + "/server.log";
}

TestServer::~TestServer() {
  kill();
  if (!base_dir_.empty() && !options_.keep_data_dir) {
    ::nftw(base_dir_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

bool TestServer::pick_ports() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dist(kLowPort, kHighPort);
  for (int i = 0; i < 100; i++) {
    uint16_t port = static_cast<uint16_t>(dist(rng));
    uint16_t http = static_cast<uint16_t>(dist(rng));
    if (port != http && port_free(port) && port_free(http)) {
      port_ = port;
      http_port_ = http;
      return true;
    }
  }
  error_ = "no free port found";
  return false;
}

std::vector<std::string> TestServer::argv() const {
  std::vector<std::string> args{
      options_.binary, "--data-dir",         data_dir_, "--bind", "127.0.0.1",
      "--port",        std::to_string(port_)};
  bool http_given = false;
  for (const std::string& a : options_.extra_args) http_given |= a.rfind("--http-port", 0) == 0;
  if (!http_given) {
    args.push_back("--http-port");
    args.push_back(std::to_string(http_port_));
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  return args;
}

bool TestServer::spawn() {
  std::vector<std::string> args = argv();
  std::vector<char*> c_args;
  for (std::string& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    error_ = "cannot open " + log_path_;
    return false;
  }
  std::string banner = "=== start:";
  for (const std::string& a : args) banner += " " + a;
  banner += "\n";
  ssize_t n = ::write(log_fd, banner.data(), banner.size());
  (void)n;
  pid_t parent = ::getpid();
  pid_t pid = ForkThread::run([&]() -> pid_t {
    pid_t child = ::fork();
    if (child == 0) {                      // only async-signal-safe calls until exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the server dies with a crashed test process
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(c_args[0], c_args.data());
      ::_exit(127);
    }
    return child;
  });
  ::close(log_fd);
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  pid_ = pid;
  return true;
}

bool TestServer::wait_until_serving() {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) {
      error_ = "imserver exited during start (wait status " + std::to_string(wait_status_) + ")";
      return false;
    }
    if (answers_ping(port_)) return running();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ =
      "imserver did not answer a Ping within " + std::to_string(options_.start_timeout_ms) + " ms";
  return false;
}

bool TestServer::start() {
  if (base_dir_.empty()) return false;
  if (running()) return true;
  bool keep_ports = port_ != 0;  // restart: same ports (clients reconnect to them)
  for (int attempt = 0; attempt < kMaxStartAttempts; attempt++) {
    if (!keep_ports && !pick_ports()) return false;
    if (!spawn()) return false;
    if (wait_until_serving()) {
      error_.clear();
      return true;
    }
    kill();
    if (keep_ports) break;
  }
  std::string tail = log();
  if (tail.size() > 4000) tail = tail.substr(tail.size() - 4000);
  error_ += "; server log (" + log_path_ + "):\n" + tail;
  return false;
}

bool TestServer::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) wait_status_ = status;
  pid_ = -1;
  return false;
}

bool TestServer::wait_exit(uint32_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

bool TestServer::stop() {
  if (!running()) return false;
  ::kill(pid_, SIGTERM);
  if (!wait_exit(options_.stop_timeout_ms)) {
    error_ = "imserver ignored SIGTERM for " + std::to_string(options_.stop_timeout_ms) + " ms";
    kill();
    return false;
  }
  return WIFEXITED(wait_status_) && WEXITSTATUS(wait_status_) == 0;
}

void TestServer::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) wait_status_ = status;
  pid_ = -1;
}

bool TestServer::restart() {
  if (running()) stop();
  return start();
}

std::string TestServer::log() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace im::testing
