// msg_id.h - message id generator of one shard: 64-bit, unique, roughly time ordered.
// Layout: [ms since 2025-01-01 : 42 bits][shard : 10 bits][counter : 12 bits].
// Monotonic per shard even when the wall clock steps back: the generator never issues an
// id <= the last one; the owner persists last() in each batch (meta "last_msg_id") and
// seeds the generator from it at startup, so ids stay unique across restarts.
// Single-threaded: used only by the shard's owner worker.
#pragma once

#include <cstdint>

namespace im::storage {

class MsgIdGenerator {
 public:
  static constexpr int64_t kEpochMs = 1735689600000;  // 2025-01-01T00:00:00Z
  MsgIdGenerator(uint32_t shard, uint64_t last_issued);
  uint64_t next(int64_t now_ms);
  uint64_t last() const { return last_; }
  static int64_t time_ms_of(uint64_t msg_id);
  static uint32_t shard_of(uint64_t msg_id);

 private:
  uint32_t shard_;
  uint64_t last_;
};

}  // namespace im::storage
