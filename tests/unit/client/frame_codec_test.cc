// frame_codec_test.cc - request builders produce frames the server's verifier accepts with
// the right fields; decoders turn server frames into SDK values and error Results into
// Status; status names and retry rules.
#include <gtest/gtest.h>

#include "client/frame_builders.h"
#include "client/frame_decoders.h"
#include "client/status.h"
#include "protocol/frame_verify.h"
#include "tests/unit/client/server_frames.h"

namespace im::client {
namespace {

namespace proto = im::proto;
using namespace im::client::testing;

const proto::Frame& verified(FrameBytes bytes) {
  const proto::Frame* frame = im::protocol::verify_frame(bytes);
  EXPECT_NE(frame, nullptr);
  return *frame;
}

TEST(FrameBuilders, HelloCarriesEveryField) {
  flatbuffers::FlatBufferBuilder fbb;
  HelloParams p;
  p.username = "alice";
  p.password = "secret-pass";
  p.device_id = "phone-1";
  p.platform = proto::Platform::Cli;
  p.ack_inbox_seq = 42;
  p.client_version = "t/1";
  const proto::Frame& frame = verified(build_hello(fbb, 7, p));
  EXPECT_EQ(frame.req_id(), 7u);
  const proto::Hello* hello = frame.body_as_Hello();
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->protocol_version(), kProtocolVersion);
  EXPECT_EQ(hello->username()->str(), "alice");
  EXPECT_EQ(hello->password()->str(), "secret-pass");
  EXPECT_EQ(hello->token(), nullptr);  // empty strings are left out
  EXPECT_EQ(hello->device_id()->str(), "phone-1");
  EXPECT_EQ(hello->platform(), proto::Platform::Cli);
  EXPECT_EQ(hello->ack_inbox_seq(), 42u);
}

TEST(FrameBuilders, SendCarriesTextAndClientMsgId) {
  flatbuffers::FlatBufferBuilder fbb;
  const proto::Frame& frame = verified(build_send_text(fbb, 9, 55, 0xABCDEF, "hi there"));
  const proto::Send* send = frame.body_as_Send();
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->to_uid(), 55u);
  EXPECT_EQ(send->client_msg_id(), 0xABCDEFu);
  ASSERT_NE(send->content_as_TextContent(), nullptr);
  EXPECT_EQ(send->content_as_TextContent()->text()->str(), "hi there");
}

TEST(FrameBuilders, EveryRequestVerifiesWithItsType) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<uint64_t> uids{1, 2};
  std::vector<std::string> names{"bob"};
  EXPECT_EQ(verified(build_register(fbb, 1, "bob", "password1")).body_type(),
            proto::Body::Register);
  EXPECT_EQ(verified(build_logout(fbb, 2)).body_type(), proto::Body::Logout);
  EXPECT_EQ(verified(build_ping(fbb, 3, 123)).body_as_Ping()->client_time_ms(), 123);
  EXPECT_EQ(verified(build_ack(fbb, 4, 99)).body_as_Ack()->inbox_seq(), 99u);
  EXPECT_EQ(verified(build_sync(fbb, 5, 10, 50)).body_as_Sync()->after_inbox_seq(), 10u);
  const proto::History* h = verified(build_history(fbb, 6, 8, 30, 0, 20)).body_as_History();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->peer_uid(), 8u);
  EXPECT_EQ(h->before_inbox_seq(), 30u);
  EXPECT_EQ(h->limit(), 20u);
  EXPECT_EQ(verified(build_conversations(fbb, 7, 5)).body_as_Conversations()->limit(), 5u);
  EXPECT_EQ(verified(build_mark_read(fbb, 8, 3, 0)).body_as_MarkRead()->peer_uid(), 3u);
  const proto::GetUsers* g = verified(build_get_users(fbb, 9, uids, names)).body_as_GetUsers();
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->uids()->size(), 2u);
  EXPECT_EQ(g->usernames()->Get(0)->str(), "bob");
}

TEST(FrameDecoders, LoginOkBecomesLoginInfo) {
  Bytes bytes = login_ok_frame(3, 11, "alice", "tok", 17);
  auto frame = ReceivedFrame::verify(bytes);
  ASSERT_TRUE(frame.has_value());
  Result<LoginInfo> login = decode_login_ok(frame->frame());
  ASSERT_TRUE(login.ok()) << login.status().to_string();
  EXPECT_EQ(login->uid, 11u);
  EXPECT_EQ(login->username, "alice");
  EXPECT_EQ(login->token, "tok");
  EXPECT_EQ(login->inbox_head_seq, 17u);
}

TEST(FrameDecoders, ErrorResultBecomesStatusWithReason) {
  Bytes bytes = result_frame(3, proto::Code::AuthFailed, "wrong password");
  auto frame = ReceivedFrame::verify(bytes);
  ASSERT_TRUE(frame.has_value());
  Result<LoginInfo> login = decode_login_ok(frame->frame());
  EXPECT_EQ(login.code(), proto::Code::AuthFailed);
  EXPECT_EQ(login.reason(), "wrong password");
  EXPECT_EQ(login.status().to_string(), "AuthFailed (202): wrong password");
}

TEST(FrameDecoders, OkResultWithoutExpectedDataIsBadResponse) {
  Bytes bytes = result_frame(3, proto::Code::Ok, "");
  auto frame = ReceivedFrame::verify(bytes);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(decode_send_result(frame->frame()).code(), kBadResponse);
  Bytes other = register_ok_frame(3, 5);
  EXPECT_EQ(decode_send_result(ReceivedFrame::verify(other)->frame()).code(), kBadResponse);
}

TEST(FrameDecoders, PushEntriesDecodeInOrderWithBothBodies) {
  MessageSpec spec;
  spec.inbox_seq = 4;
  spec.text = "héllo";
  Bytes bytes = push_frame({message_entry(spec), read_event_entry(1, 5, 2, 4, "tablet")});
  auto frame = ReceivedFrame::verify(bytes);
  ASSERT_TRUE(frame.has_value());
  std::vector<InboxEntry> entries = decode_entry_blobs(frame->frame().body_as_Push()->entries());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].kind, EntryKind::Message);
  EXPECT_EQ(entries[0].inbox_seq, 4u);
  EXPECT_EQ(entries[0].message.text, "héllo");
  EXPECT_EQ(entries[0].message.sender_uid, 2u);
  EXPECT_EQ(entries[0].message.client_msg_id, 77u);
  EXPECT_EQ(entries[1].kind, EntryKind::ReadEvent);
  EXPECT_EQ(entries[1].read_event.peer_uid, 2u);
  EXPECT_EQ(entries[1].read_event.read_inbox_seq, 4u);
  EXPECT_EQ(entries[1].read_event.device_id, "tablet");
}

TEST(FrameDecoders, ConversationListAndUserList) {
  Bytes conv_bytes = conversation_list_frame(2, 9, simple_entry(9), 3, 5);
  auto convs = decode_conversation_list(ReceivedFrame::verify(conv_bytes)->frame());
  ASSERT_TRUE(convs.ok());
  ASSERT_EQ(convs->conversations.size(), 1u);
  EXPECT_EQ(convs->conversations[0].peer_uid, 9u);
  EXPECT_TRUE(convs->conversations[0].has_last);
  EXPECT_EQ(convs->conversations[0].last.message.text, "m9");
  EXPECT_EQ(convs->conversations[0].unread, 3u);
  EXPECT_EQ(convs->total_unread, 5u);
  Bytes users_bytes = user_list_frame(2, {{4, "bob"}, {5, "carol"}});
  auto users = decode_user_list(ReceivedFrame::verify(users_bytes)->frame());
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ(users.value()[1].username, "carol");
}

TEST(FrameDecoders, GarbageFailsVerification) {
  std::vector<uint8_t> garbage{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  EXPECT_FALSE(ReceivedFrame::verify(garbage).has_value());
  Bytes good = pong_frame(1, 2, 3);
  good[4] = 'X';  // break the "IMP1" identifier
  EXPECT_FALSE(ReceivedFrame::verify(good).has_value());
}

TEST(Status, NamesCoverLocalAndProtocolCodes) {
  EXPECT_STREQ(status_name(kTimeout), "Timeout");
  EXPECT_STREQ(status_name(kConnectionLost), "ConnectionLost");
  EXPECT_STREQ(status_name(proto::Code::StorageFull), "StorageFull");
  EXPECT_TRUE(status_is_retryable(proto::Code::Overloaded));
  EXPECT_TRUE(status_is_retryable(kConnectionLost));
  EXPECT_FALSE(status_is_retryable(proto::Code::UnknownUser));
  EXPECT_FALSE(status_is_retryable(proto::Code::Ok));
}

}  // namespace
}  // namespace im::client
