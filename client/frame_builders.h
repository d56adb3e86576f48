// frame_builders.h - encodes every client -> server request as a Frame (file identifier
// "IMP1"). Each build_* clears the given FlatBufferBuilder, finishes one Frame in it and
// returns a view of the bytes (no length prefix; Connection::write_frame adds it). The
// view lives until the builder is used again. One builder per thread; reusing it keeps
// steady-state encoding free of allocation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/im_generated.h"

namespace im::client {

using FrameBytes = std::span<const uint8_t>;

inline constexpr uint32_t kProtocolVersion = 1;

struct HelloParams {
  uint32_t protocol_version = kProtocolVersion;
  std::string_view username;  // with password
  std::string_view password;
  std::string_view token;  // or a token from an earlier LoginOk
  std::string_view device_id;
  im::proto::Platform platform = im::proto::Platform::Unknown;
  uint64_t ack_inbox_seq = 0;
  std::string_view client_version;
};

FrameBytes build_hello(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, const HelloParams& p);
FrameBytes build_register(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                          std::string_view username, std::string_view password);
FrameBytes build_logout(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id);
FrameBytes build_ping(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, int64_t client_time_ms);
FrameBytes build_send_text(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t to_uid,
                           uint64_t client_msg_id, std::string_view text);
// Ack is not a request (no Result); req_id is carried but ignored by the server.
FrameBytes build_ack(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t inbox_seq);
FrameBytes build_sync(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                      uint64_t after_inbox_seq, uint32_t limit);
FrameBytes build_history(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t peer_uid,
                         uint64_t before_inbox_seq, uint64_t after_inbox_seq, uint32_t limit);
FrameBytes build_conversations(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                               uint32_t limit);
FrameBytes build_mark_read(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t peer_uid,
                           uint64_t up_to_inbox_seq);
FrameBytes build_get_users(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                           std::span<const uint64_t> uids, std::span<const std::string> usernames);

// Groups (group_frame_builders.cc).
FrameBytes build_create_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                              std::string_view name, std::span<const uint64_t> member_uids);
FrameBytes build_get_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid);
FrameBytes build_list_groups(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id);
FrameBytes build_list_members(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                              uint64_t after_uid, uint32_t limit);
FrameBytes build_invite_members(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                std::span<const uint64_t> uids);
FrameBytes build_remove_member(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                               uint64_t uid);
FrameBytes build_quit_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid);
FrameBytes build_dismiss_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid);
// name empty = unchanged; announcement null = unchanged (clear_announcement removes it).
FrameBytes build_update_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                              std::string_view name, const std::string* announcement,
                              bool clear_announcement);
FrameBytes build_transfer_ownership(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                                    uint64_t gid, uint64_t new_owner_uid);
FrameBytes build_set_admin(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                           uint64_t uid, bool admin);
FrameBytes build_mute_member(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                             uint64_t uid, bool muted);
FrameBytes build_mute_group(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                            bool muted);
FrameBytes build_group_send_text(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                 uint64_t client_msg_id, std::string_view text,
                                 std::span<const uint64_t> mentions, bool mention_all);
FrameBytes build_group_sync(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                            uint64_t after_group_seq, uint32_t limit);
FrameBytes build_group_history(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                               uint64_t before_group_seq, uint64_t after_group_seq, uint32_t limit);
FrameBytes build_mark_group_read(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id, uint64_t gid,
                                 uint64_t up_to_group_seq);

// Finishes a Frame whose body the caller built in fbb (for tests that need frames the
// helpers above refuse to make, e.g. a Result sent by a client or an empty union).
FrameBytes finish_frame(flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id,
                        im::proto::Body body_type, flatbuffers::Offset<void> body);

// Copies a built frame out of its builder.
inline std::vector<uint8_t> to_vector(FrameBytes bytes) {
  return {bytes.begin(), bytes.end()};
}

}  // namespace im::client
