// token_test.cc - tokens round-trip, any change to payload or signature is refused,
// expiry is reported separately, malformed text never verifies, and the secret file is
// created once (0600) and reloaded identically.
#include "core/token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace im::core {
namespace {

TokenSecret secret_of(uint8_t seed) {
  TokenSecret s;
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(seed + i);
  return s;
}

const TokenClaims kClaims{
    .uid = 0x0123456789ABCDEFull, .issued_ms = 1700000000000, .expires_ms = 1700000600000};
constexpr int64_t kNow = 1700000300000;

TEST(Token, RoundTrip) {
  std::string token = sign_token(secret_of(1), kClaims);
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(token.find('='), std::string::npos) << "no padding";
  EXPECT_EQ(token.find_first_of("+/"), std::string::npos) << "url alphabet";
  TokenClaims got;
  ASSERT_EQ(verify_token(secret_of(1), token, kNow, &got), TokenCheck::Ok);
  EXPECT_EQ(got.uid, kClaims.uid);
  EXPECT_EQ(got.issued_ms, kClaims.issued_ms);
  EXPECT_EQ(got.expires_ms, kClaims.expires_ms);
  EXPECT_EQ(verify_token(secret_of(1), token, kNow, nullptr), TokenCheck::Ok);
}

// Tokens survive restarts and upgrades: this one was signed by the build that still used
// the one-shot HMAC(); the per-thread keyed context must produce the same bytes.
TEST(Token, SignatureMatchesTokensOfEarlierBuilds) {
  const std::string earlier =
      "Ae_Nq4lnRSMBAGjlz4sBAADAj-7PiwEAAA.tfuHo4CWzCklN2mB7KmAVgf2_WFUdWx-cCZbSXMNy2Y";
  EXPECT_EQ(sign_token(secret_of(1), kClaims), earlier);
  EXPECT_EQ(verify_token(secret_of(1), earlier, kNow, nullptr), TokenCheck::Ok);
  // Switching secrets back and forth on one thread re-keys every time.
  EXPECT_EQ(verify_token(secret_of(2), earlier, kNow, nullptr), TokenCheck::BadSignature);
  EXPECT_EQ(verify_token(secret_of(1), earlier, kNow, nullptr), TokenCheck::Ok);
}

TEST(Token, NegativeAndExtremeClaimsRoundTrip) {
  TokenClaims claims{.uid = ~0ull, .issued_ms = -5, .expires_ms = INT64_MAX};
  TokenClaims got;
  ASSERT_EQ(verify_token(secret_of(1), sign_token(secret_of(1), claims), kNow, &got),
            TokenCheck::Ok);
  EXPECT_EQ(got.uid, claims.uid);
  EXPECT_EQ(got.issued_ms, -5);
  EXPECT_EQ(got.expires_ms, INT64_MAX);
}

TEST(Token, OtherSecretFails) {
  std::string token = sign_token(secret_of(1), kClaims);
  EXPECT_EQ(verify_token(secret_of(2), token, kNow, nullptr), TokenCheck::BadSignature);
}

TEST(Token, EveryTamperedCharacterFails) {
  std::string token = sign_token(secret_of(1), kClaims);
  size_t dot = token.find('.');
  for (size_t i = 0; i < token.size(); ++i) {
    if (i == dot) continue;
    for (char c : std::string("AQgw-_z9")) {
      if (token[i] == c) continue;
      std::string bad = token;
      bad[i] = c;
      TokenClaims got{};
      TokenCheck check = verify_token(secret_of(1), bad, kNow, &got);
      // A change is either not canonical (Malformed) or changes the bytes (BadSignature).
      EXPECT_TRUE(check == TokenCheck::BadSignature || check == TokenCheck::Malformed)
          << "position " << i << " -> " << c;
      EXPECT_EQ(got.uid, 0u) << "claims must not be filled for a bad token";
    }
  }
}

TEST(Token, PayloadFromOneTokenWithSignatureOfAnotherFails) {
  std::string a = sign_token(secret_of(1), kClaims);
  TokenClaims other = kClaims;
  other.uid = 42;
  std::string b = sign_token(secret_of(1), other);
  std::string spliced = b.substr(0, b.find('.')) + a.substr(a.find('.'));
  EXPECT_EQ(verify_token(secret_of(1), spliced, kNow, nullptr), TokenCheck::BadSignature);
}

TEST(Token, ExpiredIsReportedAfterTheSignatureCheck) {
  std::string token = sign_token(secret_of(1), kClaims);
  TokenClaims got;
  EXPECT_EQ(verify_token(secret_of(1), token, kClaims.expires_ms - 1, &got), TokenCheck::Ok);
  EXPECT_EQ(verify_token(secret_of(1), token, kClaims.expires_ms, &got), TokenCheck::Expired);
  EXPECT_EQ(got.uid, kClaims.uid) << "claims are filled for an expired token (for logs)";
  EXPECT_EQ(verify_token(secret_of(1), token, kClaims.expires_ms + 1000, nullptr),
            TokenCheck::Expired);
  // A forged token is BadSignature even when it would also be expired.
  EXPECT_EQ(verify_token(secret_of(2), token, kClaims.expires_ms + 1000, nullptr),
            TokenCheck::BadSignature);
}

TEST(Token, MalformedInputs) {
  std::string token = sign_token(secret_of(1), kClaims);
  size_t dot = token.find('.');
  std::string payload = token.substr(0, dot);
  std::string mac = token.substr(dot + 1);
  std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "nodot",
      payload,
      payload + ".",
      "." + mac,
      token + ".",
      token + "." + mac,
      payload + "=." + mac,  // padding
      payload + "." + mac + "=",
      payload.substr(1) + "." + mac,  // too short
      payload + "A." + mac,           // too long
      payload + "." + mac + "A",
      payload + "." + mac.substr(1),
      payload.substr(0, 10) + "+" + payload.substr(11) + "." + mac,  // standard alphabet
      payload.substr(0, 10) + "/" + payload.substr(11) + "." + mac,
      payload.substr(0, 10) + "!" + payload.substr(11) + "." + mac,
      payload.substr(0, 10) + " " + payload.substr(11) + "." + mac,
      " " + token,
      token + " ",
      token + "\n",
      std::string(token.c_str(), dot) + std::string("\0", 1) + token.substr(dot),
      std::string(10000, 'A') + "." + mac,
  };
  for (const auto& t : bad) {
    EXPECT_EQ(verify_token(secret_of(1), t, kNow, nullptr), TokenCheck::Malformed)
        << "'" << t << "'";
  }
}

TEST(Token, NonCanonicalTrailingBitsAreMalformed) {
  // 25 payload bytes take 34 characters; the last one carries 4 unused bits that must be 0.
  std::string token = sign_token(secret_of(1), kClaims);
  size_t dot = token.find('.');
  ASSERT_EQ(dot, 34u);
  ASSERT_EQ(token.size() - dot - 1, 43u);
  std::string bad = token;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t v = alphabet.find(bad[dot - 1]);
  bad[dot - 1] = alphabet[v | 1];  // set an unused bit
  ASSERT_NE(bad, token);
  EXPECT_EQ(verify_token(secret_of(1), bad, kNow, nullptr), TokenCheck::Malformed);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "im-token-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(TokenSecretFile, CreatedOnceAndReloadedIdentically) {
  TempDir dir;
  TokenSecret first{}, second{};
  std::string error;
  ASSERT_TRUE(load_or_create_secret(dir.path(), &first, &error)) << error;
  EXPECT_NE(first, TokenSecret{}) << "random, not zeros";
  ASSERT_TRUE(load_or_create_secret(dir.path(), &second, &error)) << error;
  EXPECT_EQ(first, second);
  EXPECT_EQ(std::filesystem::file_size(dir.path() + "/secret.key"), 32u);
  // A token signed before a restart still verifies after it.
  std::string token = sign_token(first, kClaims);
  EXPECT_EQ(verify_token(second, token, kNow, nullptr), TokenCheck::Ok);
  // No temporary file is left behind.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(TokenSecretFile, ModeIs0600EvenWithAPermissiveUmask) {
  TempDir dir;
  mode_t old = umask(0);
  TokenSecret secret;
  std::string error;
  bool ok = load_or_create_secret(dir.path(), &secret, &error);
  umask(old);
  ASSERT_TRUE(ok) << error;
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(TokenSecretFile, DifferentDirectoriesGetDifferentSecrets) {
  TempDir a, b;
  TokenSecret sa, sb;
  std::string error;
  ASSERT_TRUE(load_or_create_secret(a.path(), &sa, &error)) << error;
  ASSERT_TRUE(load_or_create_secret(b.path(), &sb, &error)) << error;
  EXPECT_NE(sa, sb);
}

TEST(TokenSecretFile, WrongSizedFileIsRefusedNotReplaced) {
  TempDir dir;
  std::string path = dir.path() + "/secret.key";
  for (size_t size : {0, 31, 33, 4096}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(size, 'k');
    TokenSecret secret;
    std::string error;
    EXPECT_FALSE(load_or_create_secret(dir.path(), &secret, &error)) << size;
    EXPECT_NE(error.find("secret.key"), std::string::npos) << error;
    EXPECT_EQ(std::filesystem::file_size(path), size) << "the file must be left alone";
  }
}

TEST(TokenSecretFile, MissingDirectoryIsAnError) {
  TempDir dir;
  TokenSecret secret;
  std::string error;
  EXPECT_FALSE(load_or_create_secret(dir.path() + "/nope", &secret, &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace im::core
