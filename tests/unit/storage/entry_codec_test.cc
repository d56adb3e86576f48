// The stored form of entries (storage/entry_codec.h): a message with every field set comes back
// with the same fields and values from far fewer bytes, other entries and entries with fields
// from a newer schema are kept byte for byte, and damaged stored bytes are refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/im_generated.h"
#include "storage/entry_codec.h"

namespace im::storage::entry_codec {
namespace {

namespace p = im::proto;
namespace fb = flatbuffers;

std::vector<uint8_t> finish(fb::FlatBufferBuilder& b, fb::Offset<p::InboxEntry> entry) {
  b.Finish(entry);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

std::vector<uint8_t> message_entry(const std::string& text, bool every_field) {
  fb::FlatBufferBuilder b;
  auto content = p::CreateTextContent(b, b.CreateString(text));
  fb::Offset<fb::Vector<uint64_t>> mentions;
  if (every_field) mentions = b.CreateVector(std::vector<uint64_t>{3, 1ull << 60, 0});
  auto msg =
      p::CreateMessage(b, 0x1234567890abcdefull, 17, 42, every_field ? 9 : 0, every_field ? 77 : 0,
                       123456789, every_field ? -5 : 1764000000000, p::Content::TextContent,
                       content.Union(), every_field ? 555 : 0, mentions, every_field);
  return finish(b, p::CreateInboxEntry(b, 1001, 17, p::EntryBody::Message, msg.Union(),
                                       every_field ? 8 : 0, every_field ? 6 : 0));
}

const p::InboxEntry* decoded(const std::vector<uint8_t>& stored, fb::FlatBufferBuilder& b) {
  auto wire = decode(stored, b);
  EXPECT_TRUE(wire);
  if (!wire) return nullptr;
  fb::Verifier verifier(wire->data(), wire->size());
  EXPECT_TRUE(verifier.VerifyBuffer<p::InboxEntry>(nullptr));
  return fb::GetRoot<p::InboxEntry>(wire->data());
}

TEST(EntryCodec, MessageWithEveryFieldRoundTrips) {
  const auto wire = message_entry("hello, world", true);
  std::vector<uint8_t> stored;
  encode(wire, stored);
  ASSERT_EQ(stored[0], kFormatCompactMessage);
  fb::FlatBufferBuilder b;
  const p::InboxEntry* e = decoded(stored, b);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->inbox_seq(), 1001u);
  EXPECT_EQ(e->owner_uid(), 17u);
  EXPECT_EQ(e->gid(), 8u);
  EXPECT_EQ(e->group_seq(), 6u);
  const p::Message* m = e->body_as_Message();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->msg_id(), 0x1234567890abcdefull);
  EXPECT_EQ(m->sender_uid(), 17u);
  EXPECT_EQ(m->receiver_uid(), 42u);
  EXPECT_EQ(m->gid(), 9u);
  EXPECT_EQ(m->group_seq(), 77u);
  EXPECT_EQ(m->client_msg_id(), 123456789u);
  EXPECT_EQ(m->server_time_ms(), -5);
  EXPECT_EQ(m->reply_to_msg_id(), 555u);
  ASSERT_TRUE(m->mentions());
  EXPECT_EQ(std::vector<uint64_t>(m->mentions()->begin(), m->mentions()->end()),
            (std::vector<uint64_t>{3, 1ull << 60, 0}));
  EXPECT_TRUE(m->mention_all());
  ASSERT_TRUE(m->content_as_TextContent());
  EXPECT_EQ(m->content_as_TextContent()->text()->str(), "hello, world");
}

TEST(EntryCodec, TypicalMessageStoresInLessThanHalfItsWireBytes) {
  const auto wire = message_entry(std::string(100, 't'), false);
  std::vector<uint8_t> stored;
  encode(wire, stored);
  EXPECT_EQ(stored[0], kFormatCompactMessage);
  EXPECT_LT(stored.size(), 135u) << "wire " << wire.size();
  EXPECT_GT(wire.size(), 2 * stored.size() - 20);
  fb::FlatBufferBuilder b;
  const p::InboxEntry* e = decoded(stored, b);
  ASSERT_TRUE(e && e->body_as_Message());
  const p::Message* m = e->body_as_Message();
  EXPECT_EQ(m->server_time_ms(), 1764000000000);
  EXPECT_FALSE(m->mentions());
  EXPECT_FALSE(m->mention_all());
  EXPECT_EQ(m->content_as_TextContent()->text()->str(), std::string(100, 't'));
}

TEST(EntryCodec, MessageWithoutContentRoundTrips) {
  fb::FlatBufferBuilder src;
  auto msg = p::CreateMessage(src, 5, 6, 7);
  const auto wire = finish(src, p::CreateInboxEntry(src, 1, 6, p::EntryBody::Message, msg.Union()));
  std::vector<uint8_t> stored;
  encode(wire, stored);
  ASSERT_EQ(stored[0], kFormatCompactMessage);
  fb::FlatBufferBuilder b;
  const p::InboxEntry* e = decoded(stored, b);
  ASSERT_TRUE(e && e->body_as_Message());
  EXPECT_EQ(e->body_as_Message()->content_type(), p::Content::NONE);
  EXPECT_EQ(e->body_as_Message()->receiver_uid(), 7u);
}

TEST(EntryCodec, OtherEntriesAreKeptByteForByte) {
  fb::FlatBufferBuilder src;
  auto ev = p::CreateReadEvent(src, 4, 0, 99, src.CreateString("phone"));
  const auto wire =
      finish(src, p::CreateInboxEntry(src, 3, 2, p::EntryBody::ReadEvent, ev.Union()));
  std::vector<uint8_t> stored;
  encode(wire, stored);
  ASSERT_EQ(stored[0], kFormatWire);
  fb::FlatBufferBuilder b;
  auto back = decode(stored, b);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::vector<uint8_t>(back->begin(), back->end()), wire);
  // Bytes that are not an entry at all are kept too.
  const std::vector<uint8_t> junk = {1, 2, 3};
  encode(junk, stored);
  back = decode(stored, b);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::vector<uint8_t>(back->begin(), back->end()), junk);
}

// A field past the ones the codec knows (as a newer schema would add) keeps the entry whole.
TEST(EntryCodec, FieldFromANewerSchemaKeepsTheWireForm) {
  fb::FlatBufferBuilder src;
  auto content = p::CreateTextContent(src, src.CreateString("hi"));
  auto msg_start = src.StartTable();
  src.AddElement<uint64_t>(p::Message::VT_MSG_ID, 5, 0);
  src.AddOffset(p::Message::VT_CONTENT, content.Union());
  src.AddElement<uint8_t>(p::Message::VT_CONTENT_TYPE, uint8_t(p::Content::TextContent), 0);
  src.AddElement<uint32_t>(p::Message::VT_MENTION_ALL + 2, 7, 0);  // the unknown field
  fb::Offset<p::Message> msg(src.EndTable(msg_start));
  const auto wire = finish(src, p::CreateInboxEntry(src, 1, 2, p::EntryBody::Message, msg.Union()));
  std::vector<uint8_t> stored;
  encode(wire, stored);
  ASSERT_EQ(stored[0], kFormatWire);
  fb::FlatBufferBuilder b;
  auto back = decode(stored, b);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::vector<uint8_t>(back->begin(), back->end()), wire);
}

TEST(EntryCodec, DamagedStoredBytesAreRefused) {
  const auto wire = message_entry("a message that gets cut", true);
  std::vector<uint8_t> stored;
  encode(wire, stored);
  fb::FlatBufferBuilder b;
  for (size_t cut = 0; cut < stored.size(); ++cut) {
    EXPECT_FALSE(decode({stored.data(), cut}, b)) << "cut at " << cut;
  }
  auto extra = stored;
  extra.push_back(0);
  EXPECT_FALSE(decode(extra, b));
  auto unknown_format = stored;
  unknown_format[0] = 9;
  EXPECT_FALSE(decode(unknown_format, b));
}

}  // namespace
}  // namespace im::storage::entry_codec
