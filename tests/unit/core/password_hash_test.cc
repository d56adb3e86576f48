// password_hash_test.cc - scrypt hashes verify the right password only, are salted, keep
// their parameters, and malformed or hostile stored forms fail fast instead of verifying.
#include "core/password_hash.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace im::core {
namespace {

// Cheap parameters keep the suite fast; DefaultParameters covers the real ones.
const ScryptParams kFast{.n = 1024, .r = 8, .p = 1};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = s.find('$', start)) != std::string::npos; start = at + 1) {
    parts.push_back(s.substr(start, at - start));
  }
  parts.push_back(s.substr(start));
  return parts;
}

TEST(PasswordHash, DefaultParametersVerify) {
  std::string stored = hash_password("correct horse battery");
  ASSERT_FALSE(stored.empty());
  EXPECT_EQ(stored.rfind("scrypt$16384$8$1$", 0), 0u) << stored;
  EXPECT_TRUE(verify_password("correct horse battery", stored));
  EXPECT_FALSE(verify_password("correct horse batterY", stored));
}

TEST(PasswordHash, StoredFormHasSaltAndHashOfTheRightSize) {
  std::string stored = hash_password("password1", kFast);
  auto parts = split(stored);
  ASSERT_EQ(parts.size(), 6u) << stored;
  EXPECT_EQ(parts[0], "scrypt");
  EXPECT_EQ(parts[1], "1024");
  EXPECT_EQ(parts[2], "8");
  EXPECT_EQ(parts[3], "1");
  EXPECT_EQ(parts[4].size(), 24u);  // 16 bytes, base64
  EXPECT_EQ(parts[5].size(), 44u);  // 32 bytes, base64
}

TEST(PasswordHash, WrongPasswordFails) {
  std::string stored = hash_password("password1", kFast);
  EXPECT_TRUE(verify_password("password1", stored));
  EXPECT_FALSE(verify_password("password2", stored));
  EXPECT_FALSE(verify_password("password", stored));
  EXPECT_FALSE(verify_password("password11", stored));
  EXPECT_FALSE(verify_password("", stored));
}

TEST(PasswordHash, SamePasswordHashesDifferently) {
  std::string a = hash_password("password1", kFast);
  std::string b = hash_password("password1", kFast);
  EXPECT_NE(a, b);
  EXPECT_NE(split(a)[4], split(b)[4]) << "salts must differ";
  EXPECT_TRUE(verify_password("password1", a));
  EXPECT_TRUE(verify_password("password1", b));
}

TEST(PasswordHash, BinaryAndEmptyPasswords) {
  std::string with_nul("pass\0word", 9);
  std::string stored = hash_password(with_nul, kFast);
  EXPECT_TRUE(verify_password(with_nul, stored));
  EXPECT_FALSE(verify_password("pass", stored)) << "the password must not stop at a NUL";
  std::string empty = hash_password("", kFast);
  EXPECT_TRUE(verify_password("", empty));
  EXPECT_FALSE(verify_password("x", empty));
}

TEST(PasswordHash, InvalidParametersGiveNoHash) {
  EXPECT_EQ(hash_password("password1", {.n = 1000, .r = 8, .p = 1}), "");  // not a power of 2
  EXPECT_EQ(hash_password("password1", {.n = 1024, .r = 0, .p = 1}), "");
  EXPECT_EQ(hash_password("password1", {.n = 1ull << 30, .r = 8, .p = 1}), "");  // 128 GiB
}

TEST(PasswordHash, MalformedStoredFormsFail) {
  std::string good = hash_password("password1", kFast);
  ASSERT_TRUE(verify_password("password1", good));
  auto parts = split(good);
  auto join = [](const std::vector<std::string>& p) {
    std::string s = p[0];
    for (size_t i = 1; i < p.size(); ++i) s += "$" + p[i];
    return s;
  };
  auto with = [&](size_t i, const std::string& v) {
    auto p = parts;
    p[i] = v;
    return join(p);
  };
  std::vector<std::string> bad = {
      "",
      "scrypt",
      "scrypt$",
      "$$$$$",
      "bcrypt$1024$8$1$" + parts[4] + "$" + parts[5],
      with(0, "SCRYPT"),
      with(1, ""),
      with(1, "1000"),   // not a power of two
      with(1, "01024"),  // not canonical
      with(1, "+1024"),
      with(1, "-1024"),
      with(1, "1024 "),
      with(1, "1"),
      with(1, "99999999999999999999999"),
      with(1, "1073741824"),  // 2^30: would need 1 TiB
      with(2, "0"),
      with(2, "x"),
      with(3, "0"),
      with(3, "1000000"),
      with(4, ""),
      with(4, parts[4].substr(1)),  // not a multiple of 4
      with(4, parts[4].substr(0, 20) + "!!!!"),
      with(4, " " + parts[4].substr(1)),  // whitespace that EVP_DecodeBlock would skip
      with(5, ""),
      with(5, parts[5].substr(0, 40)),  // hash truncated
      with(5, parts[5] + "AAAA"),       // hash with extra bytes
      with(5, "AAAA"),                  // 3 bytes: too short to be a hash
      good + "$",
      good + "$extra",
      good.substr(0, good.size() - 1),
      good + "\n",
      join({parts[0], parts[1], parts[2], parts[3], parts[5]}),  // salt missing
  };
  for (const auto& stored : bad) {
    EXPECT_FALSE(verify_password("password1", stored)) << "'" << stored << "'";
  }
}

TEST(PasswordHash, HostileParametersFailFast) {
  // A corrupt row asking for 2^24 * r=64 (128 GiB) must be refused, not attempted.
  std::string good = hash_password("password1", kFast);
  auto parts = split(good);
  std::string hostile = "scrypt$16777216$64$16$" + parts[4] + "$" + parts[5];
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(verify_password("password1", hostile));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(PasswordHash, FlippedHashBitFails) {
  std::string good = hash_password("password1", kFast);
  auto parts = split(good);
  std::string hash = parts[5];
  hash[10] = hash[10] == 'A' ? 'B' : 'A';
  std::string stored = "scrypt$1024$8$1$" + parts[4] + "$" + hash;
  EXPECT_FALSE(verify_password("password1", stored));
  std::string salt = parts[4];
  salt[3] = salt[3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_password("password1", "scrypt$1024$8$1$" + salt + "$" + parts[5]));
  EXPECT_FALSE(verify_password("password1", "scrypt$2048$8$1$" + parts[4] + "$" + parts[5]));
}

}  // namespace
}  // namespace im::core
