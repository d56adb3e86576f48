// write_batch.h - the writes one shard commits in one transaction (group commit).
// Built by the owner worker during a loop turn, handed to the shard's writer thread, then
// cleared and reused: the arena keeps its capacity, so steady state does not allocate.
// Ops apply in the order they were added; a later put of the same key wins.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "storage/group_records.h"
#include "storage/records.h"

namespace im::storage {

enum class Table : uint8_t {
  Users,
  UsersByName,
  Devices,
  Inbox,
  Convs,
  ConvIndex,
  Dedup,
  Rdedup,
  Meta,
  Groups,
  Members,
  UserGroups,
  GroupLog,
  GroupDedup,
  Outbox,
};
constexpr int kTableCount = 15;

class WriteBatch {
 public:
  // LMDB's key limit (511 bytes, the compiled default). Usernames, device ids and meta names
  // are keys (device ids after an 8-byte uid): core must bound them well below this; a put
  // over the limit or with an empty name is a bug (IM_ASSERT).
  static constexpr size_t kMaxKeyBytes = 511;

  void put_user(const UserRecord& user);
  void put_username(std::string_view username, uint64_t uid);
  void put_device(uint64_t uid, std::string_view device_id, const DeviceRecord& device);
  void put_inbox(uint64_t uid, uint64_t inbox_seq, std::span<const uint8_t> entry_bytes);
  void put_conv(uint64_t uid, uint64_t peer_uid, const ConvRecord& conv);
  void put_conv_index(uint64_t uid, uint64_t peer_uid, uint64_t inbox_seq, bool incoming);
  void put_dedup(uint64_t uid, uint64_t client_msg_id, const DedupRecord& rec);
  void put_rdedup(uint64_t sender_uid, uint64_t client_msg_id, const DedupRecord& rec);
  void put_meta_u64(std::string_view name, uint64_t value);
  // groups (storage/group_records.h)
  void put_group(const GroupRecord& group);
  void put_member(uint64_t gid, uint64_t uid, const MemberRecord& member);
  void put_user_group(uint64_t uid, uint64_t gid, const UserGroupRecord& rec);
  void put_group_log(uint64_t gid, uint64_t group_seq, std::span<const uint8_t> entry_bytes);
  void put_group_dedup(uint64_t gid, uint64_t sender_uid, uint64_t client_msg_id,
                       const DedupRecord& rec);
  // outbox (position) -> the second step of a 1:1 send not yet confirmed (storage/outbox.cc)
  void put_outbox(uint64_t position, std::span<const uint8_t> bytes);
  // Deletes outbox rows with position <= through (confirmed), inside the same transaction.
  void delete_outbox_through(uint64_t through) { outbox_delete_through_ = through; }
  uint64_t outbox_delete_through() const { return outbox_delete_through_; }
  // Asks the writer to delete dedup/rdedup/group_dedup rows older than cutoff_ms (at most
  // max_rows of each table) inside the same transaction.
  void expire_dedup(int64_t cutoff_ms, uint32_t max_rows);

  void clear();
  bool empty() const {
    return ops_ == 0 && expire_max_rows_ == 0 && outbox_delete_through_ == 0;
  }
  size_t ops() const { return ops_; }
  size_t bytes() const { return arena_.size(); }

  // Iteration for the committer: fn(Table, key, value) for each put, in order. key and value
  // are std::span<const uint8_t> into the arena. If fn returns bool, false stops the walk.
  template <typename Fn>
  void for_each_put(Fn&& fn) const;
  int64_t expire_cutoff_ms() const { return expire_cutoff_ms_; }
  uint32_t expire_max_rows() const { return expire_max_rows_; }

 private:
  static constexpr size_t kOpHeaderBytes = 1 + 4 + 4;
  void add(Table table, std::span<const uint8_t> key, std::span<const uint8_t> value);
  // Appends an op header and room for key and value; returns where the key goes (the value
  // follows it). The pointer is valid until the next append.
  uint8_t* append_op(Table table, size_t key_len, size_t val_len);
  // Arena layout per op: [table u8][key_len u32][val_len u32][key][value] (lengths in host
  // byte order: the arena never leaves the process).
  std::vector<uint8_t> arena_;
  size_t ops_ = 0;
  int64_t expire_cutoff_ms_ = 0;
  uint32_t expire_max_rows_ = 0;
  uint64_t outbox_delete_through_ = 0;
};

template <typename Fn>
void WriteBatch::for_each_put(Fn&& fn) const {
  using Bytes = std::span<const uint8_t>;
  const uint8_t* p = arena_.data();
  const uint8_t* end = p + arena_.size();
  while (p < end) {
    uint32_t key_len = 0;
    uint32_t val_len = 0;
    std::memcpy(&key_len, p + 1, 4);
    std::memcpy(&val_len, p + 5, 4);
    auto table = static_cast<Table>(p[0]);
    Bytes key(p + kOpHeaderBytes, key_len);
    Bytes value(p + kOpHeaderBytes + key_len, val_len);
    p += kOpHeaderBytes + key_len + val_len;
    if constexpr (std::is_same_v<std::invoke_result_t<Fn&, Table, Bytes, Bytes>, bool>) {
      if (!fn(table, key, value)) return;
    } else {
      fn(table, key, value);
    }
  }
}

}  // namespace im::storage
