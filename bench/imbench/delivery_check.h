// delivery_check.h - the correctness check of one conversation direction (sender ->
// receiver): every message delivered exactly once and in send order. Messages carry the
// sender's sequence number (1..expected) in the low 32 bits of client_msg_id. Owned by the
// receiver's loop thread; allocation only at construction.
#pragma once

#include <cstdint>
#include <vector>

namespace im::bench {

class DeliveryCheck {
 public:
  explicit DeliveryCheck(uint32_t expected) : expected_(expected), seen_(expected / 64 + 1, 0) {}

  enum class Outcome : uint8_t { New, Duplicate, OutOfRange };

  Outcome deliver(uint32_t seq) {
    if (seq == 0 || seq > expected_) return Outcome::OutOfRange;
    uint64_t bit = uint64_t(1) << (seq % 64);
    uint64_t& word = seen_[seq / 64];
    if (word & bit) {
      ++dup_;
      return Outcome::Duplicate;
    }
    word |= bit;
    ++distinct_;
    if (seq < max_seen_) ++reordered_;  // arrived after a later message
    if (seq > max_seen_) max_seen_ = seq;
    return Outcome::New;
  }

  uint32_t distinct() const { return distinct_; }
  uint64_t dup() const { return dup_; }
  uint64_t reordered() const { return reordered_; }

 private:
  uint32_t expected_;
  uint32_t max_seen_ = 0;
  uint32_t distinct_ = 0;
  uint64_t dup_ = 0;
  uint64_t reordered_ = 0;
  std::vector<uint64_t> seen_;  // one bit per seq
};

}  // namespace im::bench
