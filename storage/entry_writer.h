// entry_writer.h - writes the FlatBuffer of an InboxEntry whose body is a Message (text or no
// content) straight into a buffer, front to back: what reads of compact stored entries
// (storage/entry_codec.cc) produce for every message of a sync or history page, at a fraction of
// a FlatBufferBuilder's cost (no vtable deduplication, no back-to-front growth, no reallocation
// per table). The output is a valid buffer for protocol/im.fbs (tests check it with the
// FlatBuffers Verifier against builder-made ones); it need not be byte-identical to one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace im::storage {

struct MessageEntryFields {
  // InboxEntry
  uint64_t inbox_seq = 0;
  uint64_t owner_uid = 0;
  uint64_t entry_gid = 0;
  uint64_t entry_group_seq = 0;
  // Message
  uint64_t msg_id = 0;
  uint64_t sender_uid = 0;
  uint64_t receiver_uid = 0;
  uint64_t gid = 0;
  uint64_t group_seq = 0;
  uint64_t client_msg_id = 0;
  int64_t server_time_ms = 0;
  uint64_t reply_to_msg_id = 0;
  bool mention_all = false;
  bool has_mentions = false;  // a mentions vector, possibly empty
  std::span<const uint64_t> mentions;
  bool text_content = false;  // content is a TextContent ...
  bool has_text = false;      // ... with a text string
  std::string_view text;
};

// An 8-byte aligned output buffer, reused from one entry to the next.
class EntryBuffer {
 public:
  std::span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(words_.data()), size_};
  }

 private:
  friend class EntryWriter;
  std::vector<uint64_t> words_;
  size_t size_ = 0;
};

// Replaces out's contents with the FlatBuffer of f; returns its bytes.
std::span<const uint8_t> write_message_entry(const MessageEntryFields& f, EntryBuffer& out);

}  // namespace im::storage
