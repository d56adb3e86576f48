// server.cc - process start-up and shutdown (see server.h).
#include "core/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/token.h"
#include "storage/commit_logs.h"
#include "storage/data_dir.h"

namespace im::core {

Server::Server(const Config& config) {
  shared_.config = config;
}

Server::~Server() {
  stop();
  wait();
  workers_.clear();
  for (int fd : shared_.wake_fds) close(fd);
}

bool Server::open_storage(std::string* error) {
  const Config& cfg = shared_.config;
  storage::Manifest manifest;
  if (!storage::open_data_dir(cfg.data_dir, cfg.shards, &manifest, error)) return false;
  shared_.shard_count = manifest.shards;
  shared_.uid_counters = std::make_unique<std::atomic<uint64_t>[]>(manifest.shards);
  storage::ShardOptions opts;
  opts.map_bytes = std::min(cfg.map_bytes, cfg.max_map_bytes);
  opts.max_map_bytes = cfg.max_map_bytes;
  opts.checkpoint_interval_ms = cfg.checkpoint_interval_ms;
  opts.sync = cfg.durability == Durability::Sync;
  opts.private_log = false;  // the workers' commit logs, below
  // Shards open in parallel: each open waits on its own fsyncs.
  std::vector<std::unique_ptr<storage::Shard>> shards(manifest.shards);
  std::vector<std::string> errors(manifest.shards);
  std::vector<std::thread> openers;
  for (uint32_t s = 0; s < manifest.shards; s++) {
    openers.emplace_back([&, s] {
      shards[s] = storage::Shard::open(storage::shard_dir(cfg.data_dir, s), s, opts, &errors[s]);
    });
  }
  for (auto& t : openers) t.join();
  for (uint32_t s = 0; s < manifest.shards; s++) {
    if (!shards[s]) {
      *error = errors[s];
      return false;
    }
    shared_.shards.push_back(std::move(shards[s]));
  }
  if (!storage::mark_data_dir_current(cfg.data_dir, &manifest, error)) return false;
  // Each log holds twice a checkpoint batch of every shard it serves (64 MiB for 8): smaller
  // than the shards' unapplied bound, so a full ring is the back-pressure (the worker then
  // hurries the checkpointers), and small enough that its pages stay warm in the page cache
  // (a 256 MiB ring measured 5-20% more server CPU per message on this VM: docs/performance.md).
  const uint64_t shards_per_log =
      (manifest.shards + shared_.worker_count - 1) / shared_.worker_count;
  const uint64_t ring_bytes =
      std::max(opts.log_ring_bytes, 2 * shards_per_log * opts.checkpoint_bytes);
  if (!storage::open_commit_logs(cfg.data_dir, shared_.worker_count, shared_.shards, ring_bytes,
                                 opts.sync, &shared_.logs, error)) {
    return false;
  }
  return load_or_create_secret(cfg.data_dir, &shared_.secret, error);
}

// SO_REUSEPORT would let a second server silently share the port with the first: a plain
// bind first proves nobody holds it.
bool Server::check_port_free(std::string* error) {
  const Config& cfg = shared_.config;
  bool v6 = cfg.bind.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(cfg.port);
    inet_pton(AF_INET6, cfg.bind.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(cfg.port);
    if (inet_pton(AF_INET, cfg.bind.c_str(), &a->sin_addr) != 1) {
      close(fd);
      *error = "bad bind address: " + cfg.bind;
      return false;
    }
    len = sizeof(*a);
  }
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  if (!ok) {
    *error = "cannot bind " + cfg.bind + ":" + std::to_string(cfg.port) + ": " + strerror(errno);
  }
  close(fd);
  return ok;
}

bool Server::start(std::string* error) {
  Config& cfg = shared_.config;
  // Right after a crash the killed process's listeners can linger for some milliseconds
  // (its io_uring is torn down asynchronously): retry the port for a bounded time.
  constexpr int kBindAttempts = 150;  // x 20 ms = 3 s
  bool port_free = false;
  for (int i = 0; i < kBindAttempts && !port_free; i++) {
    port_free = check_port_free(error);
    if (!port_free) usleep(20000);
  }
  uint32_t cpus = std::max(1u, std::thread::hardware_concurrency());
  shared_.worker_count = cfg.workers == 0 ? cpus : cfg.workers;
  if (!port_free || !open_storage(error)) return false;
  uint32_t n = shared_.worker_count;
  shared_.quiet = std::make_unique<std::atomic<bool>[]>(n);
  for (uint32_t i = 0; i < n; i++) {
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0) {
      *error = std::string("eventfd: ") + strerror(errno);
      return false;
    }
    shared_.wake_fds.push_back(fd);
  }
  for (uint32_t i = 0; i < n * n; i++) {
    shared_.queues.push_back(
        std::make_unique<SpscQueue<EnvelopePtr>>(cfg.cross_worker_queue_entries));
  }
  for (uint32_t i = 0; i < n; i++) workers_.push_back(std::make_unique<Worker>(i, &shared_));
  // Each ring must be created by the thread that submits to it (SINGLE_ISSUER). The threads
  // capture only this, copies and shared_ (start() returns while they run).
  const bool pin = cfg.pin_workers;
  for (uint32_t i = 0; i < n; i++) {
    threads_.emplace_back([this, i, n, cpus, pin] {
      Worker& w = *workers_[i];
      std::string err;
      if (pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i % cpus, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      }
      bool ok = w.init(&err);
      if (!ok) {
        std::lock_guard<std::mutex> lock(init_error_mu_);
        if (init_error_.empty()) init_error_ = err;
        worker_init_failed_.store(true);
      }
      workers_ready_.fetch_add(1);
      while (workers_ready_.load() < n) usleep(1000);  // start serving together or not at all
      if (!worker_init_failed_.load()) w.run();
    });
  }
  while (workers_ready_.load() < n) usleep(1000);
  if (worker_init_failed_.load()) {
    wait();
    std::lock_guard<std::mutex> lock(init_error_mu_);
    *error = init_error_;
    return false;
  }
  return true;
}

void Server::stop() {
  if (shared_.stopping.exchange(true)) return;
  for (int fd : shared_.wake_fds) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n;
  }
}

void Server::wait() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace im::core
