// frames.h - builds every frame the server sends, and the inbox entries it stores.
// Output is appended to a byte vector already length-prefixed (ready for the socket).
// Uses one FlatBufferBuilder per thread, cleared and reused (no steady-state allocation).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/im_generated.h"

namespace im::core {

using Bytes = std::vector<uint8_t>;
using im::proto::Code;

void append_result(Bytes& out, uint64_t req_id, Code code, std::string_view reason);
void append_register_ok(Bytes& out, uint64_t req_id, uint64_t uid);
void append_login_ok(Bytes& out, uint64_t req_id, uint64_t uid, std::string_view username,
                     std::string_view token, int64_t token_expires_ms, uint64_t head_seq,
                     int64_t now_ms);
void append_send_result(Bytes& out, uint64_t req_id, uint64_t msg_id, uint64_t inbox_seq,
                        int64_t server_time_ms, bool duplicate);
void append_mark_read_ok(Bytes& out, uint64_t req_id, uint64_t read_seq, uint32_t unread);
void append_pong(Bytes& out, uint64_t req_id, int64_t client_time_ms, int64_t now_ms);
void append_kick(Bytes& out, Code code, std::string_view reason);

// A page of stored entries (Push, SyncPage or HistoryPage). add() refuses an entry that
// would take the frame over the byte budget (the caller then sets has_more).
class EntryPage {
 public:
  explicit EntryPage(size_t budget_bytes) : budget_bytes_(budget_bytes) {}
  bool add(std::span<const uint8_t> entry_bytes);
  size_t count() const { return offsets_.size(); }
  void append_push(Bytes& out);
  void append_sync_page(Bytes& out, uint64_t req_id, uint64_t head_seq, bool has_more);
  void append_history_page(Bytes& out, uint64_t req_id, bool has_more);
  void append_group_push(Bytes& out);
  void clear();
  // clear() with a new budget: lets a caller keep one page (and its capacity) per thread.
  void reset(size_t budget_bytes) {
    budget_bytes_ = budget_bytes;
    clear();
  }

 private:
  size_t budget_bytes_;
  size_t used_bytes_ = 0;
  Bytes storage_;  // copies of entry bytes (the LMDB views die with the read txn)
  std::vector<size_t> offsets_;
};

struct ConvListItem {
  uint64_t peer_uid;
  std::span<const uint8_t> last_entry;  // may be empty
  uint64_t last_inbox_seq;
  uint32_t unread;
  uint64_t read_inbox_seq;
  bool muted;
  int64_t updated_ms;
  // groups
  uint64_t gid = 0;
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
  bool mentioned = false;
  std::string_view name;
};
void append_conversation_list(Bytes& out, uint64_t req_id, std::span<const ConvListItem> items,
                              uint32_t total_unread);

struct UserListItem {
  uint64_t uid;
  std::string_view username;
};
void append_user_list(Bytes& out, uint64_t req_id, std::span<const UserListItem> users);

// Stored inbox entries (the value of the inbox table, also what a push carries).
struct MessageFields {
  uint64_t owner_uid, inbox_seq, msg_id, sender_uid, receiver_uid, client_msg_id;
  int64_t server_time_ms;
};
void build_message_entry(Bytes& out, const MessageFields& f, const im::proto::Send& send);
void build_read_event_entry(Bytes& out, uint64_t owner_uid, uint64_t inbox_seq, uint64_t peer_uid,
                            uint64_t read_seq, std::string_view device_id);

}  // namespace im::core
