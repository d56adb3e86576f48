// server_frames.h - builds the frames a server sends (Result, LoginOk, Push, Kick, ...) and
// stored inbox entries, so SDK tests can play the server's part without one. Test-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/im_generated.h"

namespace im::client::testing {

using Bytes = std::vector<uint8_t>;

struct MessageSpec {
  uint64_t owner_uid = 1;
  uint64_t inbox_seq = 1;
  uint64_t msg_id = 1000;
  uint64_t sender_uid = 2;
  uint64_t receiver_uid = 1;
  uint64_t client_msg_id = 77;
  int64_t server_time_ms = 1700000000000;
  std::string text = "hello";
};

// A stored InboxEntry (the bytes an EntryBlob nests).
Bytes message_entry(const MessageSpec& spec);
Bytes read_event_entry(uint64_t owner_uid, uint64_t inbox_seq, uint64_t peer_uid,
                       uint64_t read_inbox_seq, std::string_view device_id);
// Convenience: a message entry numbered seq from sender 2 to owner 1 with text "m<seq>".
Bytes simple_entry(uint64_t seq);

Bytes result_frame(uint64_t req_id, im::proto::Code code, std::string_view reason);
Bytes register_ok_frame(uint64_t req_id, uint64_t uid);
Bytes login_ok_frame(uint64_t req_id, uint64_t uid, std::string_view username,
                     std::string_view token, uint64_t inbox_head_seq);
Bytes send_result_frame(uint64_t req_id, uint64_t msg_id, uint64_t inbox_seq, bool duplicate);
Bytes push_frame(const std::vector<Bytes>& entries);
Bytes sync_page_frame(uint64_t req_id, const std::vector<Bytes>& entries, uint64_t head,
                      bool has_more);
Bytes history_page_frame(uint64_t req_id, const std::vector<Bytes>& entries, bool has_more);
Bytes conversation_list_frame(uint64_t req_id, uint64_t peer_uid, const Bytes& last_entry,
                              uint32_t unread, uint32_t total_unread);
Bytes mark_read_ok_frame(uint64_t req_id, uint64_t read_inbox_seq, uint32_t unread);
Bytes user_list_frame(uint64_t req_id, const std::vector<std::pair<uint64_t, std::string>>& users);
Bytes pong_frame(uint64_t req_id, int64_t client_time_ms, int64_t server_time_ms);
Bytes kick_frame(im::proto::Code code, std::string_view reason);

// Groups: a group log entry (inbox_seq 0) holding a message "g<gid>-<seq>" from sender 2.
Bytes group_entry(uint64_t gid, uint64_t group_seq, uint64_t sender_uid = 2);
Bytes group_event_entry(uint64_t gid, uint64_t group_seq, im::proto::GroupEventKind kind,
                        uint64_t actor_uid, const std::vector<uint64_t>& targets);
Bytes group_push_frame(const std::vector<Bytes>& entries);
struct GroupRow {
  uint64_t gid = 0;
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
};
Bytes group_list_frame(uint64_t req_id, const std::vector<GroupRow>& groups);

}  // namespace im::client::testing
