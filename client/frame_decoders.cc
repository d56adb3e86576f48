// frame_decoders.cc - copies fields out of verified FlatBuffers into owning values.
#include "client/frame_decoders.h"

#include <string>

#include "protocol/frame_verify.h"

namespace im::client {

namespace proto = im::proto;

namespace {

std::string to_string(const flatbuffers::String* s) {
  return s ? std::string(s->data(), s->size()) : std::string();
}

Message decode_message(const proto::Message& m) {
  Message out;
  out.msg_id = m.msg_id();
  out.sender_uid = m.sender_uid();
  out.receiver_uid = m.receiver_uid();
  out.client_msg_id = m.client_msg_id();
  out.server_time_ms = m.server_time_ms();
  out.content_type = m.content_type();
  out.reply_to_msg_id = m.reply_to_msg_id();
  out.gid = m.gid();
  out.group_seq = m.group_seq();
  if (m.mentions()) out.mentions.assign(m.mentions()->begin(), m.mentions()->end());
  out.mention_all = m.mention_all();
  if (const proto::TextContent* text = m.content_as_TextContent())
    out.text = to_string(text->text());
  return out;
}

ReadEvent decode_read_event(const proto::ReadEvent& r) {
  return {r.peer_uid(), r.gid(), r.read_inbox_seq(), to_string(r.device_id())};
}

// The Result body of a frame with the given data member, or the failure Status.
template <typename T>
const T* result_data(const proto::Frame& frame, Status* status) {
  *status = decode_status(frame);
  if (!status->ok()) return nullptr;
  const T* data = frame.body_as_Result()->data_as<T>();
  if (data == nullptr) *status = error_status(kBadResponse, "Result without the expected data");
  return data;
}

}  // namespace

std::optional<ReceivedFrame> ReceivedFrame::verify(std::span<const uint8_t> bytes) {
  if (im::protocol::verify_frame(bytes) == nullptr) return std::nullopt;
  return ReceivedFrame(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

InboxEntry decode_inbox_entry(const proto::InboxEntry& entry) {
  InboxEntry out;
  out.inbox_seq = entry.inbox_seq();
  out.owner_uid = entry.owner_uid();
  out.gid = entry.gid();
  out.group_seq = entry.group_seq();
  if (const proto::Message* m = entry.body_as_Message()) {
    out.kind = EntryKind::Message;
    out.message = decode_message(*m);
  } else if (const proto::ReadEvent* r = entry.body_as_ReadEvent()) {
    out.kind = EntryKind::ReadEvent;
    out.read_event = decode_read_event(*r);
  } else if (const proto::GroupEvent* g = entry.body_as_GroupEvent()) {
    out.kind = EntryKind::GroupEvent;
    out.group_event = decode_group_event(*g);
  }
  return out;
}

std::optional<InboxEntry> decode_entry_blob(const proto::EntryBlob* blob) {
  // The frame verifier already checked the nested buffer when it is present.
  if (blob == nullptr || blob->data() == nullptr || blob->data()->size() == 0) return std::nullopt;
  return decode_inbox_entry(*blob->data_nested_root());
}

std::vector<InboxEntry> decode_entry_blobs(const EntryBlobs* blobs) {
  std::vector<InboxEntry> out;
  if (blobs == nullptr) return out;
  out.reserve(blobs->size());
  for (const proto::EntryBlob* blob : *blobs) {
    if (std::optional<InboxEntry> entry = decode_entry_blob(blob)) out.push_back(std::move(*entry));
  }
  return out;
}

Status decode_status(const proto::Frame& frame) {
  const proto::Result* result = frame.body_as_Result();
  if (result == nullptr) {
    return error_status(kBadResponse, std::string("expected a Result, got ") +
                                          proto::EnumNameBody(frame.body_type()));
  }
  return {result->code(), to_string(result->reason())};
}

Result<RegisterInfo> decode_register_ok(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::RegisterOk>(frame, &status);
  if (ok == nullptr) return status;
  return RegisterInfo{ok->uid()};
}

Result<LoginInfo> decode_login_ok(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::LoginOk>(frame, &status);
  if (ok == nullptr) return status;
  return LoginInfo{ok->uid(),
                   to_string(ok->username()),
                   to_string(ok->token()),
                   ok->token_expires_ms(),
                   ok->inbox_head_seq(),
                   ok->server_time_ms()};
}

Result<SendReceipt> decode_send_result(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::SendResult>(frame, &status);
  if (ok == nullptr) return status;
  SendReceipt receipt;
  receipt.msg_id = ok->msg_id();
  receipt.inbox_seq = ok->inbox_seq();
  receipt.server_time_ms = ok->server_time_ms();
  receipt.duplicate = ok->duplicate();
  receipt.gid = ok->gid();
  receipt.group_seq = ok->group_seq();
  return receipt;
}

Result<SyncPage> decode_sync_page(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::SyncPage>(frame, &status);
  if (ok == nullptr) return status;
  return SyncPage{decode_entry_blobs(ok->entries()), ok->head_inbox_seq(), ok->has_more()};
}

Result<HistoryPage> decode_history_page(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::HistoryPage>(frame, &status);
  if (ok == nullptr) return status;
  return HistoryPage{decode_entry_blobs(ok->entries()), ok->has_more()};
}

Result<ConversationList> decode_conversation_list(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::ConversationList>(frame, &status);
  if (ok == nullptr) return status;
  ConversationList list;
  list.total_unread = ok->total_unread();
  if (ok->conversations() == nullptr) return list;
  for (const proto::Conversation* c : *ok->conversations()) {
    Conversation conv;
    conv.peer_uid = c->peer_uid();
    if (std::optional<InboxEntry> last = decode_entry_blob(c->last())) {
      conv.has_last = true;
      conv.last = std::move(*last);
    }
    conv.last_inbox_seq = c->last_inbox_seq();
    conv.unread = c->unread();
    conv.read_inbox_seq = c->read_inbox_seq();
    conv.muted = c->muted();
    conv.updated_ms = c->updated_ms();
    conv.gid = c->gid();
    conv.last_group_seq = c->last_group_seq();
    conv.read_group_seq = c->read_group_seq();
    conv.mentioned = c->mentioned();
    conv.name = to_string(c->name());
    list.conversations.push_back(std::move(conv));
  }
  return list;
}

Result<MarkReadInfo> decode_mark_read_ok(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::MarkReadOk>(frame, &status);
  if (ok == nullptr) return status;
  return MarkReadInfo{ok->read_inbox_seq(), ok->unread(), ok->read_group_seq()};
}

Result<std::vector<UserInfo>> decode_user_list(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::UserList>(frame, &status);
  if (ok == nullptr) return status;
  std::vector<UserInfo> users;
  if (ok->users() == nullptr) return users;
  for (const proto::UserInfo* u : *ok->users())
    users.push_back({u->uid(), to_string(u->username())});
  return users;
}

Result<PongInfo> decode_pong(const proto::Frame& frame, int64_t now_ms) {
  const proto::Pong* pong = frame.body_as_Pong();
  if (pong == nullptr) {
    Status status = decode_status(frame);  // a server may answer Ping with an error Result
    if (status.ok()) status = error_status(kBadResponse, "Ping answered without a Pong");
    return status;
  }
  return PongInfo{pong->client_time_ms(), pong->server_time_ms(), now_ms - pong->client_time_ms()};
}

KickInfo decode_kick(const proto::Kick& kick) {
  return {kick.code(), to_string(kick.reason())};
}

// ---- groups ----

GroupEvent decode_group_event(const proto::GroupEvent& g) {
  GroupEvent out;
  out.kind = g.kind();
  out.actor_uid = g.actor_uid();
  if (g.target_uids()) out.target_uids.assign(g.target_uids()->begin(), g.target_uids()->end());
  out.text = to_string(g.text());
  out.flag = g.flag();
  out.server_time_ms = g.server_time_ms();
  return out;
}

Result<GroupChange> decode_group_created(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::GroupCreated>(frame, &status);
  if (ok == nullptr) return status;
  return GroupChange{ok->gid(), ok->group_seq()};
}

Result<GroupChange> decode_group_changed(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::GroupChanged>(frame, &status);
  if (ok == nullptr) return status;
  return GroupChange{ok->gid(), ok->group_seq()};
}

Result<GroupInfo> decode_group_info(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::GroupInfo>(frame, &status);
  if (ok == nullptr) return status;
  GroupInfo info;
  info.gid = ok->gid();
  info.name = to_string(ok->name());
  info.owner_uid = ok->owner_uid();
  if (ok->admins()) info.admins.assign(ok->admins()->begin(), ok->admins()->end());
  info.announcement = to_string(ok->announcement());
  info.member_count = ok->member_count();
  info.my_role = ok->my_role();
  info.my_muted = ok->my_muted();
  info.my_do_not_disturb = ok->my_do_not_disturb();
  info.last_group_seq = ok->last_group_seq();
  info.read_group_seq = ok->read_group_seq();
  info.join_group_seq = ok->join_group_seq();
  info.dismissed = ok->dismissed();
  info.is_member = ok->is_member();
  return info;
}

Result<std::vector<GroupSummary>> decode_group_list(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::GroupList>(frame, &status);
  if (ok == nullptr) return status;
  std::vector<GroupSummary> groups;
  if (ok->groups() == nullptr) return groups;
  for (const proto::GroupSummary* g : *ok->groups()) {
    GroupSummary row;
    row.gid = g->gid();
    row.name = to_string(g->name());
    row.my_role = g->my_role();
    row.last_group_seq = g->last_group_seq();
    row.read_group_seq = g->read_group_seq();
    row.join_group_seq = g->join_group_seq();
    row.unread = g->unread();
    row.mentioned = g->mentioned();
    row.do_not_disturb = g->do_not_disturb();
    row.dismissed = g->dismissed();
    row.updated_ms = g->updated_ms();
    groups.push_back(std::move(row));
  }
  return groups;
}

Result<MemberList> decode_member_list(const proto::Frame& frame) {
  Status status;
  const auto* ok = result_data<proto::MemberList>(frame, &status);
  if (ok == nullptr) return status;
  MemberList list;
  list.has_more = ok->has_more();
  if (ok->members() == nullptr) return list;
  for (const proto::MemberInfo* m : *ok->members()) {
    list.members.push_back({m->uid(), m->role(), m->join_group_seq(), m->muted()});
  }
  return list;
}

}  // namespace im::client
