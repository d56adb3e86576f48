// write_batch.cc - builds the op arena of one group commit (owner worker thread).
// Keys are encoded here (storage/keys.h) and rows by storage/record_codec.h, straight into
// the arena, so a reused batch does not allocate once its arena has grown to steady size.
#include "storage/write_batch.h"

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/storage_assert.h"

namespace im::storage {

uint8_t* WriteBatch::append_op(Table table, size_t key_len, size_t val_len) {
  IM_ASSERT(key_len >= 1 && key_len <= kMaxKeyBytes);
  IM_ASSERT(val_len <= UINT32_MAX);
  size_t at = arena_.size();
  arena_.resize(at + kOpHeaderBytes + key_len + val_len);
  uint8_t* p = arena_.data() + at;
  auto k = static_cast<uint32_t>(key_len);
  auto v = static_cast<uint32_t>(val_len);
  p[0] = static_cast<uint8_t>(table);
  std::memcpy(p + 1, &k, 4);
  std::memcpy(p + 5, &v, 4);
  ++ops_;
  return p + kOpHeaderBytes;
}

void WriteBatch::add(Table table, std::span<const uint8_t> key, std::span<const uint8_t> value) {
  uint8_t* p = append_op(table, key.size(), value.size());
  std::memcpy(p, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
}

void WriteBatch::put_user(const UserRecord& user) {
  auto key = keys::make(user.uid);
  uint8_t* p = append_op(Table::Users, key.bytes.size(), user_record_bytes(user));
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_user(user, p + key.bytes.size());
}

void WriteBatch::put_username(std::string_view username, uint64_t uid) {
  auto value = keys::make(uid);
  add(Table::UsersByName, {reinterpret_cast<const uint8_t*>(username.data()), username.size()},
      value.span());
}

void WriteBatch::put_device(uint64_t uid, std::string_view device_id, const DeviceRecord& device) {
  uint8_t* p = append_op(Table::Devices, 8 + device_id.size(), kDeviceRecordBytes);
  keys::put_be64(p, uid);
  if (!device_id.empty()) std::memcpy(p + 8, device_id.data(), device_id.size());
  encode_device(device, p + 8 + device_id.size());
}

void WriteBatch::put_inbox(uint64_t uid, uint64_t inbox_seq, std::span<const uint8_t> entry_bytes) {
  add(Table::Inbox, keys::make(uid, inbox_seq).span(), entry_bytes);
}

void WriteBatch::put_conv(uint64_t uid, uint64_t peer_uid, const ConvRecord& conv) {
  auto key = keys::make(uid, peer_uid);
  uint8_t* p = append_op(Table::Convs, key.bytes.size(), kConvRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_conv(conv, p + key.bytes.size());
}

void WriteBatch::put_conv_index(uint64_t uid, uint64_t peer_uid, uint64_t inbox_seq,
                                bool incoming) {
  const uint8_t value = incoming ? 1 : 0;
  add(Table::ConvIndex, keys::make(uid, peer_uid, inbox_seq).span(), {&value, 1});
}

void WriteBatch::put_dedup(uint64_t uid, uint64_t client_msg_id, const DedupRecord& rec) {
  auto key = keys::make(uid, client_msg_id);
  uint8_t* p = append_op(Table::Dedup, key.bytes.size(), kDedupRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_dedup(rec, p + key.bytes.size());
}

void WriteBatch::put_rdedup(uint64_t sender_uid, uint64_t client_msg_id, const DedupRecord& rec) {
  auto key = keys::make(sender_uid, client_msg_id);
  uint8_t* p = append_op(Table::Rdedup, key.bytes.size(), kDedupRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_dedup(rec, p + key.bytes.size());
}

void WriteBatch::put_meta_u64(std::string_view name, uint64_t value) {
  auto le = keys::le64(value);
  add(Table::Meta, {reinterpret_cast<const uint8_t*>(name.data()), name.size()}, le);
}

// ---- groups ----

void WriteBatch::put_group(const GroupRecord& group) {
  auto key = keys::make(group.gid);
  uint8_t* p = append_op(Table::Groups, key.bytes.size(), group_record_bytes(group));
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_group(group, p + key.bytes.size());
}

void WriteBatch::put_member(uint64_t gid, uint64_t uid, const MemberRecord& member) {
  auto key = keys::make(gid, uid);
  uint8_t* p = append_op(Table::Members, key.bytes.size(), kMemberRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_member(member, p + key.bytes.size());
}

void WriteBatch::put_user_group(uint64_t uid, uint64_t gid, const UserGroupRecord& rec) {
  auto key = keys::make(uid, gid);
  uint8_t* p = append_op(Table::UserGroups, key.bytes.size(), kUserGroupRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_user_group(rec, p + key.bytes.size());
}

void WriteBatch::put_group_log(uint64_t gid, uint64_t group_seq,
                               std::span<const uint8_t> entry_bytes) {
  add(Table::GroupLog, keys::make(gid, group_seq).span(), entry_bytes);
}

void WriteBatch::put_group_dedup(uint64_t gid, uint64_t sender_uid, uint64_t client_msg_id,
                                 const DedupRecord& rec) {
  auto key = keys::make(gid, sender_uid, client_msg_id);
  uint8_t* p = append_op(Table::GroupDedup, key.bytes.size(), kDedupRecordBytes);
  std::memcpy(p, key.bytes.data(), key.bytes.size());
  encode_dedup(rec, p + key.bytes.size());
}

void WriteBatch::expire_dedup(int64_t cutoff_ms, uint32_t max_rows) {
  expire_cutoff_ms_ = cutoff_ms;
  expire_max_rows_ = max_rows;
}

void WriteBatch::clear() {
  arena_.clear();  // keeps capacity
  ops_ = 0;
  expire_cutoff_ms_ = 0;
  expire_max_rows_ = 0;
  outbox_delete_through_ = 0;
}

}  // namespace im::storage
