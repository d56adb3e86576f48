// checkpointer.h - brings one shard's keyed tables up to date with its commit log pieces
// on its own thread: it waits until enough committed records have queued up (or the oldest is
// old enough), applies all of them in one durable transaction of the tables, and publishes the
// position it reached. The log append is what an acknowledgement waits for; this runs beside
// it, so its page writes and fsyncs never delay an answer.
//
// Bounds: the owner commits nothing while max_queued_bytes are queued (Shard::begin_commit
// answers Busy and the owner retries when this thread wakes it through the wake fd after an
// apply): back-pressure, not memory growth. A failed apply
// (map or disk full) keeps the records queued, reports the status (the shard then refuses new
// writes) and retries every retry_ms; an I/O error stops applying for good.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "storage/log_record.h"
#include "storage/shard.h"

namespace im::storage {

struct CheckpointLimits {
  uint32_t interval_ms = 100;               // apply once the oldest queued record is this old
  uint64_t batch_bytes = 4ull << 20;        // ... or this many bytes are queued
  uint64_t max_queued_bytes = 16ull << 20;  // enqueue blocks beyond this
  uint32_t retry_ms = 1000;                 // after a refused (full) apply
};

class Checkpointer {
 public:
  // apply(records) applies them in order in one transaction and returns how it went.
  using ApplyFn = std::function<CommitStatus(std::span<const LogRecordPtr>)>;
  Checkpointer(std::string thread_name, ApplyFn apply, CheckpointLimits limits);
  // Applies everything queued (unless applying has failed), then stops the thread.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Queues a committed record (positions increasing). Never blocks: the caller checks
  // queued_bytes() against the bound before it commits.
  void enqueue(LogRecordPtr rec);
  // Bytes queued or being applied (any thread).
  uint64_t queued_bytes() const { return queued_bytes_.load(std::memory_order_acquire); }
  // After each apply, 1 is written to fd (an eventfd): -1 for none.
  void set_wake_fd(int fd) { wake_fd_.store(fd); }
  // Blocks until everything queued so far is applied or applying failed; returns the status.
  CommitStatus flush();
  // Applies what is queued now rather than when it is due (the log needs the space); the
  // wake fd tells when it is done.
  void hurry();
  // Highest position applied to the tables (any thread).
  uint64_t applied_through() const { return applied_through_.load(std::memory_order_acquire); }
  // Ok, or why the last apply failed (any thread).
  CommitStatus status() const { return status_.load(std::memory_order_acquire); }

 private:
  void run();
  bool due(std::chrono::steady_clock::time_point now) const;

  ApplyFn apply_;
  CheckpointLimits limits_;
  std::string thread_name_;
  std::mutex mu_;
  std::condition_variable work_cv_;   // the thread waits for records / stop / flush
  std::condition_variable space_cv_;  // flush waits for progress
  std::deque<LogRecordPtr> queue_;
  std::chrono::steady_clock::time_point oldest_at_;
  std::atomic<uint64_t> queued_bytes_{0};  // queued plus being applied; written under mu_
  std::atomic<int> wake_fd_{-1};
  bool applying_ = false;
  bool hurry_ = false;
  uint64_t flush_waiters_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> applied_through_{0};
  std::atomic<CommitStatus> status_{CommitStatus::Ok};
  std::thread thread_;
};

}  // namespace im::storage
