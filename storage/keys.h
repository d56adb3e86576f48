// keys.h - big-endian composite keys of the shard tables, so LMDB's bytewise order is the
// numeric order of (uid, seq, ...) and a prefix scan visits one uid's rows in ascending order.
// Header-only, used by the batch builder (owner worker) and the shard (reads and commit).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace im::storage::keys {

inline void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

inline uint64_t get_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// A key of N big-endian u64 fields, built on the stack.
template <size_t N>
struct U64Key {
  std::array<uint8_t, 8 * N> bytes;
  std::span<const uint8_t> span() const { return bytes; }
  uint64_t field(size_t i) const { return get_be64(bytes.data() + 8 * i); }
};

inline U64Key<1> make(uint64_t a) {
  U64Key<1> k;
  put_be64(k.bytes.data(), a);
  return k;
}

inline U64Key<2> make(uint64_t a, uint64_t b) {
  U64Key<2> k;
  put_be64(k.bytes.data(), a);
  put_be64(k.bytes.data() + 8, b);
  return k;
}

inline U64Key<3> make(uint64_t a, uint64_t b, uint64_t c) {
  U64Key<3> k;
  put_be64(k.bytes.data(), a);
  put_be64(k.bytes.data() + 8, b);
  put_be64(k.bytes.data() + 16, c);
  return k;
}

// Meta values (u64 counters and positions) are stored little-endian, 8 bytes.
inline std::array<uint8_t, 8> le64(uint64_t v) {
  std::array<uint8_t, 8> b;
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

inline uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace im::storage::keys
