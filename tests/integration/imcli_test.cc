// imcli_test.cc - the one-shot imcli commands that scripts rely on, run as a real process
// against a real server: exit status 0 only on success, --json with the protocol's field
// names, errors as "error: <CodeName> (<number>): <reason>" on stderr.
#include <nlohmann/json.hpp>

#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

class Imcli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.error(); }
  CliRun imcli(const std::string& args, const std::string& env_password = "") {
    return run_imcli(server_, args, env_password);
  }
  TestServer server_;
};

TEST_F(Imcli, RegisterSendHistoryAndConvsWork) {
  ASSERT_EQ(imcli("register alice alice-password").status, 0);
  ASSERT_EQ(imcli("register bob bob-password").status, 0);

  CliRun sent = imcli("--user alice --json send bob 'hello from a script'", "alice-password");
  ASSERT_EQ(sent.status, 0) << sent.err;
  auto s = nlohmann::json::parse(sent.out);
  EXPECT_GT(s["msg_id"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["inbox_seq"].get<uint64_t>(), 1u);
  EXPECT_EQ(s["text"], "hello from a script");

  CliRun hist = imcli("--user bob --password bob-password --json history alice --limit 5");
  ASSERT_EQ(hist.status, 0) << hist.err;
  auto h = nlohmann::json::parse(hist.out);
  ASSERT_EQ(h["entries"].size(), 1u);
  EXPECT_EQ(h["entries"][0]["text"], "hello from a script");
  EXPECT_EQ(h["entries"][0]["sender"], "alice");
  EXPECT_EQ(h["entries"][0]["msg_id"], s["msg_id"]);

  CliRun convs = imcli("--user bob --json convs", "bob-password");
  ASSERT_EQ(convs.status, 0) << convs.err;
  auto c = nlohmann::json::parse(convs.out);
  EXPECT_EQ(c["total_unread"], 1);

  // The password does not have to be given again: a token was saved.
  CliRun again = imcli("--user bob convs");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("alice"), std::string::npos);
}

TEST_F(Imcli, ErrorsExitNonZeroWithTheProtocolCode) {
  ASSERT_EQ(imcli("register alice alice-password").status, 0);
  CliRun dup = imcli("register alice alice-password");
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.err.find("error: UserExists (303)"), std::string::npos) << dup.err;

  CliRun wrong = imcli("--user alice --password not-her-password convs");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("AuthFailed (202)"), std::string::npos) << wrong.err;

  CliRun unknown = imcli("--user alice --json send nobody hi", "alice-password");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("UnknownUser (304)"), std::string::npos) << unknown.err;

  CliRun usage = imcli("frobnicate");
  EXPECT_EQ(usage.status, 2) << usage.out << usage.err;
}

TEST_F(Imcli, UnreachableServerExitsWithThree) {
  CliRun run = imcli("register carol carol-password");
  ASSERT_EQ(run.status, 0);
  server_.stop();
  CliRun down = imcli("register dave dave-password");
  EXPECT_EQ(down.status, 3) << down.err;
}

}  // namespace
}  // namespace im_it
