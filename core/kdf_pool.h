// kdf_pool.h - a worker's helper thread for slow password hashing (scrypt), so a login
// never stalls the event loop. Jobs and results travel over bounded SPSC queues; the
// thread wakes the worker through its eventfd. One per worker; owned by that worker.
// New hashes use the configured parameters (password_scrypt_n); verification uses the
// parameters stored with each hash.
#pragma once

#include <atomic>
#include <semaphore>
#include <string>
#include <thread>

#include "core/envelope.h"
#include "core/password_hash.h"
#include "core/spsc_queue.h"

namespace im::core {

struct KdfJob {
  bool verify = false;  // false: hash `password`; true: check it against `stored`
  std::string password;
  std::string stored;
  bool ok = false;      // result: verify matched / hash produced
  std::string hash;     // result of a hash job
  EnvelopePtr request;  // the request to resume afterwards
  uint64_t uid = 0;     // context kept for the resume step
};

class KdfPool {
 public:
  KdfPool(size_t queue_entries, const ScryptParams& hash_params, int owner_wake_fd);
  ~KdfPool();
  // Owner thread. False when the queue is full (answer Overloaded).
  bool submit(KdfJob&& job);
  // Owner thread.
  bool pop_done(KdfJob* out) { return done_.pop(out); }

 private:
  void run();
  SpscQueue<KdfJob> jobs_;
  SpscQueue<KdfJob> done_;
  const ScryptParams hash_params_;
  int owner_wake_fd_;
  std::atomic<bool> stop_{false};
  std::counting_semaphore<> pending_{0};
  std::thread thread_;
};

}  // namespace im::core
