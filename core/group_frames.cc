// group_frames.cc - FlatBuffers encoding of group frames and group log entries.
#include "core/group_frames.h"

#include <flatbuffers/flatbuffers.h>

#include "core/frame_encoding.h"

#include <cstring>

#include "protocol/content_copy.h"
#include "protocol/frame_reader.h"

namespace im::core {
namespace fb = flatbuffers;
namespace p = im::proto;

using encoding::builder;
using encoding::finish_result;

namespace {

void finish_entry(fb::FlatBufferBuilder& b, Bytes& out, uint64_t gid, uint64_t seq,
                  p::EntryBody type, fb::Offset<void> body) {
  auto entry = p::CreateInboxEntry(b, 0, 0, type, body, gid, seq);
  b.Finish(entry);
  out.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

template <typename T>
void put(Bytes& out, T v) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.insert(out.end(), raw, raw + sizeof(T));
}

template <typename T>
bool get(std::span<const uint8_t>& in, T* v) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(v, in.data(), sizeof(T));
  in = in.subspan(sizeof(T));
  return true;
}

}  // namespace

void append_group_created(Bytes& out, uint64_t req_id, uint64_t gid, uint64_t group_seq) {
  auto& b = builder();
  finish_result(b, out, req_id, p::ResultData::GroupCreated,
                p::CreateGroupCreated(b, gid, group_seq).Union());
}

void append_group_changed(Bytes& out, uint64_t req_id, uint64_t gid, uint64_t group_seq) {
  auto& b = builder();
  finish_result(b, out, req_id, p::ResultData::GroupChanged,
                p::CreateGroupChanged(b, gid, group_seq).Union());
}

void append_group_send_result(Bytes& out, uint64_t req_id, uint64_t msg_id, uint64_t gid,
                              uint64_t group_seq, int64_t server_time_ms, bool duplicate) {
  auto& b = builder();
  auto r = p::CreateSendResult(b, msg_id, 0, server_time_ms, duplicate, gid, group_seq);
  finish_result(b, out, req_id, p::ResultData::SendResult, r.Union());
}

void append_group_mark_read_ok(Bytes& out, uint64_t req_id, uint64_t read_seq, uint32_t unread) {
  auto& b = builder();
  finish_result(b, out, req_id, p::ResultData::MarkReadOk,
                p::CreateMarkReadOk(b, 0, unread, read_seq).Union());
}

void append_group_info(Bytes& out, uint64_t req_id, const GroupInfoFields& f) {
  auto& b = builder();
  auto name = b.CreateString(f.name.data(), f.name.size());
  auto admins = b.CreateVector(f.admins.data(), f.admins.size());
  auto ann = b.CreateString(f.announcement.data(), f.announcement.size());
  auto info = p::CreateGroupInfo(b, f.gid, name, f.owner_uid, admins, ann, f.member_count,
                                 static_cast<p::GroupRole>(f.my_role), f.my_muted,
                                 f.my_do_not_disturb, f.last_group_seq, f.read_group_seq,
                                 f.join_group_seq, f.dismissed, f.is_member);
  finish_result(b, out, req_id, p::ResultData::GroupInfo, info.Union());
}

void encode_group_summary(Bytes& out, const GroupSummaryRow& r) {
  put(out, r.gid);
  put(out, r.peer_uid);
  put(out, r.last_group_seq);
  put(out, r.read_group_seq);
  put(out, r.join_group_seq);
  put(out, r.updated_ms);
  put(out, r.unread);
  put(out, r.my_role);
  uint8_t flags = (r.mentioned ? 1 : 0) | (r.do_not_disturb ? 2 : 0) | (r.dismissed ? 4 : 0);
  put(out, flags);
  put(out, static_cast<uint16_t>(r.name.size()));
  out.insert(out.end(), r.name.begin(), r.name.end());
  put(out, static_cast<uint32_t>(r.last_entry.size()));
  out.insert(out.end(), r.last_entry.begin(), r.last_entry.end());
}

std::vector<GroupSummaryRow> decode_group_summaries(std::span<const uint8_t> in) {
  std::vector<GroupSummaryRow> rows;
  while (!in.empty()) {
    GroupSummaryRow r;
    uint8_t flags;
    uint16_t name_len;
    uint32_t entry_len;
    if (!get(in, &r.gid) || !get(in, &r.peer_uid) || !get(in, &r.last_group_seq) ||
        !get(in, &r.read_group_seq) || !get(in, &r.join_group_seq) || !get(in, &r.updated_ms) ||
        !get(in, &r.unread) || !get(in, &r.my_role) || !get(in, &flags) || !get(in, &name_len) ||
        in.size() < name_len) {
      break;
    }
    r.name.assign(reinterpret_cast<const char*>(in.data()), name_len);
    in = in.subspan(name_len);
    if (!get(in, &entry_len) || in.size() < entry_len) break;
    r.last_entry.assign(in.begin(), in.begin() + entry_len);
    in = in.subspan(entry_len);
    r.mentioned = flags & 1;
    r.do_not_disturb = flags & 2;
    r.dismissed = flags & 4;
    rows.push_back(std::move(r));
  }
  return rows;
}

void append_group_list(Bytes& out, uint64_t req_id, std::span<const GroupSummaryRow> rows) {
  auto& b = builder();
  std::vector<fb::Offset<p::GroupSummary>> items;
  items.reserve(rows.size());
  for (const auto& r : rows) {
    auto name = b.CreateString(r.name);
    items.push_back(p::CreateGroupSummary(
        b, r.gid, name, static_cast<p::GroupRole>(r.my_role), r.last_group_seq, r.read_group_seq,
        r.join_group_seq, r.unread, r.mentioned, r.do_not_disturb, r.dismissed, r.updated_ms));
  }
  auto list = p::CreateGroupList(b, b.CreateVector(items));
  finish_result(b, out, req_id, p::ResultData::GroupList, list.Union());
}

void append_member_list(Bytes& out, uint64_t req_id, std::span<const MemberRow> rows,
                        bool has_more) {
  auto& b = builder();
  std::vector<fb::Offset<p::MemberInfo>> items;
  items.reserve(rows.size());
  for (const auto& r : rows) {
    items.push_back(p::CreateMemberInfo(b, r.uid, static_cast<p::GroupRole>(r.role),
                                        r.join_group_seq, r.muted));
  }
  auto list = p::CreateMemberList(b, b.CreateVector(items), has_more);
  finish_result(b, out, req_id, p::ResultData::MemberList, list.Union());
}

void build_group_message_entry(Bytes& out, uint64_t gid, uint64_t group_seq, uint64_t msg_id,
                               uint64_t sender_uid, uint64_t client_msg_id, int64_t time_ms,
                               const p::GroupSend& send) {
  auto& b = builder();
  auto content = protocol::copy_content(b, send.content_type(), send.content());
  fb::Offset<fb::Vector<uint64_t>> mentions;
  if (send.mentions()) mentions = b.CreateVector(send.mentions()->data(), send.mentions()->size());
  auto msg = p::CreateMessage(b, msg_id, sender_uid, 0, gid, group_seq, client_msg_id, time_ms,
                              send.content_type(), content, send.reply_to_msg_id(), mentions,
                              send.mention_all());
  finish_entry(b, out, gid, group_seq, p::EntryBody::Message, msg.Union());
}

void build_group_event_entry(Bytes& out, uint64_t gid, uint64_t group_seq, p::GroupEventKind kind,
                             uint64_t actor_uid, std::span<const uint64_t> targets,
                             std::string_view text, bool flag, int64_t time_ms) {
  auto& b = builder();
  auto t = b.CreateVector(targets.data(), targets.size());
  auto s = b.CreateString(text.data(), text.size());
  auto ev = p::CreateGroupEvent(b, kind, actor_uid, t, s, flag, time_ms);
  finish_entry(b, out, gid, group_seq, p::EntryBody::GroupEvent, ev.Union());
}

void build_group_read_event_entry(Bytes& out, uint64_t owner_uid, uint64_t inbox_seq, uint64_t gid,
                                  uint64_t read_group_seq, std::string_view device_id) {
  auto& b = builder();
  auto dev = b.CreateString(device_id.data(), device_id.size());
  auto ev = p::CreateReadEvent(b, 0, gid, read_group_seq, dev);
  auto entry = p::CreateInboxEntry(b, inbox_seq, owner_uid, p::EntryBody::ReadEvent, ev.Union());
  b.Finish(entry);
  out.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

}  // namespace im::core
