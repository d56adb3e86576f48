// write_batch.h - the writes one shard commits in one transaction (group commit).
// Built by the owner worker during a loop turn, handed to the shard's writer thread, then
// cleared and reused: the arena keeps its capacity, so steady state does not allocate.
// Ops apply in the order they were added; a later put of the same key wins.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "storage/records.h"

namespace im::storage {

enum class Table : uint8_t {
  Users, UsersByName, Devices, Inbox, Convs, ConvIndex, Dedup, Rdedup, Meta,
};
constexpr int kTableCount = 9;

class WriteBatch {
 public:
  void put_user(const UserRecord& user);
  void put_username(std::string_view username, uint64_t uid);
  void put_device(uint64_t uid, std::string_view device_id, const DeviceRecord& device);
  void put_inbox(uint64_t uid, uint64_t inbox_seq, std::span<const uint8_t> entry_bytes);
  void put_conv(uint64_t uid, uint64_t peer_uid, const ConvRecord& conv);
  void put_conv_index(uint64_t uid, uint64_t peer_uid, uint64_t inbox_seq, bool incoming);
  void put_dedup(uint64_t uid, uint64_t client_msg_id, const DedupRecord& rec);
  void put_rdedup(uint64_t sender_uid, uint64_t client_msg_id, const DedupRecord& rec);
  void put_meta_u64(std::string_view name, uint64_t value);
  // Asks the writer to delete dedup/rdedup rows older than cutoff_ms (at most max_rows of
  // each table) inside the same transaction.
  void expire_dedup(int64_t cutoff_ms, uint32_t max_rows);

  void clear();
  bool empty() const { return ops_ == 0 && expire_max_rows_ == 0; }
  size_t ops() const { return ops_; }
  size_t bytes() const { return arena_.size(); }

  // Iteration for the committer: fn(Table, key, value) for each put, in order.
  template <typename Fn>
  void for_each_put(Fn&& fn) const;
  int64_t expire_cutoff_ms() const { return expire_cutoff_ms_; }
  uint32_t expire_max_rows() const { return expire_max_rows_; }

 private:
  void add(Table table, std::span<const uint8_t> key, std::span<const uint8_t> value);
  // Arena layout per op: [table u8][key_len u32][val_len u32][key][value]
  std::vector<uint8_t> arena_;
  size_t ops_ = 0;
  int64_t expire_cutoff_ms_ = 0;
  uint32_t expire_max_rows_ = 0;
};

}  // namespace im::storage
