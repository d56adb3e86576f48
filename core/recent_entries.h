// recent_entries.h - the newest inbox entries of one user who has a device online, kept so that
// a live push is built from the bytes just written instead of reading them back (that read
// merged the log overlay with an LMDB lookup for every push: a seventh of a worker's CPU in
// a 1:1 run at 20k msgs/s, docs/performance.md "Session 6").
//
// Holds consecutive inbox_seqs only: an entry that does not follow the newest one (a gap, or
// seqs reassigned after a failed commit) starts it over. Bounded by entries and bytes, the
// oldest dropped first; what it cannot serve is read from storage as before. The caller
// serves only durable seqs from it, exactly as from storage.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace im::core {

class RecentEntries {
 public:
  static constexpr size_t kMaxEntries = 32;
  static constexpr size_t kMaxBytes = 16384;

  void add(uint64_t seq, std::vector<uint8_t>&& entry) {
    if (!entries_.empty() && seq != first_seq_ + entries_.size()) clear();
    if (entries_.empty()) first_seq_ = seq;
    bytes_ += entry.size();
    entries_.push_back(std::move(entry));
    size_t drop = 0;
    size_t kept_bytes = bytes_;
    while (drop < entries_.size() &&
           (entries_.size() - drop > kMaxEntries || kept_bytes > kMaxBytes)) {
      kept_bytes -= entries_[drop].size();
      ++drop;
    }
    erase_front(drop);
  }

  // Calls fn(seq, bytes) for the entries after `after` up to `last` (inclusive), at most
  // limit of them, and returns true; returns false without calling fn when entry after + 1
  // is not held (the caller reads storage instead).
  template <class Fn>
  bool read(uint64_t after, uint64_t last, size_t limit, Fn&& fn) const {
    if (entries_.empty() || after + 1 < first_seq_ || after + 1 >= first_seq_ + entries_.size())
      return false;
    size_t i = after + 1 - first_seq_;
    for (size_t n = 0; i < entries_.size() && first_seq_ + i <= last && n < limit; ++i, ++n) {
      fn(first_seq_ + i, std::span<const uint8_t>(entries_[i]));
    }
    return true;
  }

  // Entries up to seq are not needed any more (every device was sent them).
  void forget_through(uint64_t seq) {
    if (entries_.empty() || seq < first_seq_) return;
    erase_front(std::min<size_t>(seq - first_seq_ + 1, entries_.size()));
  }

  void clear() {
    entries_.clear();
    entries_.shrink_to_fit();  // an idle user holds no memory here
    bytes_ = 0;
  }

  bool empty() const { return entries_.empty(); }

 private:
  // Keeps the vector's capacity: a user chatting live empties and refills it with every
  // push, and clear() (the user went offline) is what gives the memory back.
  // Drops the n oldest entries and their bytes.
  void erase_front(size_t n) {
    if (n == 0) return;
    for (size_t i = 0; i < n; ++i) bytes_ -= entries_[i].size();
    entries_.erase(entries_.begin(), entries_.begin() + ptrdiff_t(n));
    first_seq_ += n;
  }

  std::vector<std::vector<uint8_t>> entries_;
  uint64_t first_seq_ = 0;
  size_t bytes_ = 0;
};

}  // namespace im::core
