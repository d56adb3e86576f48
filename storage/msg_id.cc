// msg_id.cc - the per-shard message id generator (see msg_id.h for the layout).
// Invariant: next() > last() always. When the clock stands still past 4096 ids, or steps
// back, the time field is borrowed from the future (last's time + 1) instead of repeating.
#include "storage/msg_id.h"

#include "storage/storage_assert.h"

namespace im::storage {
namespace {

constexpr int kCounterBits = 12;
constexpr int kShardBits = 10;
constexpr int kTimeShift = kCounterBits + kShardBits;
constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;
constexpr uint64_t kShardMask = (uint64_t{1} << kShardBits) - 1;
constexpr uint64_t kTimeMax = (uint64_t{1} << (64 - kTimeShift)) - 1;

uint64_t compose(uint64_t time_field, uint32_t shard, uint64_t counter) {
  IM_ASSERT(time_field <= kTimeMax);  // year 2164: unreachable
  return (time_field << kTimeShift) | (uint64_t{shard} << kCounterBits) | counter;
}

}  // namespace

MsgIdGenerator::MsgIdGenerator(uint32_t shard, uint64_t last_issued)
    : shard_(shard), last_(last_issued) {
  IM_ASSERT(shard < (1u << kShardBits));
}

uint64_t MsgIdGenerator::next(int64_t now_ms) {
  int64_t since_epoch_ms = now_ms - kEpochMs;
  uint64_t now_field = since_epoch_ms < 0 ? 0 : static_cast<uint64_t>(since_epoch_ms);
  if (now_field > kTimeMax) now_field = kTimeMax;
  uint64_t id = compose(now_field, shard_, 0);
  if (id <= last_) {
    uint64_t last_time = last_ >> kTimeShift;
    uint64_t last_counter = last_ & kCounterMask;
    id = last_counter < kCounterMask ? compose(last_time, shard_, last_counter + 1) : 0;
    // Counter exhausted, or last_ came from another shard number with higher shard bits.
    if (id <= last_) id = compose(last_time + 1, shard_, 0);
  }
  IM_ASSERT(id > last_);
  last_ = id;
  return id;
}

int64_t MsgIdGenerator::time_ms_of(uint64_t msg_id) {
  return static_cast<int64_t>(msg_id >> kTimeShift) + kEpochMs;
}

uint32_t MsgIdGenerator::shard_of(uint64_t msg_id) {
  return static_cast<uint32_t>((msg_id >> kCounterBits) & kShardMask);
}

}  // namespace im::storage
