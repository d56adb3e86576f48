// group_frame_builders.cc - the group requests (CreateGroup ... GroupHistory, and MarkRead
// for a group) as Frames; same contract as frame_builders.cc: clear, build, finish_frame().
#include "client/frame_builders.h"

namespace im::client {

namespace fb = flatbuffers;
namespace proto = im::proto;

namespace {

fb::Offset<fb::Vector<uint64_t>> uids_or_null(fb::FlatBufferBuilder& fbb,
                                              std::span<const uint64_t> uids) {
  if (uids.empty()) return 0;
  return fbb.CreateVector(uids.data(), uids.size());
}

}  // namespace

FrameBytes build_create_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, std::string_view name,
                              std::span<const uint64_t> member_uids) {
  fbb.Clear();
  auto name_offset = fbb.CreateString(name.data(), name.size());
  auto members = uids_or_null(fbb, member_uids);
  auto create = proto::CreateCreateGroup(fbb, name_offset, members);
  return finish_frame(fbb, req_id, proto::Body::CreateGroup, create.Union());
}

FrameBytes build_get_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::GetGroup, proto::CreateGetGroup(fbb, gid).Union());
}

FrameBytes build_list_groups(fb::FlatBufferBuilder& fbb, uint64_t req_id) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::ListGroups, proto::CreateListGroups(fbb).Union());
}

FrameBytes build_list_members(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                              uint64_t after_uid, uint32_t limit) {
  fbb.Clear();
  auto list = proto::CreateListMembers(fbb, gid, after_uid, limit);
  return finish_frame(fbb, req_id, proto::Body::ListMembers, list.Union());
}

FrameBytes build_invite_members(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                std::span<const uint64_t> uids) {
  fbb.Clear();
  auto invite = proto::CreateInviteMembers(fbb, gid, uids_or_null(fbb, uids));
  return finish_frame(fbb, req_id, proto::Body::InviteMembers, invite.Union());
}

FrameBytes build_remove_member(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                               uint64_t uid) {
  fbb.Clear();
  auto remove = proto::CreateRemoveMember(fbb, gid, uid);
  return finish_frame(fbb, req_id, proto::Body::RemoveMember, remove.Union());
}

FrameBytes build_quit_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::QuitGroup,
                      proto::CreateQuitGroup(fbb, gid).Union());
}

FrameBytes build_dismiss_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid) {
  fbb.Clear();
  return finish_frame(fbb, req_id, proto::Body::DismissGroup,
                      proto::CreateDismissGroup(fbb, gid).Union());
}

FrameBytes build_update_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                              std::string_view name, const std::string* announcement,
                              bool clear_announcement) {
  fbb.Clear();
  fb::Offset<fb::String> name_offset = 0;
  if (!name.empty()) name_offset = fbb.CreateString(name.data(), name.size());
  fb::Offset<fb::String> announcement_offset = 0;
  if (announcement != nullptr) announcement_offset = fbb.CreateString(*announcement);
  auto update =
      proto::CreateUpdateGroup(fbb, gid, name_offset, announcement_offset, clear_announcement);
  return finish_frame(fbb, req_id, proto::Body::UpdateGroup, update.Union());
}

FrameBytes build_transfer_ownership(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                    uint64_t new_owner_uid) {
  fbb.Clear();
  auto transfer = proto::CreateTransferOwnership(fbb, gid, new_owner_uid);
  return finish_frame(fbb, req_id, proto::Body::TransferOwnership, transfer.Union());
}

FrameBytes build_set_admin(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid, uint64_t uid,
                           bool admin) {
  fbb.Clear();
  auto set = proto::CreateSetAdmin(fbb, gid, uid, admin);
  return finish_frame(fbb, req_id, proto::Body::SetAdmin, set.Union());
}

FrameBytes build_mute_member(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                             uint64_t uid, bool muted) {
  fbb.Clear();
  auto mute = proto::CreateMuteMember(fbb, gid, uid, muted);
  return finish_frame(fbb, req_id, proto::Body::MuteMember, mute.Union());
}

FrameBytes build_mute_group(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid, bool muted) {
  fbb.Clear();
  auto mute = proto::CreateMuteGroup(fbb, gid, muted);
  return finish_frame(fbb, req_id, proto::Body::MuteGroup, mute.Union());
}

FrameBytes build_group_send_text(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                 uint64_t client_msg_id, std::string_view text,
                                 std::span<const uint64_t> mentions, bool mention_all) {
  fbb.Clear();
  auto text_offset = fbb.CreateString(text.data(), text.size());
  auto content = proto::CreateTextContent(fbb, text_offset);
  auto mention_vec = uids_or_null(fbb, mentions);
  auto send = proto::CreateGroupSend(fbb, gid, client_msg_id, proto::Content::TextContent,
                                     content.Union(), 0, mention_vec, mention_all);
  return finish_frame(fbb, req_id, proto::Body::GroupSend, send.Union());
}

FrameBytes build_group_sync(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                            uint64_t after_group_seq, uint32_t limit) {
  fbb.Clear();
  auto sync = proto::CreateGroupSync(fbb, gid, after_group_seq, limit);
  return finish_frame(fbb, req_id, proto::Body::GroupSync, sync.Union());
}

FrameBytes build_group_history(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                               uint64_t before_group_seq, uint64_t after_group_seq,
                               uint32_t limit) {
  fbb.Clear();
  auto history = proto::CreateGroupHistory(fbb, gid, before_group_seq, after_group_seq, limit);
  return finish_frame(fbb, req_id, proto::Body::GroupHistory, history.Union());
}

FrameBytes build_mark_group_read(fb::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                 uint64_t up_to_group_seq) {
  fbb.Clear();
  auto mark = proto::CreateMarkRead(fbb, 0, 0, gid, up_to_group_seq);
  return finish_frame(fbb, req_id, proto::Body::MarkRead, mark.Union());
}

}  // namespace im::client
