// inbox_tracker.h - the receive side of the reliability contract: inbox entries reach the
// app exactly once, in inbox_seq order, and the server hears a cumulative ack of what the
// app has. Entries with seq <= cursor are duplicates (a re-push after reconnect); an entry
// past cursor + 1 is a gap, to be filled by Sync before anything after it is delivered.
// Pure logic, no I/O; owned by the Client's reader thread.
#pragma once

#include <cstdint>
#include <optional>

namespace im::client {

class InboxTracker {
 public:
  enum class Verdict : uint8_t {
    Deliver,    // the next entry: hand it to the app, then accept()
    Duplicate,  // already delivered: drop
    Gap,        // entries are missing before it: drop and Sync from cursor()
  };

  // cursor: the highest inbox_seq the app already has (e.g. persisted from an earlier run).
  // 0 means "unknown": the server's stored cursor for the device is trusted and the first
  // entry that arrives starts the sequence.
  explicit InboxTracker(uint64_t cursor = 0)
      : cursor_(cursor), acked_(cursor), known_(cursor > 0) {}

  Verdict check(uint64_t inbox_seq) const;
  // Records delivery of inbox_seq (check() said Deliver, or a Sync page skipped ahead
  // because the server has nothing in between).
  void accept(uint64_t inbox_seq);

  uint64_t cursor() const { return cursor_; }
  bool known() const { return known_; }

  // The cumulative ack to send, if the cursor moved past what was last acked.
  std::optional<uint64_t> take_ack();
  uint64_t acked() const { return acked_; }
  // A new session starts: the Hello carried cursor() as ack_inbox_seq.
  void on_login() { acked_ = cursor_; }
  // After LoginOk: true when the server holds entries the app has not seen and that the
  // server may not push on its own (its cursor for this device may be ahead of ours).
  bool behind(uint64_t inbox_head_seq) const { return known_ && cursor_ < inbox_head_seq; }

 private:
  uint64_t cursor_;
  uint64_t acked_;
  bool known_;
};

}  // namespace im::client
