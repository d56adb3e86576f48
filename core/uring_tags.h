// uring_tags.h - what an io_uring completion belongs to, packed into its 64-bit user data:
// [kind : 8][slot : 24][generation : 32]. A completion for a slot whose generation moved
// on belongs to a connection that is gone and is ignored.
#pragma once

#include <cstdint>

namespace im::core {

enum class Tag : uint8_t { Accept = 1, Recv, Send, Wake, Tick, LogWrite, Ignore };
constexpr uint16_t kRecvBufferGroup = 1;

inline uint64_t make_tag(Tag kind, uint32_t slot, uint32_t gen) {
  return uint64_t(kind) << 56 | uint64_t(slot & 0xFFFFFF) << 32 | gen;
}
inline Tag tag_kind(uint64_t tag) {
  return static_cast<Tag>(tag >> 56);
}
inline uint32_t tag_slot(uint64_t tag) {
  return uint32_t(tag >> 32) & 0xFFFFFF;
}
inline uint32_t tag_gen(uint64_t tag) {
  return uint32_t(tag);
}

}  // namespace im::core
