// inbox_audit.h - what the crash test proves about the stored inboxes, read back through
// the server as a new device would: Sync pages from inbox_seq 0. Checks the reliability
// contract for 1:1 sends (ARCHITECTURE.md section 3, lines 2-4 and 6; section 4, cross-
// shard sends): every send that got a SendResult is in both inboxes exactly once with the
// answered msg_id and inbox_seq, nothing else is stored, inbox_seq is gapless, a sender's
// messages keep their order, and a device that stayed online got exactly its inbox.
// Failures are gtest failures that name the message, at most a few examples per kind.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/types.h"

namespace im::crash {

// One send the load made, with the SendResult it finally got.
struct SentMessage {
  uint64_t from_uid = 0;
  uint64_t to_uid = 0;
  uint64_t client_msg_id = 0;
  uint64_t n = 0;  // the sender's send counter: its messages must appear in n order
  std::string text;
  client::SendReceipt receipt;
  int64_t answered_ms = 0;  // wall clock when the SendResult arrived
};

// A user's whole inbox as the server returns it; entries[i].inbox_seq == i + 1.
struct InboxCopy {
  uint64_t uid = 0;
  uint64_t head = 0;
  std::vector<client::InboxEntry> entries;
};

// Logs in as `username` on a new device and reads the inbox with Sync pages from 0,
// failing the test (and returning false) on an error, a gap or a page past the head.
bool read_whole_inbox(uint16_t port, const std::string& username, const std::string& password,
                      InboxCopy* out);

struct AuditCounts {
  // Adjacent messages of one conversation that the two users' inboxes order differently
  // (asserted zero: ARCHITECTURE.md section 3, line 6).
  uint64_t conversation_reorders = 0;
};

// The stored-state half of the contract (inboxes keyed by uid; every user the load used).
void check_inboxes(const std::map<uint64_t, InboxCopy>& inboxes,
                   const std::vector<SentMessage>& sent, AuditCounts* counts);

// Convergence: what one online device delivered to the app equals its inbox, each entry
// once, in inbox_seq order.
void check_delivered(const InboxCopy& inbox, const std::vector<client::InboxEntry>& delivered,
                     const std::string& who);

}  // namespace im::crash
