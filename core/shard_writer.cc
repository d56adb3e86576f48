// shard_writer.cc - commit thread of one shard (see shard_writer.h).
#include "core/shard_writer.h"

#include <unistd.h>

#include <cstdio>

#include "core/assert.h"
#include "core/log.h"

namespace im::core {

ShardWriter::ShardWriter(storage::Shard* shard, int owner_wake_fd)
    : shard_(shard), owner_wake_fd_(owner_wake_fd) {
  thread_ = std::thread([this] { run(); });
}

ShardWriter::~ShardWriter() {
  stop_.store(true);
  work_.release();
  thread_.join();
}

void ShardWriter::submit(const storage::WriteBatch* batch) {
  IM_ASSERT(!busy_);
  busy_ = true;
  batch_ = batch;
  state_.store(0, std::memory_order_relaxed);
  work_.release();  // release/acquire through the semaphore publishes batch_
}

bool ShardWriter::done(storage::CommitStatus* status) {
  if (!busy_) return false;
  int s = state_.load(std::memory_order_acquire);
  if (s == 0) return false;
  *status = static_cast<storage::CommitStatus>(s - 1);
  busy_ = false;
  return true;
}

void ShardWriter::run() {
  char name[32];
  std::snprintf(name, sizeof(name), "writer-%u", shard_->index());
  set_thread_log_name(name);
  for (;;) {
    work_.acquire();
    if (stop_.load()) return;
    storage::CommitStatus status = shard_->commit(*batch_);
    state_.store(1 + static_cast<int>(status), std::memory_order_release);
    uint64_t one = 1;
    ssize_t n = write(owner_wake_fd_, &one, sizeof(one));
    (void)n;
  }
}

}  // namespace im::core
