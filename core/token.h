// token.h - signed, expiring session tokens: base64url(payload) "." base64url(HMAC-SHA256).
// payload = version u8 | uid u64 | issued_ms i64 | expires_ms i64 (little endian).
// The 32-byte secret lives in data/secret.key (created atomically on first start).
// Verification is constant time and needs no storage lookup. Any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace im::core {

using TokenSecret = std::array<uint8_t, 32>;

enum class TokenCheck : uint8_t { Ok, Malformed, BadSignature, Expired };

struct TokenClaims {
  uint64_t uid = 0;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

std::string sign_token(const TokenSecret& secret, const TokenClaims& claims);
TokenCheck verify_token(const TokenSecret& secret, std::string_view token, int64_t now_ms,
                        TokenClaims* out);

// Loads data_dir/secret.key, creating it with 32 bytes from RAND_bytes (written atomically)
// when absent. Returns false and sets *error on failure.
bool load_or_create_secret(const std::string& data_dir, TokenSecret* out, std::string* error);

}  // namespace im::core
