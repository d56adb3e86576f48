// entry_writer.cc - the front-to-back FlatBuffer writer of message entries
// (storage/entry_writer.h).
//
// Layout, in order: the root offset; per table its vtable, then the table (the soffset, the
// 8-byte fields 8-aligned, the 4-byte offsets, the 1-byte fields); children after the table that
// points at them (uoffsets only point forward): InboxEntry, Message, TextContent, the text, the
// mentions. Fields equal to their default are left out, as a builder does.
#include "storage/entry_writer.h"

#include <bit>
#include <cstring>

#include "protocol/im_generated.h"

namespace im::storage {

static_assert(std::endian::native == std::endian::little, "FlatBuffers are little-endian");

class EntryWriter {
 public:
  EntryWriter(EntryBuffer& out, size_t max_bytes) : out_(out) {
    if (out_.words_.size() * 8 < max_bytes) out_.words_.resize(max_bytes / 8 + 1);
    p_ = reinterpret_cast<uint8_t*>(out_.words_.data());
  }

  // A table with vtable_bytes of vtable (4 + 2 per field slot). Fields are added in the order
  // 8-byte, offsets, 1-byte, each with its vtable offset (the generated VT_ constants).
  void begin_table(uint16_t vtable_bytes, bool has_wide_fields) {
    vtable_ = len_;
    std::memset(p_ + len_, 0, vtable_bytes);
    put16(vtable_, vtable_bytes);
    len_ += vtable_bytes;
    pad(has_wide_fields ? 8 : 4, has_wide_fields ? 4 : 0);  // the fields after the soffset align
    table_ = len_;
    put32(len_, static_cast<uint32_t>(table_ - vtable_));  // soffset: the vtable is before
    len_ += 4;
  }
  void u64_field(uint16_t vt, uint64_t v) {
    if (v == 0) return;
    mark(vt);
    std::memcpy(p_ + len_, &v, 8);
    len_ += 8;
  }
  // An offset to a child written later (patch_offset); returns where it is.
  size_t offset_field(uint16_t vt) {
    mark(vt);
    size_t at = len_;
    len_ += 4;
    return at;
  }
  void u8_field(uint16_t vt, uint8_t v) {
    if (v == 0) return;
    mark(vt);
    p_[len_++] = v;
  }
  // Ends the table: its inline size goes into the vtable. Returns where the table starts.
  size_t end_table() {
    put16(vtable_ + 2, static_cast<uint16_t>(len_ - table_));
    pad(4, 0);
    return table_;
  }

  void patch_offset(size_t at, size_t target) { put32(at, static_cast<uint32_t>(target - at)); }

  size_t string(std::string_view s) {
    pad(4, 0);
    size_t at = len_;
    put32(len_, static_cast<uint32_t>(s.size()));
    std::memcpy(p_ + len_ + 4, s.data(), s.size());
    len_ += 4 + s.size();
    p_[len_++] = 0;
    pad(4, 0);
    return at;
  }

  size_t u64_vector(std::span<const uint64_t> v) {
    pad(8, 4);  // the elements after the length are 8-aligned
    size_t at = len_;
    put32(len_, static_cast<uint32_t>(v.size()));
    if (!v.empty()) std::memcpy(p_ + len_ + 4, v.data(), 8 * v.size());
    len_ += 4 + 8 * v.size();
    return at;
  }

  size_t reserve_root() {
    put32(0, 0);
    len_ = 4;
    return 0;
  }

  std::span<const uint8_t> finish() {
    out_.size_ = len_;
    return out_.bytes();
  }

 private:
  void mark(uint16_t vt) { put16(vtable_ + vt, static_cast<uint16_t>(len_ - table_)); }
  void pad(size_t align, size_t phase) {
    while (len_ % align != phase) p_[len_++] = 0;
  }
  void put16(size_t at, uint16_t v) { std::memcpy(p_ + at, &v, 2); }
  void put32(size_t at, uint32_t v) { std::memcpy(p_ + at, &v, 4); }

  EntryBuffer& out_;
  uint8_t* p_ = nullptr;
  size_t len_ = 0;
  size_t vtable_ = 0;
  size_t table_ = 0;
};

std::span<const uint8_t> write_message_entry(const MessageEntryFields& f, EntryBuffer& out) {
  namespace p = im::proto;
  using E = p::InboxEntry;
  using M = p::Message;
  // Three vtables and tables (< 200 bytes), the text, the mentions, and padding.
  EntryWriter w(out, 256 + f.text.size() + 8 * f.mentions.size());
  const size_t root = w.reserve_root();

  w.begin_table(E::VT_GROUP_SEQ + 2, true);
  w.u64_field(E::VT_INBOX_SEQ, f.inbox_seq);
  w.u64_field(E::VT_OWNER_UID, f.owner_uid);
  w.u64_field(E::VT_GID, f.entry_gid);
  w.u64_field(E::VT_GROUP_SEQ, f.entry_group_seq);
  const size_t body = w.offset_field(E::VT_BODY);
  w.u8_field(E::VT_BODY_TYPE, static_cast<uint8_t>(p::EntryBody::Message));
  w.patch_offset(root, w.end_table());

  w.begin_table(M::VT_MENTION_ALL + 2, true);
  w.u64_field(M::VT_MSG_ID, f.msg_id);
  w.u64_field(M::VT_SENDER_UID, f.sender_uid);
  w.u64_field(M::VT_RECEIVER_UID, f.receiver_uid);
  w.u64_field(M::VT_GID, f.gid);
  w.u64_field(M::VT_GROUP_SEQ, f.group_seq);
  w.u64_field(M::VT_CLIENT_MSG_ID, f.client_msg_id);
  w.u64_field(M::VT_SERVER_TIME_MS, static_cast<uint64_t>(f.server_time_ms));
  w.u64_field(M::VT_REPLY_TO_MSG_ID, f.reply_to_msg_id);
  const size_t content = f.text_content ? w.offset_field(M::VT_CONTENT) : 0;
  const size_t mentions = f.has_mentions ? w.offset_field(M::VT_MENTIONS) : 0;
  if (f.text_content) w.u8_field(M::VT_CONTENT_TYPE, static_cast<uint8_t>(p::Content::TextContent));
  w.u8_field(M::VT_MENTION_ALL, f.mention_all ? 1 : 0);
  w.patch_offset(body, w.end_table());

  if (f.text_content) {
    w.begin_table(p::TextContent::VT_TEXT + 2, false);
    const size_t text = f.has_text ? w.offset_field(p::TextContent::VT_TEXT) : 0;
    w.patch_offset(content, w.end_table());
    if (f.has_text) w.patch_offset(text, w.string(f.text));
  }
  if (f.has_mentions) w.patch_offset(mentions, w.u64_vector(f.mentions));
  return w.finish();
}

}  // namespace im::storage
