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
// type this SDK does not know shows as content_type NONE with empty text. A group message
// has gid and group_seq set and receiver_uid 0.
struct Message {
  uint64_t msg_id = 0;
  uint64_t sender_uid = 0;
  uint64_t receiver_uid = 0;
  uint64_t gid = 0;
  uint64_t group_seq = 0;
  uint64_t client_msg_id = 0;
  int64_t server_time_ms = 0;
  im::proto::Content content_type = im::proto::Content::NONE;
  std::string text;
  uint64_t reply_to_msg_id = 0;
  std::vector<uint64_t> mentions;  // @mentioned uids
  bool mention_all = false;        // @all
};

// Another device of the same user moved a conversation's read cursor. For a group, gid is
// set, peer_uid is 0 and read_inbox_seq carries the group read cursor (a group_seq).
struct ReadEvent {
  uint64_t peer_uid = 0;
  uint64_t gid = 0;
  uint64_t read_inbox_seq = 0;
  std::string device_id;
};

// A change to a group, as written in its log ("tips"): see GroupEventKind in the schema
// for what target_uids, text and flag mean for each kind.
struct GroupEvent {
  im::proto::GroupEventKind kind = im::proto::GroupEventKind::Created;
  uint64_t actor_uid = 0;
  std::vector<uint64_t> target_uids;
  std::string text;
  bool flag = false;
  int64_t server_time_ms = 0;
};

enum class EntryKind : uint8_t { Unknown, Message, ReadEvent, GroupEvent };

// One entry of the user's inbox, or of a group's log. Inbox entries have inbox_seq set
// (gid 0); group log entries have gid and group_seq set (inbox_seq and owner_uid 0).
struct InboxEntry {
  uint64_t inbox_seq = 0;
  uint64_t owner_uid = 0;
  uint64_t gid = 0;
  uint64_t group_seq = 0;
  EntryKind kind = EntryKind::Unknown;
  Message message;         // when kind == Message
  ReadEvent read_event;    // when kind == ReadEvent
  GroupEvent group_event;  // when kind == GroupEvent
  bool is_group() const { return gid != 0; }
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
  uint64_t inbox_seq = 0;  // the sender's copy in the sender's inbox (0 for a group send)
  uint64_t gid = 0;        // group sends: the group and the entry's place in its log
  uint64_t group_seq = 0;
  int64_t server_time_ms = 0;
  bool duplicate = false;
  uint64_t client_msg_id = 0;  // the id the SDK used (stable across resends)
  uint32_t attempts = 0;       // Send frames written (1 when nothing went wrong)
};

struct SyncPage {
  std::vector<InboxEntry> entries;
  uint64_t head_inbox_seq = 0;  // GroupSync: the newest group_seq the caller may see
  bool has_more = false;
};

struct HistoryPage {
  std::vector<InboxEntry> entries;  // newest first (before mode) or oldest first (after mode)
  bool has_more = false;
};

// A 1:1 conversation (peer_uid set) or a group (gid set, with name, the group seqs and
// mentioned; muted is then the member's do-not-disturb).
struct Conversation {
  uint64_t peer_uid = 0;
  uint64_t gid = 0;
  bool has_last = false;
  InboxEntry last;  // the newest entry of the conversation, when has_last
  uint64_t last_inbox_seq = 0;
  uint32_t unread = 0;
  uint64_t read_inbox_seq = 0;
  bool muted = false;
  int64_t updated_ms = 0;
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
  bool mentioned = false;  // an unread entry mentions the user (or all)
  std::string name;        // the group's name
  bool is_group() const { return gid != 0; }
};

struct ConversationList {
  std::vector<Conversation> conversations;  // newest activity first
  uint32_t total_unread = 0;
};

struct MarkReadInfo {
  uint64_t read_inbox_seq = 0;
  uint32_t unread = 0;
  uint64_t read_group_seq = 0;  // mark_group_read
};

// ---- groups ----

// GroupCreated / GroupChanged: the group and the group_seq of the event the change wrote
// (unchanged when nothing was written, e.g. mute_group).
struct GroupChange {
  uint64_t gid = 0;
  uint64_t group_seq = 0;
};

struct GroupInfo {
  uint64_t gid = 0;
  std::string name;
  uint64_t owner_uid = 0;
  std::vector<uint64_t> admins;
  std::string announcement;
  uint32_t member_count = 0;
  im::proto::GroupRole my_role = im::proto::GroupRole::Member;
  bool my_muted = false;  // muted by an admin: sends are refused (MutedInGroup)
  bool my_do_not_disturb = false;
  uint64_t last_group_seq = 0;  // newest entry the caller may see
  uint64_t read_group_seq = 0;
  uint64_t join_group_seq = 0;  // the caller sees entries after this
  bool dismissed = false;
  bool is_member = false;  // false: a former member reading up to where it left
};

// One row of list_groups(): the caller's current memberships, newest activity first.
struct GroupSummary {
  uint64_t gid = 0;
  std::string name;
  im::proto::GroupRole my_role = im::proto::GroupRole::Member;
  uint64_t last_group_seq = 0;
  uint64_t read_group_seq = 0;
  uint64_t join_group_seq = 0;
  uint32_t unread = 0;  // messages of others after the read cursor
  bool mentioned = false;
  bool do_not_disturb = false;
  bool dismissed = false;
  int64_t updated_ms = 0;
};

struct MemberInfo {
  uint64_t uid = 0;
  im::proto::GroupRole role = im::proto::GroupRole::Member;
  uint64_t join_group_seq = 0;
  bool muted = false;
};

struct MemberList {
  std::vector<MemberInfo> members;  // uid order
  bool has_more = false;            // page on with after_uid = members.back().uid
};

// update_group(): what to change. Empty name = unchanged; announcement: set when
// has_announcement (clear_announcement removes it).
struct GroupUpdate {
  std::string name;
  bool has_announcement = false;
  std::string announcement;
  bool clear_announcement = false;
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
