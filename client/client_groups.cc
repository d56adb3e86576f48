// client_groups.cc - the Client's group calls: management (create, invite, remove, quit,
// dismiss, update, roles, mutes), queries (info, my groups, members, sync, history),
// group_send_text with the shared resend loop, and mark_group_read. Each builds one frame,
// waits for its answer through call() (client.cc) and decodes it. Delivery of pushed group
// entries is the reader thread's (group_delivery.cc).
#include "client/client.h"

namespace im::client {

namespace proto = im::proto;

Result<GroupChange> Client::group_change(FrameBytes frame, uint64_t req_id, proto::Body type) {
  auto answer = call(frame, req_id, type);
  if (!answer.ok()) return answer.status();
  return decode_group_changed(answer->frame());
}

Result<GroupChange> Client::create_group(std::string_view name,
                                         std::span<const uint64_t> member_uids) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(256 + member_uids.size() * 8);
  uint64_t req_id = next_req_id();
  auto answer =
      call(build_create_group(fbb, req_id, name, member_uids), req_id, proto::Body::CreateGroup);
  if (!answer.ok()) return answer.status();
  return decode_group_created(answer->frame());
}

Result<GroupInfo> Client::group_info(uint64_t gid) {
  return ask(
      proto::Body::GetGroup,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_get_group(fbb, req_id, gid);
      },
      decode_group_info);
}

Result<std::vector<GroupSummary>> Client::list_groups() {
  return ask(
      proto::Body::ListGroups,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_list_groups(fbb, req_id);
      },
      decode_group_list);
}

Result<MemberList> Client::list_members(uint64_t gid, uint64_t after_uid, uint32_t limit) {
  return ask(
      proto::Body::ListMembers,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_list_members(fbb, req_id, gid, after_uid, limit);
      },
      decode_member_list);
}

Result<GroupChange> Client::invite(uint64_t gid, std::span<const uint64_t> uids) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(128 + uids.size() * 8);
  uint64_t req_id = next_req_id();
  return group_change(build_invite_members(fbb, req_id, gid, uids), req_id,
                      proto::Body::InviteMembers);
}

Result<GroupChange> Client::remove_member(uint64_t gid, uint64_t uid) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_remove_member(fbb, req_id, gid, uid), req_id,
                      proto::Body::RemoveMember);
}

Result<GroupChange> Client::quit_group(uint64_t gid) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_quit_group(fbb, req_id, gid), req_id, proto::Body::QuitGroup);
}

Result<GroupChange> Client::dismiss_group(uint64_t gid) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_dismiss_group(fbb, req_id, gid), req_id, proto::Body::DismissGroup);
}

Result<GroupChange> Client::update_group(uint64_t gid, const GroupUpdate& update) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(256 + update.name.size() + update.announcement.size());
  uint64_t req_id = next_req_id();
  const std::string* announcement = update.has_announcement ? &update.announcement : nullptr;
  auto frame =
      build_update_group(fbb, req_id, gid, update.name, announcement, update.clear_announcement);
  return group_change(frame, req_id, proto::Body::UpdateGroup);
}

Result<GroupChange> Client::transfer_ownership(uint64_t gid, uint64_t new_owner_uid) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_transfer_ownership(fbb, req_id, gid, new_owner_uid), req_id,
                      proto::Body::TransferOwnership);
}

Result<GroupChange> Client::set_admin(uint64_t gid, uint64_t uid, bool admin) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_set_admin(fbb, req_id, gid, uid, admin), req_id, proto::Body::SetAdmin);
}

Result<GroupChange> Client::mute_member(uint64_t gid, uint64_t uid, bool muted) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_mute_member(fbb, req_id, gid, uid, muted), req_id,
                      proto::Body::MuteMember);
}

Result<GroupChange> Client::mute_group(uint64_t gid, bool muted) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  return group_change(build_mute_group(fbb, req_id, gid, muted), req_id, proto::Body::MuteGroup);
}

Result<SendReceipt> Client::group_send_attempt(uint64_t gid, uint64_t client_msg_id,
                                               std::string_view text,
                                               std::span<const uint64_t> mentions, bool mention_all,
                                               uint32_t timeout_ms) {
  {
    std::lock_guard lock(mu_);
    sent_ids_.add(client_msg_id);
  }
  flatbuffers::FlatBufferBuilder fbb(256 + text.size() + mentions.size() * 8);
  uint64_t req_id = next_req_id();
  auto frame = build_group_send_text(fbb, req_id, gid, client_msg_id, text, mentions, mention_all);
  auto answer = send_request(frame, req_id, proto::Body::GroupSend, timeout_ms);
  if (!answer.ok()) return answer.status();
  Result<SendReceipt> receipt = decode_send_result(answer->frame());
  if (receipt.ok()) {
    receipt->client_msg_id = client_msg_id;
    receipt->attempts = 1;
  }
  return receipt;
}

Result<SendReceipt> Client::group_send_text(uint64_t gid, std::string_view text,
                                            std::span<const uint64_t> mentions, bool mention_all) {
  return group_send_text_with_id(gid, new_client_msg_id(), text, mentions, mention_all);
}

Result<SendReceipt> Client::group_send_text_with_id(uint64_t gid, uint64_t client_msg_id,
                                                    std::string_view text,
                                                    std::span<const uint64_t> mentions,
                                                    bool mention_all) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  return send_with_retry([&](uint32_t timeout_ms) {
    return group_send_attempt(gid, client_msg_id, text, mentions, mention_all, timeout_ms);
  });
}

Result<SendReceipt> Client::group_send_text_once(uint64_t gid, uint64_t client_msg_id,
                                                 std::string_view text) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  return group_send_attempt(gid, client_msg_id, text, {}, false, options_.request_timeout_ms);
}

Result<SyncPage> Client::group_sync(uint64_t gid, uint64_t after_group_seq, uint32_t limit) {
  return ask(
      proto::Body::GroupSync,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_group_sync(fbb, req_id, gid, after_group_seq, limit);
      },
      decode_sync_page);
}

Result<HistoryPage> Client::group_history(uint64_t gid, uint64_t before_group_seq,
                                          uint64_t after_group_seq, uint32_t limit) {
  return ask(
      proto::Body::GroupHistory,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_group_history(fbb, req_id, gid, before_group_seq, after_group_seq, limit);
      },
      decode_history_page);
}

Result<MarkReadInfo> Client::mark_group_read(uint64_t gid, uint64_t up_to_group_seq) {
  return ask(
      proto::Body::MarkRead,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_mark_group_read(fbb, req_id, gid, up_to_group_seq);
      },
      decode_mark_read_ok);
}

std::vector<std::pair<uint64_t, uint64_t>> Client::group_cursors() const {
  std::lock_guard lock(mu_);
  return group_tracker_.cursors();
}

uint64_t Client::group_cursor(uint64_t gid) const {
  std::lock_guard lock(mu_);
  return group_tracker_.cursor(gid);
}

}  // namespace im::client
