// The stored form of entries (storage/entry_codec.h): a message with every field set comes back
// with the same fields and values from far fewer bytes, other entries and entries with fields
// from a newer schema are kept byte for byte, and damaged stored bytes are refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
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

const p::InboxEntry* decoded(const std::vector<uint8_t>& stored, EntryBuffer& b) {
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
  EntryBuffer b;
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
  EntryBuffer b;
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
  EntryBuffer b;
  const p::InboxEntry* e = decoded(stored, b);
  ASSERT_TRUE(e && e->body_as_Message());
  EXPECT_EQ(e->body_as_Message()->content_type(), p::Content::NONE);
  EXPECT_EQ(e->body_as_Message()->receiver_uid(), 7u);
}

// Stores wire in format 0 and reads the same bytes back.
void expect_kept_as_wire(const std::vector<uint8_t>& wire) {
  std::vector<uint8_t> stored;
  encode(wire, stored);
  ASSERT_EQ(stored[0], kFormatWire);
  EntryBuffer b;
  auto back = decode(stored, b);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::vector<uint8_t>(back->begin(), back->end()), wire);
}

TEST(EntryCodec, OtherEntriesAreKeptByteForByte) {
  fb::FlatBufferBuilder src;
  auto ev = p::CreateReadEvent(src, 4, 0, 99, src.CreateString("phone"));
  expect_kept_as_wire(
      finish(src, p::CreateInboxEntry(src, 3, 2, p::EntryBody::ReadEvent, ev.Union())));
  expect_kept_as_wire({1, 2, 3});  // bytes that are not an entry at all
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
  expect_kept_as_wire(
      finish(src, p::CreateInboxEntry(src, 1, 2, p::EntryBody::Message, msg.Union())));
}

TEST(EntryCodec, DamagedStoredBytesAreRefused) {
  const auto wire = message_entry("a message that gets cut", true);
  std::vector<uint8_t> stored;
  encode(wire, stored);
  EntryBuffer b;
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

// Random messages built by a FlatBufferBuilder: each stored and read back verifies and carries
// the same fields (the reads are written by storage/entry_writer.cc, not by a builder).
TEST(EntryCodec, RandomMessagesReadBackVerifiedWithTheSameFields) {
  std::mt19937_64 rng(7);
  auto maybe = [&](uint64_t v) { return rng() % 3 == 0 ? 0 : v; };
  auto wide = [&] { return rng() >> (rng() % 64); };
  EntryBuffer out;
  for (int round = 0; round < 3000; ++round) {
    fb::FlatBufferBuilder src;
    const bool text_content = rng() % 4 != 0;
    const bool has_text = text_content && rng() % 5 != 0;
    std::string text(has_text ? rng() % 700 : 0, 'a' + char(round % 26));
    std::vector<uint64_t> mentions(rng() % 4);
    for (auto& m : mentions) m = wide();
    const bool has_mentions = rng() % 3 == 0;
    fb::Offset<void> content;
    if (text_content) {
      content = p::CreateTextContent(src, has_text ? src.CreateString(text) : 0).Union();
    }
    auto mvec = has_mentions ? src.CreateVector(mentions) : 0;
    const uint64_t ints[12] = {maybe(wide()), maybe(wide()), maybe(wide()), maybe(wide()),
                               maybe(wide()), maybe(wide()), maybe(wide()), maybe(wide()),
                               maybe(wide()), maybe(wide()), maybe(wide()), maybe(wide())};
    auto msg = p::CreateMessage(src, ints[4], ints[5], ints[6], ints[7], ints[8], ints[9],
                                int64_t(ints[10]),
                                text_content ? p::Content::TextContent : p::Content::NONE, content,
                                ints[11], mvec, rng() % 2 == 0);
    const auto wire = finish(src, p::CreateInboxEntry(src, ints[0], ints[1], p::EntryBody::Message,
                                                      msg.Union(), ints[2], ints[3]));
    const auto* want = fb::GetRoot<p::InboxEntry>(wire.data());
    std::vector<uint8_t> stored;
    encode(wire, stored);
    ASSERT_EQ(stored[0], kFormatCompactMessage) << round;
    const p::InboxEntry* got = decoded(stored, out);
    ASSERT_TRUE(got) << round;
    const p::Message* w = want->body_as_Message();
    const p::Message* g = got->body_as_Message();
    ASSERT_TRUE(g) << round;
    EXPECT_EQ(got->inbox_seq(), want->inbox_seq());
    EXPECT_EQ(got->owner_uid(), want->owner_uid());
    EXPECT_EQ(got->gid(), want->gid());
    EXPECT_EQ(got->group_seq(), want->group_seq());
    EXPECT_EQ(g->msg_id(), w->msg_id());
    EXPECT_EQ(g->sender_uid(), w->sender_uid());
    EXPECT_EQ(g->receiver_uid(), w->receiver_uid());
    EXPECT_EQ(g->gid(), w->gid());
    EXPECT_EQ(g->group_seq(), w->group_seq());
    EXPECT_EQ(g->client_msg_id(), w->client_msg_id());
    EXPECT_EQ(g->server_time_ms(), w->server_time_ms());
    EXPECT_EQ(g->reply_to_msg_id(), w->reply_to_msg_id());
    EXPECT_EQ(g->mention_all(), w->mention_all());
    EXPECT_EQ(g->content_type(), w->content_type());
    ASSERT_EQ(g->mentions() != nullptr, has_mentions) << round;
    if (has_mentions) {
      EXPECT_EQ(std::vector<uint64_t>(g->mentions()->begin(), g->mentions()->end()), mentions);
    }
    if (text_content) {
      ASSERT_TRUE(g->content_as_TextContent()) << round;
      ASSERT_EQ(g->content_as_TextContent()->text() != nullptr, has_text) << round;
      if (has_text) {
        EXPECT_EQ(g->content_as_TextContent()->text()->str(), text);
      }
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace im::storage::entry_codec
