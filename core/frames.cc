// frames.cc - FlatBuffers encoding of server frames and stored inbox entries.
#include "core/frames.h"

#include <flatbuffers/flatbuffers.h>

#include "core/frame_encoding.h"

#include "protocol/content_copy.h"
#include "protocol/frame_reader.h"

namespace im::core {
namespace fb = flatbuffers;
namespace p = im::proto;

using encoding::builder;
using encoding::finish_frame;
using encoding::finish_result;

void append_result(Bytes& out, uint64_t req_id, Code code, std::string_view reason) {
  auto& b = builder();
  auto text = b.CreateString(reason.data(), reason.size());
  auto result = p::CreateResult(b, code, text);
  finish_frame(b, out, req_id, p::Body::Result, result.Union());
}

void append_register_ok(Bytes& out, uint64_t req_id, uint64_t uid) {
  auto& b = builder();
  finish_result(b, out, req_id, p::ResultData::RegisterOk, p::CreateRegisterOk(b, uid).Union());
}

void append_login_ok(Bytes& out, uint64_t req_id, uint64_t uid, std::string_view username,
                     std::string_view token, int64_t token_expires_ms, uint64_t head_seq,
                     int64_t now_ms) {
  auto& b = builder();
  auto name = b.CreateString(username.data(), username.size());
  auto tok = b.CreateString(token.data(), token.size());
  auto ok = p::CreateLoginOk(b, uid, name, tok, token_expires_ms, head_seq, now_ms);
  finish_result(b, out, req_id, p::ResultData::LoginOk, ok.Union());
}

void append_send_result(Bytes& out, uint64_t req_id, uint64_t msg_id, uint64_t inbox_seq,
                        int64_t server_time_ms, bool duplicate) {
  auto& b = builder();
  auto r = p::CreateSendResult(b, msg_id, inbox_seq, server_time_ms, duplicate);
  finish_result(b, out, req_id, p::ResultData::SendResult, r.Union());
}

void append_mark_read_ok(Bytes& out, uint64_t req_id, uint64_t read_seq, uint32_t unread) {
  auto& b = builder();
  finish_result(b, out, req_id, p::ResultData::MarkReadOk,
                p::CreateMarkReadOk(b, read_seq, unread).Union());
}

void append_pong(Bytes& out, uint64_t req_id, int64_t client_time_ms, int64_t now_ms) {
  auto& b = builder();
  finish_frame(b, out, req_id, p::Body::Pong, p::CreatePong(b, client_time_ms, now_ms).Union());
}

void append_kick(Bytes& out, Code code, std::string_view reason) {
  auto& b = builder();
  auto text = b.CreateString(reason.data(), reason.size());
  finish_frame(b, out, 0, p::Body::Kick, p::CreateKick(b, code, text).Union());
}

// ---- entry pages ----

bool EntryPage::add(std::span<const uint8_t> entry_bytes) {
  // Per entry: the bytes, a vector length, a table, an offset and alignment slack.
  size_t cost = entry_bytes.size() + 32;
  if (!offsets_.empty() && used_bytes_ + cost > budget_bytes_) return false;
  offsets_.push_back(storage_.size());
  storage_.insert(storage_.end(), entry_bytes.begin(), entry_bytes.end());
  used_bytes_ += cost;
  return true;
}

void EntryPage::clear() {
  used_bytes_ = 0;
  storage_.clear();
  offsets_.clear();
}

namespace {
fb::Offset<fb::Vector<fb::Offset<p::EntryBlob>>> build_blobs(fb::FlatBufferBuilder& b,
                                                             const Bytes& storage,
                                                             const std::vector<size_t>& offsets) {
  thread_local std::vector<fb::Offset<p::EntryBlob>> blobs;
  blobs.clear();
  for (size_t i = 0; i < offsets.size(); i++) {
    size_t end = i + 1 < offsets.size() ? offsets[i + 1] : storage.size();
    // A nested entry has 8-byte fields: keep its start 8-aligned inside the outer frame.
    b.ForceVectorAlignment(end - offsets[i], 1, 8);
    auto data = b.CreateVector(storage.data() + offsets[i], end - offsets[i]);
    blobs.push_back(p::CreateEntryBlob(b, data));
  }
  return b.CreateVector(blobs);
}
}  // namespace

void EntryPage::append_push(Bytes& out) {
  auto& b = builder();
  auto blobs = build_blobs(b, storage_, offsets_);
  finish_frame(b, out, 0, p::Body::Push, p::CreatePush(b, blobs).Union());
}

void EntryPage::append_group_push(Bytes& out) {
  auto& b = builder();
  auto blobs = build_blobs(b, storage_, offsets_);
  finish_frame(b, out, 0, p::Body::GroupPush, p::CreateGroupPush(b, blobs).Union());
}

void EntryPage::append_sync_page(Bytes& out, uint64_t req_id, uint64_t head_seq, bool has_more) {
  auto& b = builder();
  auto blobs = build_blobs(b, storage_, offsets_);
  finish_result(b, out, req_id, p::ResultData::SyncPage,
                p::CreateSyncPage(b, blobs, head_seq, has_more).Union());
}

void EntryPage::append_history_page(Bytes& out, uint64_t req_id, bool has_more) {
  auto& b = builder();
  auto blobs = build_blobs(b, storage_, offsets_);
  finish_result(b, out, req_id, p::ResultData::HistoryPage,
                p::CreateHistoryPage(b, blobs, has_more).Union());
}

void append_conversation_list(Bytes& out, uint64_t req_id, std::span<const ConvListItem> items,
                              uint32_t total_unread) {
  auto& b = builder();
  std::vector<fb::Offset<p::Conversation>> convs;
  convs.reserve(items.size());
  for (const auto& it : items) {
    fb::Offset<p::EntryBlob> last;
    if (!it.last_entry.empty()) {
      b.ForceVectorAlignment(it.last_entry.size(), 1, 8);
      last = p::CreateEntryBlob(b, b.CreateVector(it.last_entry.data(), it.last_entry.size()));
    }
    auto name = it.name.empty() ? 0 : b.CreateString(it.name.data(), it.name.size());
    convs.push_back(p::CreateConversation(
        b, it.peer_uid, it.gid, last, it.last_inbox_seq, it.unread, it.read_inbox_seq, it.muted,
        it.updated_ms, it.last_group_seq, it.read_group_seq, it.mentioned, name));
  }
  auto list = p::CreateConversationList(b, b.CreateVector(convs), total_unread);
  finish_result(b, out, req_id, p::ResultData::ConversationList, list.Union());
}

void append_user_list(Bytes& out, uint64_t req_id, std::span<const UserListItem> users) {
  auto& b = builder();
  std::vector<fb::Offset<p::UserInfo>> infos;
  infos.reserve(users.size());
  for (const auto& u : users) {
    infos.push_back(
        p::CreateUserInfo(b, u.uid, b.CreateString(u.username.data(), u.username.size())));
  }
  auto list = p::CreateUserList(b, b.CreateVector(infos));
  finish_result(b, out, req_id, p::ResultData::UserList, list.Union());
}

// ---- stored entries ----

namespace {
void finish_entry(fb::FlatBufferBuilder& b, Bytes& out, uint64_t owner, uint64_t seq,
                  p::EntryBody type, fb::Offset<void> body) {
  auto entry = p::CreateInboxEntry(b, seq, owner, type, body);
  b.Finish(entry);
  out.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}
}  // namespace

void build_message_entry(Bytes& out, const MessageFields& f, const p::Send& send) {
  auto& b = builder();
  auto content = protocol::copy_content(b, send.content_type(), send.content());
  fb::Offset<fb::Vector<uint64_t>> mentions;
  if (send.mentions()) mentions = b.CreateVector(send.mentions()->data(), send.mentions()->size());
  auto msg = p::CreateMessage(b, f.msg_id, f.sender_uid, f.receiver_uid, 0, 0, f.client_msg_id,
                              f.server_time_ms, send.content_type(), content,
                              send.reply_to_msg_id(), mentions, send.mention_all());
  finish_entry(b, out, f.owner_uid, f.inbox_seq, p::EntryBody::Message, msg.Union());
}

void build_read_event_entry(Bytes& out, uint64_t owner_uid, uint64_t inbox_seq, uint64_t peer_uid,
                            uint64_t read_seq, std::string_view device_id) {
  auto& b = builder();
  auto dev = b.CreateString(device_id.data(), device_id.size());
  auto ev = p::CreateReadEvent(b, peer_uid, 0, read_seq, dev);
  finish_entry(b, out, owner_uid, inbox_seq, p::EntryBody::ReadEvent, ev.Union());
}

}  // namespace im::core
