// frame_decoders.h - turns verified server frames (protocol/frame_verify.h) into the SDK's
// plain values (client/types.h). Every decoder tolerates missing optional fields; a Result
// whose code is not Ok becomes that Status, and an Ok Result without the expected data
// becomes kBadResponse. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "client/status.h"
#include "client/types.h"
#include "protocol/im_generated.h"

namespace im::client {

using EntryBlobs = flatbuffers::Vector<flatbuffers::Offset<im::proto::EntryBlob>>;

// A frame received from the wire, verified once, owning its bytes.
class ReceivedFrame {
 public:
  // nullopt when the bytes fail protocol::verify_frame.
  static std::optional<ReceivedFrame> verify(std::span<const uint8_t> bytes);
  ReceivedFrame() = default;  // empty: frame() must not be called

  bool empty() const { return bytes_.empty(); }
  const im::proto::Frame& frame() const { return *im::proto::GetFrame(bytes_.data()); }
  uint64_t req_id() const { return frame().req_id(); }
  im::proto::Body type() const { return frame().body_type(); }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  explicit ReceivedFrame(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::vector<uint8_t> bytes_;
};

// One stored entry; nullopt when the blob carries no entry.
std::optional<InboxEntry> decode_entry_blob(const im::proto::EntryBlob* blob);
InboxEntry decode_inbox_entry(const im::proto::InboxEntry& entry);
// Skips blobs without an entry.
std::vector<InboxEntry> decode_entry_blobs(const EntryBlobs* blobs);

// The Status of a Result frame (or of a frame that should have been a Result).
Status decode_status(const im::proto::Frame& frame);

Result<RegisterInfo> decode_register_ok(const im::proto::Frame& frame);
Result<LoginInfo> decode_login_ok(const im::proto::Frame& frame);
Result<SendReceipt> decode_send_result(const im::proto::Frame& frame);
Result<SyncPage> decode_sync_page(const im::proto::Frame& frame);
Result<HistoryPage> decode_history_page(const im::proto::Frame& frame);
Result<ConversationList> decode_conversation_list(const im::proto::Frame& frame);
Result<MarkReadInfo> decode_mark_read_ok(const im::proto::Frame& frame);
Result<std::vector<UserInfo>> decode_user_list(const im::proto::Frame& frame);
Result<PongInfo> decode_pong(const im::proto::Frame& frame, int64_t now_ms);
KickInfo decode_kick(const im::proto::Kick& kick);

// Groups.
Result<GroupChange> decode_group_created(const im::proto::Frame& frame);
Result<GroupChange> decode_group_changed(const im::proto::Frame& frame);
Result<GroupInfo> decode_group_info(const im::proto::Frame& frame);
Result<std::vector<GroupSummary>> decode_group_list(const im::proto::Frame& frame);
Result<MemberList> decode_member_list(const im::proto::Frame& frame);
GroupEvent decode_group_event(const im::proto::GroupEvent& event);

}  // namespace im::client
