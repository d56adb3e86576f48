// bad_input_test.cc - hostile and broken input gets the documented error, the offending
// connection is closed where the contract says so, and every other session goes on.
#include <cstring>

#include "client/frame_decoders.h"
#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

namespace p = im::proto;

std::vector<uint8_t> prefixed(uint32_t length, std::span<const uint8_t> body) {
  std::vector<uint8_t> out(4 + body.size());
  std::memcpy(out.data(), &length, 4);  // little endian on the machines we run
  if (!body.empty()) std::memcpy(out.data() + 4, body.data(), body.size());
  return out;
}

// A bystander that keeps chatting while others misbehave.
class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start()) << server_.error();
    alice_uid_ = register_user(server_, "alice");
    bob_uid_ = register_user(server_, "bob");
    alice_ = login(server_, "alice", "phone");
    bob_ = login(server_, "bob", "phone");
  }
  void ExpectOthersUnaffected() {
    auto r = alice_->send_text(bob_uid_, "still here");
    ASSERT_TRUE(r.ok()) << r.status().reason;
    auto got = incoming(take(*bob_, 1));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].message.text, "still here");
  }
  // Reads until a Result arrives (pushes skipped); returns its code and checks the reason.
  Code ResultCode(RawSession& s) {
    for (int i = 0; i < 20; i++) {
      auto f = s.conn().read_verified(2000);
      if (!f.ok()) break;
      if (auto* r = f.value().frame().body_as_Result()) {
        EXPECT_TRUE(r->code() == Code::Ok || (r->reason() && r->reason()->size() > 0))
            << "an error always has a reason";
        return r->code();
      }
    }
    return static_cast<Code>(999);
  }
  TestServer server_{{"--workers", "2"}};
  uint64_t alice_uid_ = 0, bob_uid_ = 0;
  std::unique_ptr<Client> alice_, bob_;
};

TEST_F(BadInput, GarbageFrameGetsBadFrameAndClose) {
  RawSession s(server_);
  const char junk[] = "this is not a flatbuffer at all";
  auto bytes = prefixed(sizeof(junk), {reinterpret_cast<const uint8_t*>(junk), sizeof(junk)});
  ASSERT_TRUE(s.conn().write_raw(bytes, 2000).ok());
  EXPECT_EQ(ResultCode(s), Code::BadFrame);
  EXPECT_TRUE(s.conn().wait_closed(5000));
  ExpectOthersUnaffected();
}

TEST_F(BadInput, OversizedLengthIsRefusedBeforeAnythingIsRead) {
  RawSession s(server_);
  auto bytes = prefixed(0x7FFFFFFF, {});
  ASSERT_TRUE(s.conn().write_raw(bytes, 2000).ok());
  EXPECT_EQ(ResultCode(s), Code::FrameTooLarge);
  EXPECT_TRUE(s.conn().wait_closed(5000));
  ExpectOthersUnaffected();
}

TEST_F(BadInput, ZeroLengthFrameIsRefused) {
  RawSession s(server_);
  ASSERT_TRUE(s.conn().write_raw(prefixed(0, {}), 2000).ok());
  EXPECT_EQ(ResultCode(s), Code::BadFrame);
  EXPECT_TRUE(s.conn().wait_closed(5000));
}

TEST_F(BadInput, WrongFileIdentifierAndTruncatedFramesAreRefused) {
  {
    RawSession s(server_);
    auto frame = im::client::to_vector(im::client::build_ping(s.fbb(), 1, 0));
    std::memcpy(frame.data() + 4, "XXXX", 4);  // the identifier follows the root offset
    ASSERT_TRUE(s.conn().write_frame(frame, 2000).ok());
    EXPECT_EQ(ResultCode(s), Code::BadFrame);
    EXPECT_TRUE(s.conn().wait_closed(5000));
  }
  {
    RawSession s(server_);
    auto frame = im::client::to_vector(im::client::build_register(s.fbb(), 1, "zed", "password1"));
    frame.resize(frame.size() / 2);
    ASSERT_TRUE(s.conn().write_frame(frame, 2000).ok());
    EXPECT_EQ(ResultCode(s), Code::BadFrame);
    EXPECT_TRUE(s.conn().wait_closed(5000));
  }
  ExpectOthersUnaffected();
}

TEST_F(BadInput, UnknownBodyTypeIsAnsweredAndTheConnectionStays) {
  RawSession s(server_);
  auto& fbb = s.fbb();
  fbb.Clear();
  auto ping = p::CreatePing(fbb, 0);
  auto frame = im::client::to_vector(
      im::client::finish_frame(fbb, 7, static_cast<p::Body>(200), ping.Union()));
  auto answer = s.call(frame, 7);
  EXPECT_EQ(RawSession::code_of(answer), Code::UnknownType);
  auto pong = s.call(im::client::build_ping(s.fbb(), 8, 0), 8);
  EXPECT_EQ(pong.type(), p::Body::Pong);
}

TEST_F(BadInput, RequestsBeforeLoginAreRefused) {
  RawSession s(server_);
  auto r1 = s.call(im::client::build_send_text(s.fbb(), 1, bob_uid_, 99, "hi"), 1);
  EXPECT_EQ(RawSession::code_of(r1), Code::NotLoggedIn);
  auto r2 = s.call(im::client::build_sync(s.fbb(), 2, 0, 0), 2);
  EXPECT_EQ(RawSession::code_of(r2), Code::NotLoggedIn);
  auto r3 = s.call(im::client::build_conversations(s.fbb(), 3, 0), 3);
  EXPECT_EQ(RawSession::code_of(r3), Code::NotLoggedIn);
  EXPECT_EQ(s.login("alice", "raw"), Code::Ok) << "login still works afterwards";
  ExpectOthersUnaffected();
}

TEST_F(BadInput, BadSendsGetTheDocumentedCodes) {
  RawSession s(server_);
  ASSERT_EQ(s.login("alice", "raw"), Code::Ok);
  auto send = [&](uint64_t to, uint64_t cmid, const std::string& text) {
    uint64_t id = s.next_id();
    return RawSession::code_of(
        s.call(im::client::build_send_text(s.fbb(), id, to, cmid, text), id));
  };
  EXPECT_EQ(send(999999999, 1, "hi"), Code::UnknownUser);
  EXPECT_EQ(send(alice_uid_, 2, "hi"), Code::BadRequest) << "to yourself";
  EXPECT_EQ(send(bob_uid_, 0, "hi"), Code::BadRequest) << "client_msg_id 0";
  EXPECT_EQ(send(0, 3, "hi"), Code::BadRequest) << "no receiver";
  EXPECT_EQ(send(bob_uid_, 4, ""), Code::BadRequest) << "empty text";
  EXPECT_EQ(send(bob_uid_, 5, std::string(16385, 'x')), Code::BadRequest) << "text too long";
  EXPECT_EQ(send(bob_uid_, 6, "fine"), Code::Ok);
}

TEST_F(BadInput, ServerFramesFromAClientAreRefused) {
  RawSession s(server_);
  ASSERT_EQ(s.login("alice", "raw"), Code::Ok);
  auto& fbb = s.fbb();
  fbb.Clear();
  auto push = p::CreatePush(fbb);
  auto frame = im::client::to_vector(im::client::finish_frame(fbb, 5, p::Body::Push, push.Union()));
  EXPECT_EQ(RawSession::code_of(s.call(frame, 5)), Code::BadRequest);
}

TEST_F(BadInput, ActingAsAnotherUserIsImpossible) {
  // A token signed for alice with its uid bytes changed to bob's fails the signature.
  std::string token = alice_->token();
  auto dot = token.find('.');
  ASSERT_NE(dot, std::string::npos);
  std::string forged = token;
  forged[1] = forged[1] == 'A' ? 'Q' : 'A';
  auto c = connect_client(server_, "forger");
  EXPECT_EQ(c->login_token(forged).status().code, Code::AuthFailed);
  // A wrong password and an unknown user look the same.
  auto w = connect_client(server_, "guesser");
  EXPECT_EQ(w->login_password("alice", "wrong-password").status().code, Code::AuthFailed);
  EXPECT_EQ(w->login_password("nobody", "whatever-pw").status().code, Code::AuthFailed);
  // Reads are always of the session's own inbox: bob's history with alice, read by
  // carol's session, is carol's (empty) conversation, not bob's.
  register_user(server_, "carol");
  auto carol = login(server_, "carol", "phone");
  ASSERT_TRUE(alice_->send_text(bob_uid_, "private").ok());
  auto h = carol->history(alice_uid_, 0, 0, 50);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h.value().entries.empty());
}

TEST_F(BadInput, RegistrationRulesAreEnforced) {
  auto c = connect_client(server_, "reg");
  EXPECT_EQ(c->register_user("ab", "password1").status().code, Code::InvalidUsername);
  EXPECT_EQ(c->register_user("9lives", "password1").status().code, Code::InvalidUsername);
  EXPECT_EQ(c->register_user("has space", "password1").status().code, Code::InvalidUsername);
  EXPECT_EQ(c->register_user("dave", "short").status().code, Code::WeakPassword);
  EXPECT_EQ(c->register_user("ALICE", "password1").status().code, Code::UserExists)
      << "usernames are case-insensitive";
  EXPECT_TRUE(c->register_user("Dave.Smith", "password1").ok());
  auto dave = connect_client(server_, "d");
  auto who = dave->login_password("dave.smith", "password1");
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.value().username, "dave.smith");
}

TEST_F(BadInput, SecondHelloAndBadDeviceIdsAreRefused) {
  RawSession s(server_);
  ASSERT_EQ(s.login("alice", "raw"), Code::Ok);
  EXPECT_EQ(s.login("alice", "raw"), Code::AlreadyLoggedIn);
  RawSession t(server_);
  EXPECT_EQ(t.login("alice", ""), Code::BadRequest);
  EXPECT_EQ(t.login("alice", std::string(65, 'd')), Code::BadRequest);
}

TEST_F(BadInput, FramesSplitIntoSingleBytesAreAssembled) {
  RawSession s(server_);
  auto frame = im::client::to_vector(im::client::build_ping(s.fbb(), 42, 0));
  auto bytes = prefixed(uint32_t(frame.size()), frame);
  for (uint8_t b : bytes) ASSERT_TRUE(s.conn().write_raw({&b, 1}, 2000).ok());
  auto f = s.wait_for(42);
  EXPECT_EQ(f.type(), p::Body::Pong);
}

}  // namespace
}  // namespace im_it
