// rate_schedule.h - an open-loop schedule: event k is due at start + k / rate until the end
// time, so events are issued at a fixed rate whatever the server does, and a latency counted
// from an event's due time includes any stall (coordinated omission, as wrk2 avoids it).
// Thread: owned by one loop thread; no allocation.
#pragma once

#include <cstdint>
#include <limits>

namespace im::bench {

class RateSchedule {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // per_second <= 0 leaves the schedule empty.
  void start(int64_t start_ns, double per_second, int64_t end_ns) {
    start_ns_ = start_ns;
    end_ns_ = end_ns;
    interval_ns_ = per_second > 0 ? 1e9 / per_second : 0;
    k_ = 0;
  }
  void stop() { interval_ns_ = 0; }

  // When the next event is due (kNever when the schedule is over or empty).
  int64_t next_due_ns() const {
    if (interval_ns_ <= 0) return kNever;
    int64_t due = start_ns_ + int64_t(double(k_) * interval_ns_);
    return due < end_ns_ ? due : kNever;
  }

  // The next event when it is due by now: its index and due time; the schedule moves on.
  bool take(int64_t now_ns, uint64_t* k, int64_t* due_ns) {
    int64_t due = next_due_ns();
    if (due == kNever || due > now_ns) return false;
    *k = k_++;
    *due_ns = due;
    return true;
  }

 private:
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  double interval_ns_ = 0;
  uint64_t k_ = 0;
};

}  // namespace im::bench
