// kdf_pool.cc - the password hashing thread (see kdf_pool.h).
#include "core/kdf_pool.h"

#include <unistd.h>

#include <chrono>

#include "core/log.h"
#include "core/private_arena.h"

namespace im::core {

KdfPool::KdfPool(size_t queue_entries, const ScryptParams& hash_params, int owner_wake_fd)
    : jobs_(queue_entries),
      done_(queue_entries),
      hash_params_(hash_params),
      owner_wake_fd_(owner_wake_fd) {
  thread_ = std::thread([this] { run(); });
}

KdfPool::~KdfPool() {
  stop_.store(true);
  pending_.release();
  thread_.join();
}

bool KdfPool::submit(KdfJob&& job) {
  if (!jobs_.push(std::move(job))) return false;
  pending_.release();
  return true;
}

void KdfPool::run() {
  set_thread_log_name("kdf");
  // A hash's 16 MiB buffer is reused while jobs keep coming (a fresh one costs 4,096 page
  // faults, ~60 ms here) and returned after a second without work: an idle server does not
  // keep the pages of its last burst of logins.
  PrivateArena arena;
  arena.bind_this_thread();
  for (;;) {
    if (!pending_.try_acquire_for(std::chrono::seconds(1))) {
      arena.purge();
      pending_.acquire();
    }
    if (stop_.load()) return;
    KdfJob job;
    if (!jobs_.pop(&job)) continue;
    if (job.verify) {
      job.ok = verify_password(job.password, job.stored);
    } else {
      job.hash = hash_password(job.password, hash_params_);
      job.ok = !job.hash.empty();
    }
    job.password.clear();
    // The done queue has the same capacity as the job queue, so it cannot be full.
    while (!done_.push(std::move(job))) usleep(100);
    uint64_t one = 1;
    ssize_t n = write(owner_wake_fd_, &one, sizeof(one));
    (void)n;
  }
}

}  // namespace im::core
