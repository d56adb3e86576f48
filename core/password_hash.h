// password_hash.h - slow, salted password hashing with OpenSSL's scrypt (EVP_PBE_scrypt).
// Stored form: "scrypt$N$r$p$<salt base64>$<hash base64>", so parameters can change later
// and old hashes still verify. Slow on purpose: never call it on an event-loop thread
// (core runs it on the worker's KDF thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace im::core {

// The cost N of new hashes is the password_scrypt_n setting (core/config.h), a power of two
// in [kMinScryptN, kMaxScryptN]; verification uses each stored hash's own N.
constexpr uint64_t kDefaultScryptN = 1 << 14;  // 16 MiB and ~25 ms of CPU with r = 8
constexpr uint64_t kMinScryptN = 1 << 10;
constexpr uint64_t kMaxScryptN = 1 << 17;  // 128 MiB with r = 8

struct ScryptParams {
  uint64_t n = kDefaultScryptN;  // CPU/memory cost
  uint32_t r = 8;
  uint32_t p = 1;
};

// Returns the stored form, or an empty string on an OpenSSL failure.
std::string hash_password(std::string_view password, const ScryptParams& params = {});
// Constant-time comparison of the recomputed hash.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace im::core
