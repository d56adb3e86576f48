// histogram.cc - bucket arithmetic of the log-linear histogram (see histogram.h).
// Index layout: values below 2*kSub map to themselves; above, a value with its highest
// bit at position msb keeps its top kSubBits+1 bits: index = kSub*shift + (v >> shift).
#include "bench/imbench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace im::bench {

size_t Histogram::bucket_of(uint64_t v) {
  if (v < 2 * kSub) return size_t(v);
  int msb = 63 - std::countl_zero(v);
  if (msb > kMaxMsb) return kBuckets - 1;
  int shift = msb - kSubBits;
  return size_t(kSub * uint64_t(shift) + (v >> shift));
}

uint64_t Histogram::bucket_low(size_t i) {
  if (i < 2 * kSub) return i;
  uint64_t shift = i / kSub - 1;
  return (uint64_t(i) - kSub * shift) << shift;
}

uint64_t Histogram::bucket_high(size_t i) {
  if (i < 2 * kSub) return i;
  uint64_t shift = i / kSub - 1;
  return ((uint64_t(i) - kSub * shift + 1) << shift) - 1;
}

void Histogram::record_n(uint64_t v, uint64_t n) {
  counts_[bucket_of(v)] += n;
  count_ += n;
  sum_ += v * n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = uint64_t(std::ceil(q * double(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_high(i), max_);
  }
  return max_;
}

}  // namespace im::bench
