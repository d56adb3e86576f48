// server_frames.cc - the server's side of the wire, for SDK tests.
#include "tests/unit/client/server_frames.h"

namespace im::client::testing {

namespace fb = flatbuffers;
namespace proto = im::proto;

namespace {

Bytes finish(fb::FlatBufferBuilder& fbb, uint64_t req_id, proto::Body type, fb::Offset<void> body) {
  proto::FrameBuilder frame(fbb);
  frame.add_req_id(req_id);
  frame.add_body_type(type);
  frame.add_body(body);
  proto::FinishFrameBuffer(fbb, frame.Finish());
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Bytes finish_result(fb::FlatBufferBuilder& fbb, uint64_t req_id, proto::ResultData type,
                    fb::Offset<void> data) {
  auto result = proto::CreateResult(fbb, proto::Code::Ok, 0, type, data);
  return finish(fbb, req_id, proto::Body::Result, result.Union());
}

fb::Offset<fb::Vector<fb::Offset<proto::EntryBlob>>> blobs(fb::FlatBufferBuilder& fbb,
                                                           const std::vector<Bytes>& entries) {
  std::vector<fb::Offset<proto::EntryBlob>> offsets;
  for (const Bytes& entry : entries) {
    fbb.ForceVectorAlignment(entry.size(), sizeof(uint8_t), 8);
    offsets.push_back(proto::CreateEntryBlob(fbb, fbb.CreateVector(entry)));
  }
  return fbb.CreateVector(offsets);
}

}  // namespace

Bytes message_entry(const MessageSpec& spec) {
  fb::FlatBufferBuilder fbb;
  auto text = proto::CreateTextContent(fbb, fbb.CreateString(spec.text));
  auto message = proto::CreateMessage(fbb, spec.msg_id, spec.sender_uid, spec.receiver_uid, 0, 0,
                                      spec.client_msg_id, spec.server_time_ms,
                                      proto::Content::TextContent, text.Union());
  auto entry = proto::CreateInboxEntry(fbb, spec.inbox_seq, spec.owner_uid,
                                       proto::EntryBody::Message, message.Union());
  fbb.Finish(entry);
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Bytes read_event_entry(uint64_t owner_uid, uint64_t inbox_seq, uint64_t peer_uid,
                       uint64_t read_inbox_seq, std::string_view device_id) {
  fb::FlatBufferBuilder fbb;
  auto event = proto::CreateReadEvent(fbb, peer_uid, 0, read_inbox_seq,
                                      fbb.CreateString(device_id.data(), device_id.size()));
  auto entry = proto::CreateInboxEntry(fbb, inbox_seq, owner_uid, proto::EntryBody::ReadEvent,
                                       event.Union());
  fbb.Finish(entry);
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Bytes simple_entry(uint64_t seq) {
  MessageSpec spec;
  spec.inbox_seq = seq;
  spec.msg_id = 1000 + seq;
  spec.client_msg_id = 5000 + seq;
  spec.text = "m" + std::to_string(seq);
  return message_entry(spec);
}

Bytes result_frame(uint64_t req_id, proto::Code code, std::string_view reason) {
  fb::FlatBufferBuilder fbb;
  auto result = proto::CreateResult(fbb, code, fbb.CreateString(reason.data(), reason.size()));
  return finish(fbb, req_id, proto::Body::Result, result.Union());
}

Bytes register_ok_frame(uint64_t req_id, uint64_t uid) {
  fb::FlatBufferBuilder fbb;
  auto ok = proto::CreateRegisterOk(fbb, uid);
  return finish_result(fbb, req_id, proto::ResultData::RegisterOk, ok.Union());
}

Bytes login_ok_frame(uint64_t req_id, uint64_t uid, std::string_view username,
                     std::string_view token, uint64_t inbox_head_seq) {
  fb::FlatBufferBuilder fbb;
  auto ok = proto::CreateLoginOkDirect(fbb, uid, std::string(username).c_str(),
                                       std::string(token).c_str(), 1900000000000, inbox_head_seq,
                                       1700000000000);
  return finish_result(fbb, req_id, proto::ResultData::LoginOk, ok.Union());
}

Bytes send_result_frame(uint64_t req_id, uint64_t msg_id, uint64_t inbox_seq, bool duplicate) {
  fb::FlatBufferBuilder fbb;
  auto ok = proto::CreateSendResult(fbb, msg_id, inbox_seq, 1700000000000, duplicate);
  return finish_result(fbb, req_id, proto::ResultData::SendResult, ok.Union());
}

Bytes push_frame(const std::vector<Bytes>& entries) {
  fb::FlatBufferBuilder fbb;
  auto push = proto::CreatePush(fbb, blobs(fbb, entries));
  return finish(fbb, 0, proto::Body::Push, push.Union());
}

Bytes sync_page_frame(uint64_t req_id, const std::vector<Bytes>& entries, uint64_t head,
                      bool has_more) {
  fb::FlatBufferBuilder fbb;
  auto page = proto::CreateSyncPage(fbb, blobs(fbb, entries), head, has_more);
  return finish_result(fbb, req_id, proto::ResultData::SyncPage, page.Union());
}

Bytes history_page_frame(uint64_t req_id, const std::vector<Bytes>& entries, bool has_more) {
  fb::FlatBufferBuilder fbb;
  auto page = proto::CreateHistoryPage(fbb, blobs(fbb, entries), has_more);
  return finish_result(fbb, req_id, proto::ResultData::HistoryPage, page.Union());
}

Bytes conversation_list_frame(uint64_t req_id, uint64_t peer_uid, const Bytes& last_entry,
                              uint32_t unread, uint32_t total_unread) {
  fb::FlatBufferBuilder fbb;
  auto last = proto::CreateEntryBlob(fbb, fbb.CreateVector(last_entry));
  auto conv = proto::CreateConversation(fbb, peer_uid, 0, last, 9, unread, 3, false, 1234);
  std::vector<fb::Offset<proto::Conversation>> convs{conv};
  auto list = proto::CreateConversationList(fbb, fbb.CreateVector(convs), total_unread);
  return finish_result(fbb, req_id, proto::ResultData::ConversationList, list.Union());
}

Bytes mark_read_ok_frame(uint64_t req_id, uint64_t read_inbox_seq, uint32_t unread) {
  fb::FlatBufferBuilder fbb;
  auto ok = proto::CreateMarkReadOk(fbb, read_inbox_seq, unread);
  return finish_result(fbb, req_id, proto::ResultData::MarkReadOk, ok.Union());
}

Bytes user_list_frame(uint64_t req_id, const std::vector<std::pair<uint64_t, std::string>>& users) {
  fb::FlatBufferBuilder fbb;
  std::vector<fb::Offset<proto::UserInfo>> infos;
  for (const auto& [uid, name] : users) {
    infos.push_back(proto::CreateUserInfoDirect(fbb, uid, name.c_str()));
  }
  auto list = proto::CreateUserList(fbb, fbb.CreateVector(infos));
  return finish_result(fbb, req_id, proto::ResultData::UserList, list.Union());
}

Bytes pong_frame(uint64_t req_id, int64_t client_time_ms, int64_t server_time_ms) {
  fb::FlatBufferBuilder fbb;
  auto pong = proto::CreatePong(fbb, client_time_ms, server_time_ms);
  return finish(fbb, req_id, proto::Body::Pong, pong.Union());
}

Bytes kick_frame(proto::Code code, std::string_view reason) {
  fb::FlatBufferBuilder fbb;
  auto kick = proto::CreateKick(fbb, code, fbb.CreateString(reason.data(), reason.size()));
  return finish(fbb, 0, proto::Body::Kick, kick.Union());
}

Bytes group_entry(uint64_t gid, uint64_t group_seq, uint64_t sender_uid) {
  fb::FlatBufferBuilder fbb;
  std::string body = "g" + std::to_string(gid) + "-" + std::to_string(group_seq);
  auto text = proto::CreateTextContent(fbb, fbb.CreateString(body));
  auto message =
      proto::CreateMessage(fbb, 9000 + group_seq, sender_uid, 0, gid, group_seq, 7000 + group_seq,
                           1700000000000, proto::Content::TextContent, text.Union());
  auto entry = proto::CreateInboxEntry(fbb, 0, 0, proto::EntryBody::Message, message.Union(), gid,
                                       group_seq);
  fbb.Finish(entry);
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Bytes group_event_entry(uint64_t gid, uint64_t group_seq, proto::GroupEventKind kind,
                        uint64_t actor_uid, const std::vector<uint64_t>& targets) {
  fb::FlatBufferBuilder fbb;
  auto event = proto::CreateGroupEvent(fbb, kind, actor_uid, fbb.CreateVector(targets),
                                       fbb.CreateString("team"), false, 1700000000000);
  auto entry = proto::CreateInboxEntry(fbb, 0, 0, proto::EntryBody::GroupEvent, event.Union(), gid,
                                       group_seq);
  fbb.Finish(entry);
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

Bytes group_push_frame(const std::vector<Bytes>& entries) {
  fb::FlatBufferBuilder fbb;
  auto push = proto::CreateGroupPush(fbb, blobs(fbb, entries));
  return finish(fbb, 0, proto::Body::GroupPush, push.Union());
}

Bytes group_list_frame(uint64_t req_id, const std::vector<GroupRow>& groups) {
  fb::FlatBufferBuilder fbb;
  std::vector<fb::Offset<proto::GroupSummary>> rows;
  for (const GroupRow& g : groups) {
    rows.push_back(proto::CreateGroupSummary(fbb, g.gid, fbb.CreateString("team"),
                                             proto::GroupRole::Member, g.last_group_seq,
                                             g.read_group_seq, 0, 0));
  }
  auto list = proto::CreateGroupList(fbb, fbb.CreateVector(rows));
  return finish_result(fbb, req_id, proto::ResultData::GroupList, list.Union());
}

}  // namespace im::client::testing
