// password_hash.cc - scrypt password hashing (OpenSSL EVP_PBE_scrypt) with a random salt,
// stored as "scrypt$N$r$p$<salt>$<hash>" (standard base64, padded). Verification parses
// the stored form strictly and bounds its parameters, so a corrupt or hostile row cannot
// make us allocate gigabytes. Slow on purpose: KDF threads only.
#include "core/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace im::core {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMaxSaltBytes = 64;
// Refuse parameters above this (kMaxScryptN with r = 8 needs 128 MiB).
constexpr uint64_t kMaxScryptMemoryBytes = 256ull << 20;
constexpr uint32_t kMaxScryptP = 16;
constexpr std::string_view kScheme = "scrypt";

// What EVP_PBE_scrypt allocates for (N, r, p), or 0 when the parameters are invalid or
// over our memory bound.
uint64_t scrypt_memory_bytes(uint64_t n, uint64_t r, uint64_t p) {
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || p > kMaxScryptP) return 0;
  if (r > kMaxScryptMemoryBytes / 128 || n > kMaxScryptMemoryBytes / (128 * r)) return 0;
  uint64_t bytes = 128 * r * (n + 2) + 128 * r * p;
  return bytes <= kMaxScryptMemoryBytes ? bytes : 0;
}

bool derive(std::string_view password, const uint8_t* salt, size_t salt_bytes,
            const ScryptParams& params, uint8_t* out, size_t out_bytes) {
  uint64_t memory = scrypt_memory_bytes(params.n, params.r, params.p);
  if (memory == 0) return false;
  // OpenSSL's own estimate differs slightly from ours; leave headroom.
  uint64_t max_memory = memory + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(), salt, salt_bytes, params.n, params.r,
                        params.p, max_memory, out, out_bytes) == 1;
}

std::string encode_base64(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Strict: only the canonical padded encoding of some bytes is accepted (EVP_DecodeBlock
// alone would also take whitespace and return the padding as zero bytes).
bool decode_base64(std::string_view text, std::vector<uint8_t>* out) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4 * kMaxSaltBytes) return false;
  std::vector<uint8_t> bytes(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  bytes.resize(static_cast<size_t>(n) - padding);
  if (encode_base64(bytes.data(), bytes.size()) != text) return false;
  *out = std::move(bytes);
  return true;
}

// Splits off the text before the next '$'.
std::string_view next_field(std::string_view* rest) {
  size_t at = rest->find('$');
  std::string_view field = rest->substr(0, at);
  *rest = at == std::string_view::npos ? std::string_view() : rest->substr(at + 1);
  return field;
}

bool parse_decimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct StoredHash {
  ScryptParams params;
  std::vector<uint8_t> salt;
  std::vector<uint8_t> hash;
};

bool parse_stored(std::string_view stored, StoredHash* out) {
  std::string_view rest = stored;
  if (next_field(&rest) != kScheme || rest.empty()) return false;
  uint64_t n = 0, r = 0, p = 0;
  if (!parse_decimal(next_field(&rest), &n) || !parse_decimal(next_field(&rest), &r) ||
      !parse_decimal(next_field(&rest), &p)) {
    return false;
  }
  if (scrypt_memory_bytes(n, r, p) == 0) return false;
  std::string_view salt = next_field(&rest);
  std::string_view hash = rest;  // the last field: a '$' inside it fails base64 below
  if (!decode_base64(salt, &out->salt) || !decode_base64(hash, &out->hash)) return false;
  if (out->salt.size() < kMinSaltBytes || out->salt.size() > kMaxSaltBytes) return false;
  // Exactly our length: scrypt output is a prefix of longer output, so accepting a shorter
  // stored hash would weaken it (a truncated row would still verify).
  if (out->hash.size() != kHashBytes) return false;
  out->params = {n, static_cast<uint32_t>(r), static_cast<uint32_t>(p)};
  return true;
}

}  // namespace

std::string hash_password(std::string_view password, const ScryptParams& params) {
  uint8_t salt[kSaltBytes];
  uint8_t hash[kHashBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return {};
  if (!derive(password, salt, sizeof salt, params, hash, sizeof hash)) return {};
  std::string out(kScheme);
  out += '$' + std::to_string(params.n) + '$' + std::to_string(params.r) + '$' +
         std::to_string(params.p) + '$' + encode_base64(salt, sizeof salt) + '$' +
         encode_base64(hash, sizeof hash);
  OPENSSL_cleanse(hash, sizeof hash);
  return out;
}

bool verify_password(std::string_view password, std::string_view stored) {
  StoredHash parsed;
  if (!parse_stored(stored, &parsed)) return false;
  std::vector<uint8_t> computed(parsed.hash.size());
  if (!derive(password, parsed.salt.data(), parsed.salt.size(), parsed.params, computed.data(),
              computed.size())) {
    return false;
  }
  bool same = CRYPTO_memcmp(computed.data(), parsed.hash.data(), computed.size()) == 0;
  OPENSSL_cleanse(computed.data(), computed.size());
  return same;
}

}  // namespace im::core
