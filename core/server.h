// server.h - the process: opens the data directory and its shards, loads the token
// secret, starts one pinned Worker thread per core (each owning shard % workers), and
// stops them gracefully. Owned by main; after start() only stop() and wait() are called.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/worker.h"

namespace im::core {

class Server {
 public:
  explicit Server(const Config& config);
  ~Server();
  bool start(std::string* error);
  void stop();  // any thread: begin graceful shutdown
  void wait();  // join the workers
  uint32_t worker_count() const { return shared_.worker_count; }
  uint32_t shard_count() const { return shared_.shard_count; }

 private:
  bool open_storage(std::string* error);
  bool check_port_free(std::string* error);
  WorkerShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  // start()'s rendezvous with the worker threads. Members, not locals of start(): a worker
  // may still be reading them after start() has seen every worker ready and returned.
  std::atomic<uint32_t> workers_ready_{0};
  std::atomic<bool> worker_init_failed_{false};
  std::mutex init_error_mu_;
  std::string init_error_;
};

}  // namespace im::core
