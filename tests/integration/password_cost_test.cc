// password_cost_test.cc - the password_scrypt_n setting on a real imserver: new accounts are
// hashed with the configured cost and log in, and hashes made with another cost (the
// default) keep verifying with the parameters stored beside them. The stored hashes are read
// back from the stopped server's shards to prove which cost each one used.
#include "storage/data_dir.h"
#include "storage/shard.h"
#include "tests/integration/fixtures.h"

namespace im_it {
namespace {

const std::vector<std::string> kLowCost = {"--password-scrypt-n", "1024"};

// The stored form "scrypt$N$r$p$salt$hash" of a user's password; the server must be stopped.
std::string stored_hash(const TestServer& server, uint64_t uid) {
  im::storage::Manifest manifest;
  std::string error;
  if (!im::storage::open_data_dir(server.data_dir(), 16, &manifest, &error)) {
    ADD_FAILURE() << error;
    return "";
  }
  uint32_t shard = im::storage::shard_of_uid(uid, manifest.shards);
  auto store = im::storage::Shard::open(im::storage::shard_dir(server.data_dir(), shard), shard,
                                        im::storage::ShardOptions{}, &error);
  if (!store) {
    ADD_FAILURE() << error;
    return "";
  }
  auto rec = store->get_user(uid);
  EXPECT_TRUE(rec.has_value()) << "uid " << uid;
  return rec ? rec->password_hash : "";
}

// A password login of `user` with `password` on a fresh connection: its result code.
Code login_code(TestServer& server, const std::string& user, const std::string& password) {
  auto c = connect_client(server, "phone");
  auto r = c->login_password(user, password);
  return r.ok() ? Code::Ok : r.status().code;
}

TEST(PasswordCost, UserRegisteredWithLowCostLogsIn) {
  TestServer server(kLowCost);
  ASSERT_TRUE(server.start()) << server.error();
  EXPECT_NE(server.log().find("for benchmarks and tests only"), std::string::npos) << server.log();
  uint64_t uid = register_user(server, "alice");
  ASSERT_NE(uid, 0u);
  EXPECT_EQ(login_code(server, "alice", password_of("alice")), Code::Ok);
  EXPECT_EQ(login_code(server, "alice", "not-alices-password"), Code::AuthFailed);
  ASSERT_TRUE(server.stop());
  EXPECT_EQ(stored_hash(server, uid).rfind("scrypt$1024$8$1$", 0), 0u) << "hashed with N=1024";
}

TEST(PasswordCost, DefaultCostHashStillVerifiesUnderLowCost) {
  TestServer server;
  ASSERT_TRUE(server.start()) << server.error();
  EXPECT_EQ(server.log().find("for benchmarks and tests only"), std::string::npos)
      << "no warning at the default cost";
  uint64_t bob = register_user(server, "bob");
  ASSERT_NE(bob, 0u);
  server.set_extra_args(kLowCost);
  ASSERT_TRUE(server.restart()) << server.error();
  EXPECT_EQ(login_code(server, "bob", password_of("bob")), Code::Ok);
  EXPECT_EQ(login_code(server, "bob", "not-bobs-password"), Code::AuthFailed);
  uint64_t carol = register_user(server, "carol");
  ASSERT_NE(carol, 0u);
  EXPECT_EQ(login_code(server, "carol", password_of("carol")), Code::Ok);
  ASSERT_TRUE(server.stop());
  EXPECT_EQ(stored_hash(server, bob).rfind("scrypt$16384$8$1$", 0), 0u) << "kept the default";
  EXPECT_EQ(stored_hash(server, carol).rfind("scrypt$1024$8$1$", 0), 0u) << "the new cost";
}

}  // namespace
}  // namespace im_it
