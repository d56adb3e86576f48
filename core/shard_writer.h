// shard_writer.h - the thread that commits one shard's batches, so the event loop never
// waits on an fsync. At most one batch is in flight per shard (the owner builds the next
// one meanwhile): submit() hands it over, the thread commits (durable in sync mode), marks
// it done and wakes the owner through its eventfd; the owner polls done() each loop turn.
#pragma once

#include <atomic>
#include <semaphore>
#include <thread>

#include "storage/shard.h"

namespace im::core {

class ShardWriter {
 public:
  ShardWriter(storage::Shard* shard, int owner_wake_fd);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Owner thread. The batch must stay untouched until done() returns true.
  void submit(const storage::WriteBatch* batch);
  bool busy() const { return busy_; }
  // Owner thread: true once the submitted batch is committed (or failed); fills *status.
  bool done(storage::CommitStatus* status);

 private:
  void run();
  storage::Shard* shard_;
  int owner_wake_fd_;
  bool busy_ = false;  // owner's view
  const storage::WriteBatch* batch_ = nullptr;
  std::atomic<int> state_{0};  // 0 idle/running, 1 + CommitStatus when done
  std::atomic<bool> stop_{false};
  std::binary_semaphore work_{0};
  std::thread thread_;
};

}  // namespace im::core
