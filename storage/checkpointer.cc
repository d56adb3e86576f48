// checkpointer.cc - the apply thread of one shard (see checkpointer.h).
#include "storage/checkpointer.h"

#include <pthread.h>
#include <unistd.h>

namespace im::storage {

using Clock = std::chrono::steady_clock;

Checkpointer::Checkpointer(std::string thread_name, ApplyFn apply, CheckpointLimits limits)
    : apply_(std::move(apply)), limits_(limits), thread_name_(std::move(thread_name)) {
  thread_ = std::thread([this] { run(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void Checkpointer::enqueue(LogRecordPtr rec) {
  std::unique_lock lock(mu_);
  const bool was_empty = queue_.empty();
  if (was_empty) oldest_at_ = Clock::now();
  queued_bytes_ += rec->bytes.size();
  queue_.push_back(std::move(rec));
  // The thread sleeps without a deadline while the queue is empty: the first record arms it.
  if (was_empty || queued_bytes_ >= limits_.batch_bytes) work_cv_.notify_one();
}

void Checkpointer::hurry() {
  std::unique_lock lock(mu_);
  if (queue_.empty()) return;
  hurry_ = true;
  work_cv_.notify_one();
}

CommitStatus Checkpointer::flush() {
  std::unique_lock lock(mu_);
  ++flush_waiters_;
  work_cv_.notify_one();
  space_cv_.wait(
      lock, [&] { return (queue_.empty() && !applying_) || status_.load() != CommitStatus::Ok; });
  --flush_waiters_;
  return status_.load();
}

bool Checkpointer::due(Clock::time_point now) const {
  if (queue_.empty()) return false;
  return stop_ || hurry_ || flush_waiters_ > 0 || queued_bytes_ >= limits_.batch_bytes ||
         now - oldest_at_ >= std::chrono::milliseconds(limits_.interval_ms);
}

void Checkpointer::run() {
  pthread_setname_np(pthread_self(), thread_name_.substr(0, 15).c_str());
  std::unique_lock lock(mu_);
  for (;;) {
    if (!due(Clock::now())) {
      if (stop_) return;
      auto wake = queue_.empty() ? Clock::now() + std::chrono::hours(1)
                                 : oldest_at_ + std::chrono::milliseconds(limits_.interval_ms);
      work_cv_.wait_until(lock, wake);
      continue;
    }
    std::vector<LogRecordPtr> batch(queue_.begin(), queue_.end());
    queue_.clear();
    hurry_ = false;
    applying_ = true;
    lock.unlock();
    CommitStatus st = apply_(batch);
    lock.lock();
    applying_ = false;
    status_.store(st, std::memory_order_release);
    if (st == CommitStatus::Ok) {
      applied_through_.store(batch.back()->position, std::memory_order_release);
      for (auto& r : batch) queued_bytes_ -= r->bytes.size();
    } else {
      // Keep them, in order, ahead of anything queued meanwhile; they stay in the log too.
      queue_.insert(queue_.begin(), batch.begin(), batch.end());
      oldest_at_ = Clock::now();
    }
    space_cv_.notify_all();
    if (int fd = wake_fd_.load(); fd >= 0) {
      uint64_t one = 1;
      ssize_t n = ::write(fd, &one, sizeof(one));
      (void)n;
    }
    if (st == CommitStatus::IoError) {
      // Never retried (see shard.h); wait for the stop.
      work_cv_.wait(lock, [&] { return stop_; });
      return;
    }
    if (st != CommitStatus::Ok) {
      if (stop_) return;  // the records stay in the log for the next start
      work_cv_.wait_for(lock, std::chrono::milliseconds(limits_.retry_ms), [&] { return stop_; });
      if (stop_) return;
    }
  }
}

}  // namespace im::storage
