// group_audit.h - what the group crash test proves about the stored group logs, read back
// through the server as new devices would: GroupSync pages from group_seq 0. Checks the
// reliability contract for group sends (the same as 1:1: client_msg_id dedup, SendResult
// only once the entry is durable, one group_seq order for every member and device): the
// log is gapless 1..head, every send that got a SendResult is in it exactly once at the
// answered group_seq with the answered msg_id, nothing else is stored, a sender's messages
// keep their order, every member reads the same log from its join, and a device that
// stayed online delivered exactly that. Failures are gtest failures naming the entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/types.h"

namespace im::crash {

// One group send the load made, with the SendResult it finally got.
struct GroupSentMessage {
  uint64_t gid = 0;
  uint64_t from_uid = 0;
  uint64_t client_msg_id = 0;
  uint64_t n = 0;  // the sender's counter in this group: its messages appear in n order
  std::string text;
  client::SendReceipt receipt;
};

// One member's view of one group's log as the server returns it: the entries after
// join_group_seq up to head, entries[i].group_seq == join_group_seq + i + 1.
struct GroupLogCopy {
  uint64_t gid = 0;
  uint64_t join_group_seq = 0;
  uint64_t head = 0;
  std::vector<client::InboxEntry> entries;
};

// What a fresh device of one member reads: each group's log (GroupSync from 0), its
// group_info, and its list_groups row.
struct MemberReadBack {
  uint64_t uid = 0;
  std::vector<GroupLogCopy> logs;            // in the order of the gids asked for
  std::vector<client::GroupInfo> infos;      // the same order
  std::vector<client::GroupSummary> listed;  // the same order; gid 0 when not listed
};

// Logs in as `username` on a new device and reads every group in `gids`, failing the test
// (and returning false) on an error, a gap, an entry of another group or a page past the
// head.
bool read_member_groups(uint16_t port, const std::string& username, const std::string& password,
                        const std::vector<uint64_t>& gids, MemberReadBack* out);

struct GroupAuditCounts {
  uint64_t messages = 0;  // message entries in the log
  uint64_t events = 0;    // GroupEvent entries (Created, Invited)
};

// The stored half of the contract for one group: `log` is read by a member from seq 0,
// `sent` holds every send to this group that got a SendResult.
void check_group_log(const GroupLogCopy& log, const std::vector<GroupSentMessage>& sent,
                     GroupAuditCounts* counts);

// Every member reads the same entries, in the same order, from its join on.
void check_member_view(const GroupLogCopy& log, const GroupLogCopy& view, const std::string& who);

// Convergence: what one online device delivered for the group (entries of other groups and
// inbox entries are ignored) equals the log after `join_group_seq`, each entry once, in
// group_seq order, with is_own set for the member's own messages.
void check_group_delivered(const GroupLogCopy& log, uint64_t join_group_seq, uint64_t member_uid,
                           const std::vector<client::InboxEntry>& delivered,
                           const std::string& who);

}  // namespace im::crash
