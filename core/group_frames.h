// group_frames.h - builds the group frames the server sends and the group log entries it
// stores (wire-encoded InboxEntry with gid and group_seq set). Like frames.h, output is
// appended already length-prefixed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/frames.h"
#include "protocol/im_generated.h"

namespace im::core {

void append_group_created(Bytes& out, uint64_t req_id, uint64_t gid, uint64_t group_seq);
void append_group_changed(Bytes& out, uint64_t req_id, uint64_t gid, uint64_t group_seq);
void append_group_send_result(Bytes& out, uint64_t req_id, uint64_t msg_id, uint64_t gid,
                              uint64_t group_seq, int64_t server_time_ms, bool duplicate);
void append_group_mark_read_ok(Bytes& out, uint64_t req_id, uint64_t read_seq, uint32_t unread);

struct GroupInfoFields {
  uint64_t gid = 0;
  std::string_view name;
  uint64_t owner_uid = 0;
  std::span<const uint64_t> admins;
  std::string_view announcement;
  uint32_t member_count = 0;
  uint8_t my_role = 0;
  bool my_muted = false;
  bool my_do_not_disturb = false;
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
  uint64_t join_group_seq = 0;
  bool dismissed = false;
  bool is_member = false;
};
void append_group_info(Bytes& out, uint64_t req_id, const GroupInfoFields& f);

// One row of "my groups", as it travels between workers in a gather (encode/decode) and
// into GroupList and the merged ConversationList.
struct GroupSummaryRow {
  uint64_t gid = 0;       // 0: a 1:1 conversation (Conversations gathers carry both)
  uint64_t peer_uid = 0;  // 1:1: the peer; the seqs are then inbox seqs
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
  uint64_t join_group_seq = 0;
  int64_t updated_ms = 0;
  uint32_t unread = 0;
  uint8_t my_role = 0;
  bool mentioned = false;
  bool do_not_disturb = false;
  bool dismissed = false;
  std::string name;
  Bytes last_entry;  // the newest visible log entry (may be empty)
};
void encode_group_summary(Bytes& out, const GroupSummaryRow& row);
// Decodes rows appended by encode_group_summary; stops at the first malformed one.
std::vector<GroupSummaryRow> decode_group_summaries(std::span<const uint8_t> bytes);
void append_group_list(Bytes& out, uint64_t req_id, std::span<const GroupSummaryRow> rows);

struct MemberRow {
  uint64_t uid;
  uint8_t role;
  uint64_t join_group_seq;
  bool muted;
};
void append_member_list(Bytes& out, uint64_t req_id, std::span<const MemberRow> rows,
                        bool has_more);

// Stored group log entries.
void build_group_message_entry(Bytes& out, uint64_t gid, uint64_t group_seq, uint64_t msg_id,
                               uint64_t sender_uid, uint64_t client_msg_id, int64_t time_ms,
                               const im::proto::GroupSend& send);
void build_group_event_entry(Bytes& out, uint64_t gid, uint64_t group_seq,
                             im::proto::GroupEventKind kind, uint64_t actor_uid,
                             std::span<const uint64_t> targets, std::string_view text, bool flag,
                             int64_t time_ms);
// The inbox entry telling a user's other devices that a group was read.
void build_group_read_event_entry(Bytes& out, uint64_t owner_uid, uint64_t inbox_seq, uint64_t gid,
                                  uint64_t read_group_seq, std::string_view device_id);

}  // namespace im::core
