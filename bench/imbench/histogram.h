// histogram.h - an HDR-style latency histogram in microseconds: exact below 512 us, then
// 256 sub-buckets per power of two (relative error under 0.4%) up to 2^40 us (12 days).
// Fixed size (no allocation after construction), so recording is O(1) on the hot path.
// One per thread; merge() adds another thread's counts at the end of a run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace im::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kSub = 1u << kSubBits;
  static constexpr int kMaxMsb = 39;  // values >= 2^40 us are clamped into the top bucket
  static constexpr size_t kBuckets = kSub * (kMaxMsb - kSubBits + 2);

  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t value_us) { record_n(value_us, 1); }
  void record_n(uint64_t value_us, uint64_t count);
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
  // The highest value equivalent to the q-quantile (0 < q <= 1), as HdrHistogram reports.
  uint64_t percentile(double q) const;

  // Walks the non-empty buckets: fn(lowest_us, highest_us, count).
  template <typename Fn>
  void for_each_bucket(Fn&& fn) const {
    for (size_t i = 0; i < kBuckets; ++i)
      if (counts_[i] != 0) fn(bucket_low(i), bucket_high(i), counts_[i]);
  }

  static size_t bucket_of(uint64_t value_us);
  static uint64_t bucket_low(size_t index);
  static uint64_t bucket_high(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace im::bench
