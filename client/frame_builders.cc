// frame_builders.cc - one small function per request type; all end in finish_frame().
#include "client/frame_builders.h"

namespace im::client {

namespace fb = flatbuffers;
namespace proto = im::proto;

namespace {

fb::Offset<fb::String> string_or_null(fb::FlatBufferBuilder& fbb, std::string_view s) {
  if (s.empty()) return 0;
  return fbb.CreateString(s.data(), s.size());
}

}  // namespace

FrameBytes finish_frame(fb::FlatBufferBuilder& fbb, uint64_t req_id, proto::Body body_type,
                        fb::Offset<void> body) {
  proto::FrameBuilder frame(fbb);
  frame.add_req_id(req_id);
  frame.add_body_type(body_type);
  frame.add_body(body);
  proto::FinishFrameBuffer(fbb, frame.Finish());
  return {fbb.GetBufferPointer(), fbb.GetSize()};
}

FrameBytes build_hello(fb::FlatBufferBuilder& fbb, uint64_t req_id, const HelloParams& p) {
  fbb.Clear();
  auto username = string_or_null(fbb, p.username);
  auto password = string_or_null(fbb, p.password);
  auto token = string_or_null(fbb, p.token);
  auto device_id = string_or_null(fbb, p.device_id);
  auto client_version = string_or_null(fbb, p.client_version);
  auto hello = proto::CreateHello(fbb, p.protocol_version, username, password, token, device_id,
                                  p.platform, p.ack_inbox_seq, client_version);
  return finish_frame(fbb, req_id, proto::Body::Hello, hello.Union());
}

FrameBytes build_register(fb::FlatBufferBuilder& fbb, uint64_t req_id, std::string_view username,
                          std::string_view password) {
  fbb.Clear();
  auto u = string_or_null(fbb, username);
  auto p = string_or_null(fbb, password);
  return finish_frame(fbb, req_id, proto::Body::Register, proto::CreateRegister(fbb, u, p).Union());
}

FrameBytes build_logout(fb::FlatBufferBuilder& fbb, uint64_t req_id) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::Logout, proto::CreateLogout(fbb).Union());
}

FrameBytes build_ping(fb::FlatBufferBuilder& fbb, uint64_t req_id, int64_t client_time_ms) {
  fbb.Clear();
  auto ping = proto::CreatePing(fbb, client_time_ms);
  return finish_frame(fbb, req_id, proto::Body::Ping, ping.Union());
}

FrameBytes build_send_text(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t to_uid,
                           uint64_t client_msg_id, std::string_view text) {
  fbb.Clear();
  auto text_offset = fbb.CreateString(text.data(), text.size());
  auto content = proto::CreateTextContent(fbb, text_offset);
  auto send =
      proto::CreateSend(fbb, to_uid, client_msg_id, proto::Content::TextContent, content.Union());
  return finish_frame(fbb, req_id, proto::Body::Send, send.Union());
}

FrameBytes build_ack(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t inbox_seq) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::Ack, proto::CreateAck(fbb, inbox_seq).Union());
}

FrameBytes build_sync(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t after_inbox_seq,
                      uint32_t limit) {
  fbb.Clear();
  auto sync = proto::CreateSync(fbb, after_inbox_seq, limit);
  return finish_frame(fbb, req_id, proto::Body::Sync, sync.Union());
}

FrameBytes build_history(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t peer_uid,
                         uint64_t before_inbox_seq, uint64_t after_inbox_seq, uint32_t limit) {
  fbb.Clear();
  auto history = proto::CreateHistory(fbb, peer_uid, before_inbox_seq, after_inbox_seq, limit);
  return finish_frame(fbb, req_id, proto::Body::History, history.Union());
}

FrameBytes build_conversations(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint32_t limit) {
  fbb.Clear();
  auto convs = proto::CreateConversations(fbb, limit);
  return finish_frame(fbb, req_id, proto::Body::Conversations, convs.Union());
}

FrameBytes build_mark_read(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t peer_uid,
                           uint64_t up_to_inbox_seq) {
  fbb.Clear();
  auto mark = proto::CreateMarkRead(fbb, peer_uid, up_to_inbox_seq);
  return finish_frame(fbb, req_id, proto::Body::MarkRead, mark.Union());
}

FrameBytes build_get_users(fb::FlatBufferBuilder& fbb, uint64_t req_id,
                           std::span<const uint64_t> uids, std::span<const std::string> usernames) {
  fbb.Clear();
  fb::Offset<fb::Vector<uint64_t>> uid_vec = 0;
  if (!uids.empty()) uid_vec = fbb.CreateVector(uids.data(), uids.size());
  fb::Offset<fb::Vector<fb::Offset<fb::String>>> name_vec = 0;
  if (!usernames.empty()) {
    std::vector<fb::Offset<fb::String>> names;
    names.reserve(usernames.size());
    for (const std::string& name : usernames) names.push_back(fbb.CreateString(name));
    name_vec = fbb.CreateVector(names);
  }
  auto get = proto::CreateGetUsers(fbb, uid_vec, name_vec);
  return finish_frame(fbb, req_id, proto::Body::GetUsers, get.Union());
}

}  // namespace im::client
