// inbox_tracker.cc - the cursor arithmetic behind exactly-once, in-order delivery.
#include "client/inbox_tracker.h"

namespace im::client {

InboxTracker::Verdict InboxTracker::check(uint64_t inbox_seq) const {
  if (!known_) return inbox_seq == 0 ? Verdict::Duplicate : Verdict::Deliver;
  if (inbox_seq <= cursor_) return Verdict::Duplicate;
  if (inbox_seq == cursor_ + 1) return Verdict::Deliver;
  return Verdict::Gap;
}

void InboxTracker::accept(uint64_t inbox_seq) {
  if (known_ && inbox_seq <= cursor_) return;
  cursor_ = inbox_seq;
  known_ = true;
}

std::optional<uint64_t> InboxTracker::take_ack() {
  if (!known_ || cursor_ <= acked_) return std::nullopt;
  acked_ = cursor_;
  return acked_;
}

}  // namespace im::client
