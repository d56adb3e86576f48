// records.h - the typed rows of the keyed LMDB tables (everything except inbox entries,
// which are stored in their wire encoding, protocol/im.fbs InboxEntry).
// Rows are encoded by storage/record_codec.cc as a version byte plus fixed little-endian
// fields; adding a field means a new version that still decodes the old one.
#pragma once

#include <cstdint>
#include <string>

namespace im::storage {

enum class UserStatus : uint8_t { Active = 0, Banned = 1, Deleted = 2 };

// users: uid -> UserRecord
struct UserRecord {
  uint64_t uid = 0;
  std::string username;
  std::string password_hash;  // opaque text produced by core/password_hash (includes salt, params)
  UserStatus status = UserStatus::Active;
  int64_t created_ms = 0;
};

// devices: (uid, device_id) -> DeviceRecord
struct DeviceRecord {
  uint64_t acked_inbox_seq = 0;  // highest inbox_seq the device acknowledged (cumulative)
  int64_t last_seen_ms = 0;
  uint8_t platform = 0;  // im::proto::Platform
};

// convs: (uid, peer_uid) -> ConvRecord. One row per 1:1 conversation of a user.
struct ConvRecord {
  uint64_t last_inbox_seq = 0;  // newest entry of this conversation in uid's inbox
  uint64_t read_inbox_seq = 0;  // read cursor
  uint32_t unread = 0;          // incoming entries after read_inbox_seq
  bool muted = false;
  int64_t updated_ms = 0;  // time of the newest entry (sort key for the list)
};

// dedup: (uid, client_msg_id) -> DedupRecord (sender side, answers a resend)
// rdedup: (sender_uid, client_msg_id) -> DedupRecord (receiver side; inbox_seq is the
// receiver's copy). A row older than the dedup window is treated as absent.
struct DedupRecord {
  uint64_t msg_id = 0;
  uint64_t inbox_seq = 0;
  int64_t server_time_ms = 0;
};

}  // namespace im::storage
