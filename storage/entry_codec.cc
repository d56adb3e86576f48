// entry_codec.cc - the compact stored form of chat messages (storage/entry_codec.h).
//
// Format 1 layout: [1][mask varint][the set fields, in mask bit order]. Integer fields are
// stored only when non-zero (the FlatBuffer omits zero scalars too), as LEB128 varints;
// server_time_ms zigzag-encoded. Text: varint length then the bytes. Mentions: varint count then
// one varint per uid.
#include "storage/entry_codec.h"

#include <cstring>

#include "protocol/im_generated.h"

namespace im::storage::entry_codec {
namespace {

namespace p = im::proto;
namespace fb = flatbuffers;

enum Bit : uint32_t {
  kInboxSeq = 1u << 0,
  kOwnerUid = 1u << 1,
  kEntryGid = 1u << 2,
  kEntryGroupSeq = 1u << 3,
  kMsgId = 1u << 4,
  kSenderUid = 1u << 5,
  kReceiverUid = 1u << 6,
  kMsgGid = 1u << 7,
  kMsgGroupSeq = 1u << 8,
  kClientMsgId = 1u << 9,
  kServerTime = 1u << 10,
  kReplyTo = 1u << 11,
  kTextContent = 1u << 12,  // content is a TextContent ...
  kText = 1u << 13,         // ... with a text string
  kMentions = 1u << 14,     // a mentions vector, possibly empty
  kMentionAll = 1u << 15,   // no payload
  kKnownBits = (1u << 16) - 1,
};
// The integer fields in mask order (bits 0..11).
constexpr int kIntegerFields = 12;

// The first vtable slot past the fields this codec knows, per table.
constexpr uint16_t kEntryKnownEnd = p::InboxEntry::VT_GROUP_SEQ + 2;
constexpr uint16_t kMessageKnownEnd = p::Message::VT_MENTION_ALL + 2;
constexpr uint16_t kTextKnownEnd = p::TextContent::VT_TEXT + 2;

// True if the table sets no field at or past known_end (one from a newer schema).
bool only_known_fields(const void* table, uint16_t known_end) {
  const uint8_t* vtable = reinterpret_cast<const fb::Table*>(table)->GetVTable();
  const uint16_t vtable_bytes = fb::ReadScalar<uint16_t>(vtable);
  for (uint16_t slot = known_end; slot + 2 <= vtable_bytes; slot += 2) {
    if (fb::ReadScalar<uint16_t>(vtable + slot) != 0) return false;
  }
  return true;
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t byte = *p++;
    result |= uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

void store_wire(Bytes wire, std::vector<uint8_t>& out) {
  out.clear();
  out.reserve(1 + wire.size());
  out.push_back(kFormatWire);
  out.insert(out.end(), wire.begin(), wire.end());
}

// The message of a wire entry if format 1 can hold every field it sets, else nullptr.
const p::InboxEntry* compactable(Bytes aligned) {
  fb::Verifier verifier(aligned.data(), aligned.size());
  if (!verifier.VerifyBuffer<p::InboxEntry>(nullptr)) return nullptr;
  const auto* entry = fb::GetRoot<p::InboxEntry>(aligned.data());
  const p::Message* msg = entry->body_as_Message();
  if (!msg || !only_known_fields(entry, kEntryKnownEnd) ||
      !only_known_fields(msg, kMessageKnownEnd)) {
    return nullptr;
  }
  if (msg->content_type() == p::Content::NONE) return entry;
  const p::TextContent* text = msg->content_as_TextContent();
  return text && only_known_fields(text, kTextKnownEnd) ? entry : nullptr;
}

}  // namespace

void encode(Bytes wire, std::vector<uint8_t>& out) {
  // The Verifier and the accessors want the buffer 8-byte aligned; stored bytes are not.
  thread_local std::vector<uint64_t> scratch;
  scratch.resize((wire.size() + 7) / 8);
  if (!wire.empty()) std::memcpy(scratch.data(), wire.data(), wire.size());
  const p::InboxEntry* entry =
      compactable({reinterpret_cast<const uint8_t*>(scratch.data()), wire.size()});
  if (!entry) return store_wire(wire, out);
  const p::Message* msg = entry->body_as_Message();
  const uint64_t integers[kIntegerFields] = {entry->inbox_seq(),
                                             entry->owner_uid(),
                                             entry->gid(),
                                             entry->group_seq(),
                                             msg->msg_id(),
                                             msg->sender_uid(),
                                             msg->receiver_uid(),
                                             msg->gid(),
                                             msg->group_seq(),
                                             msg->client_msg_id(),
                                             zigzag(msg->server_time_ms()),
                                             msg->reply_to_msg_id()};
  uint32_t mask = 0;
  for (int i = 0; i < kIntegerFields; ++i) {
    if (integers[i] != 0) mask |= 1u << i;
  }
  const p::TextContent* text = msg->content_as_TextContent();
  if (text) mask |= kTextContent;
  if (text && text->text()) mask |= kText;
  if (msg->mentions()) mask |= kMentions;
  if (msg->mention_all()) mask |= kMentionAll;
  out.clear();
  out.push_back(kFormatCompactMessage);
  put_varint(out, mask);
  for (int i = 0; i < kIntegerFields; ++i) {
    if (integers[i] != 0) put_varint(out, integers[i]);
  }
  if (mask & kText) {
    put_varint(out, text->text()->size());
    out.insert(out.end(), text->text()->begin(), text->text()->end());
  }
  if (mask & kMentions) {
    put_varint(out, msg->mentions()->size());
    for (uint64_t uid : *msg->mentions()) put_varint(out, uid);
  }
}

std::optional<Bytes> decode(Bytes stored, EntryBuffer& out) {
  if (stored.empty()) return std::nullopt;
  if (stored[0] == kFormatWire) return stored.subspan(1);
  if (stored[0] != kFormatCompactMessage) return std::nullopt;
  const uint8_t* p = stored.data() + 1;
  const uint8_t* end = stored.data() + stored.size();
  uint64_t mask = 0;
  if (!get_varint(p, end, &mask) || (mask & ~uint64_t{kKnownBits})) return std::nullopt;
  uint64_t integers[kIntegerFields] = {};
  for (int i = 0; i < kIntegerFields; ++i) {
    if ((mask & (1u << i)) && !get_varint(p, end, &integers[i])) return std::nullopt;
  }
  MessageEntryFields f;
  f.inbox_seq = integers[0];
  f.owner_uid = integers[1];
  f.entry_gid = integers[2];
  f.entry_group_seq = integers[3];
  f.msg_id = integers[4];
  f.sender_uid = integers[5];
  f.receiver_uid = integers[6];
  f.gid = integers[7];
  f.group_seq = integers[8];
  f.client_msg_id = integers[9];
  f.server_time_ms = unzigzag(integers[10]);
  f.reply_to_msg_id = integers[11];
  f.text_content = (mask & kTextContent) != 0;
  f.has_text = (mask & kText) != 0;
  f.mention_all = (mask & kMentionAll) != 0;
  f.has_mentions = (mask & kMentions) != 0;
  if (f.has_text) {
    uint64_t len = 0;
    if (!get_varint(p, end, &len) || len > uint64_t(end - p)) return std::nullopt;
    f.text = {reinterpret_cast<const char*>(p), len};
    p += len;
  }
  thread_local std::vector<uint64_t> mentions;
  if (f.has_mentions) {
    uint64_t count = 0;
    if (!get_varint(p, end, &count) || count > uint64_t(end - p)) return std::nullopt;
    mentions.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      if (!get_varint(p, end, &mentions[i])) return std::nullopt;
    }
    f.mentions = mentions;
  }
  if (p != end) return std::nullopt;
  return write_message_entry(f, out);
}

}  // namespace im::storage::entry_codec
