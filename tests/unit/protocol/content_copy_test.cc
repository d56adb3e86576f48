// content_copy_test.cc - copy_content deep-copies a verified Content value into another
// builder (the copy survives the source buffer), and content_text_bytes measures it.
#include "protocol/content_copy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/frame_verify.h"

namespace im::protocol {
namespace {

namespace fb = flatbuffers;
namespace p = im::proto;
using Bytes = std::vector<uint8_t>;

Bytes send_frame(const std::string& text) {
  fb::FlatBufferBuilder b;
  auto content = p::CreateTextContent(b, b.CreateString(text));
  auto send = p::CreateSend(b, 2, 77, p::Content::TextContent, content.Union());
  b.Finish(p::CreateFrame(b, 1, p::Body::Send, send.Union()), p::FrameIdentifier());
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// Copies the Send's content into a Message in a fresh buffer; the source is then wiped.
Bytes copy_into_entry(Bytes& frame) {
  const p::Frame* f = verify_frame(frame);
  EXPECT_NE(f, nullptr);
  const p::Send* send = f->body_as_Send();
  fb::FlatBufferBuilder b;
  auto content = copy_content(b, send->content_type(), send->content());
  auto msg =
      p::CreateMessage(b, 1, 1, 2, 0, 0, send->client_msg_id(), 0, send->content_type(), content);
  b.Finish(p::CreateInboxEntry(b, 1, 1, p::EntryBody::Message, msg.Union()));
  std::fill(frame.begin(), frame.end(), 0xAB);
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

TEST(ContentCopy, TextRoundTrip) {
  for (std::string text : {std::string("hello"), std::string(), std::string("a\0b", 3),
                           std::string(5000, 'x'), std::string("\xE4\xBD\xA0\xE5\xA5\xBD")}) {
    Bytes frame = send_frame(text);
    Bytes entry_bytes = copy_into_entry(frame);
    fb::Verifier v(entry_bytes.data(), entry_bytes.size());
    ASSERT_TRUE(v.VerifyBuffer<p::InboxEntry>(nullptr));
    auto msg = fb::GetRoot<p::InboxEntry>(entry_bytes.data())->body_as_Message();
    ASSERT_EQ(msg->content_type(), p::Content::TextContent);
    EXPECT_EQ(msg->content_as_TextContent()->text()->str(), text);
    EXPECT_EQ(msg->client_msg_id(), 77u);
    EXPECT_EQ(content_text_bytes(msg->content_type(), msg->content()), text.size());
  }
}

TEST(ContentCopy, TextContentWithoutTextStaysWithout) {
  fb::FlatBufferBuilder src;
  src.Finish(p::CreateTextContent(src));
  auto text = fb::GetRoot<p::TextContent>(src.GetBufferPointer());
  ASSERT_EQ(text->text(), nullptr);
  EXPECT_EQ(content_text_bytes(p::Content::TextContent, text), 0u);

  fb::FlatBufferBuilder b;
  auto copy = copy_content(b, p::Content::TextContent, text);
  ASSERT_NE(copy.o, 0u);
  b.Finish(fb::Offset<p::TextContent>(copy.o));
  EXPECT_EQ(fb::GetRoot<p::TextContent>(b.GetBufferPointer())->text(), nullptr);
}

TEST(ContentCopy, NoneUnknownAndNullGiveZero) {
  fb::FlatBufferBuilder src;
  src.Finish(p::CreateTextContent(src, src.CreateString("x")));
  const void* table = fb::GetRoot<p::TextContent>(src.GetBufferPointer());

  fb::FlatBufferBuilder b;
  EXPECT_EQ(copy_content(b, p::Content::NONE, table).o, 0u);
  EXPECT_EQ(copy_content(b, static_cast<p::Content>(77), table).o, 0u);
  EXPECT_EQ(copy_content(b, p::Content::TextContent, nullptr).o, 0u);
  EXPECT_EQ(b.GetSize(), 0u) << "nothing is written for an empty copy";
  EXPECT_EQ(content_text_bytes(p::Content::NONE, table), 0u);
  EXPECT_EQ(content_text_bytes(static_cast<p::Content>(77), table), 0u);
  EXPECT_EQ(content_text_bytes(p::Content::TextContent, nullptr), 0u);
  EXPECT_EQ(content_text_bytes(p::Content::TextContent, table), 1u);
}

}  // namespace
}  // namespace im::protocol
