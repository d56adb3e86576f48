// types.h - the plain values the SDK hands to applications, decoded from wire frames
// (client/frame_decoders.h). Field names are the schema's (protocol/im.fbs), so an app,
// the docs and the wire say the same thing. Owning copies: safe to keep and move across
// threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/im_generated.h"

namespace im::client {

// A chat message (InboxEntry.body = Message). Only text content exists today; a content
// type this SDK does not know shows as content_type NONE with empty text.
struct Message {
  uint64_t msg_id = 0;
  uint64_t sender_uid = 0;
  uint64_t receiver_uid = 0;
  uint64_t client_msg_id = 0;
  int64_t server_time_ms = 0;
  im::proto::Content content_type = im::proto::Content::NONE;
  std::string text;
  uint64_t reply_to_msg_id = 0;
};

// Another device of the same user moved a conversation's read cursor.
struct ReadEvent {
  uint64_t peer_uid = 0;
  uint64_t read_inbox_seq = 0;
  std::string device_id;
};

enum class EntryKind : uint8_t { Unknown, Message, ReadEvent };

// One entry of the user's inbox.
struct InboxEntry {
  uint64_t inbox_seq = 0;
  uint64_t owner_uid = 0;
  EntryKind kind = EntryKind::Unknown;
  Message message;       // when kind == Message
  ReadEvent read_event;  // when kind == ReadEvent
  // Set by the Client on delivery: the message was sent by this user (any device) /
  // by this Client object (matched by client_msg_id).
  bool is_own = false;
  bool from_this_device = false;
};

struct RegisterInfo {
  uint64_t uid = 0;
};

struct LoginInfo {
  uint64_t uid = 0;
  std::string username;
  std::string token;
  int64_t token_expires_ms = 0;
  uint64_t inbox_head_seq = 0;
  int64_t server_time_ms = 0;
};

struct SendReceipt {
  uint64_t msg_id = 0;
  uint64_t inbox_seq = 0;  // the sender's copy in the sender's inbox
  int64_t server_time_ms = 0;
  bool duplicate = false;
  uint64_t client_msg_id = 0;  // the id the SDK used (stable across resends)
  uint32_t attempts = 0;       // Send frames written (1 when nothing went wrong)
};

struct SyncPage {
  std::vector<InboxEntry> entries;
  uint64_t head_inbox_seq = 0;
  bool has_more = false;
};

struct HistoryPage {
  std::vector<InboxEntry> entries;  // newest first (before mode) or oldest first (after mode)
  bool has_more = false;
};

struct Conversation {
  uint64_t peer_uid = 0;
  bool has_last = false;
  InboxEntry last;  // the newest entry of the conversation, when has_last
  uint64_t last_inbox_seq = 0;
  uint32_t unread = 0;
  uint64_t read_inbox_seq = 0;
  bool muted = false;
  int64_t updated_ms = 0;
};

struct ConversationList {
  std::vector<Conversation> conversations;  // newest activity first
  uint32_t total_unread = 0;
};

struct MarkReadInfo {
  uint64_t read_inbox_seq = 0;
  uint32_t unread = 0;
};

struct UserInfo {
  uint64_t uid = 0;
  std::string username;
};

struct PongInfo {
  int64_t client_time_ms = 0;
  int64_t server_time_ms = 0;
  int64_t rtt_ms = 0;
};

struct KickInfo {
  im::proto::Code code = im::proto::Code::Ok;
  std::string reason;
};

}  // namespace im::client
