// write_batch.h - the writes one shard commits in one transaction (group commit).
// Built by the owner worker during a loop turn, encoded into the worker's commit log record
// (storage/log_record.h), then cleared and reused: the arena keeps its capacity, so steady
// state does not allocate.
// Ops apply in the order they were added; a later put of the same key wins.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "storage/batch_view.h"
#include "storage/group_records.h"
#include "storage/records.h"

namespace im::storage {

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
  bool empty() const { return ops_ == 0 && expire_max_rows_ == 0 && outbox_delete_through_ == 0; }
  size_t ops() const { return ops_; }
  size_t bytes() const { return arena_.size(); }

  // The batch as the committer sees it (valid until the batch changes).
  BatchView view() const {
    return {arena_, outbox_delete_through_, expire_cutoff_ms_, expire_max_rows_};
  }
  int64_t expire_cutoff_ms() const { return expire_cutoff_ms_; }
  uint32_t expire_max_rows() const { return expire_max_rows_; }

 private:
  void add(Table table, std::span<const uint8_t> key, std::span<const uint8_t> value);
  // Appends an op header and room for key and value; returns where the key goes (the value
  // follows it). The pointer is valid until the next append.
  uint8_t* append_op(Table table, size_t key_len, size_t val_len);
  // Arena layout: storage/batch_view.h.
  std::vector<uint8_t> arena_;
  size_t ops_ = 0;
  int64_t expire_cutoff_ms_ = 0;
  uint32_t expire_max_rows_ = 0;
  uint64_t outbox_delete_through_ = 0;
};

}  // namespace im::storage
