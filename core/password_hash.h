// password_hash.h - slow, salted password hashing with OpenSSL's scrypt (EVP_PBE_scrypt).
// Stored form: "scrypt$N$r$p$<salt base64>$<hash base64>", so parameters can change later
// and old hashes still verify. Slow on purpose: never call it on an event-loop thread
// (core runs it on the worker's KDF thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace im::core {

struct ScryptParams {
  uint64_t n = 1 << 14;  // CPU/memory cost: 16 MiB with r = 8
  uint32_t r = 8;
  uint32_t p = 1;
};

// Returns the stored form, or an empty string on an OpenSSL failure.
std::string hash_password(std::string_view password, const ScryptParams& params = {});
// Constant-time comparison of the recomputed hash.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace im::core
