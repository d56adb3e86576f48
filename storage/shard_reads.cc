// shard_reads.cc - the read side of a Shard: point gets and ordered range scans, each inside
// one short read transaction (Impl::ReadTxn) that never outlives the call.
// Runs on the owner worker; safe from any thread (see the resize rule in shard.cc).
#include <lmdb.h>

#include <cstring>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/shard.h"
#include "storage/shard_impl.h"

namespace im::storage {
namespace {

using detail::Bytes;

}  // namespace

// ---- point reads ----

std::optional<UserRecord> Shard::get_user(uint64_t uid) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Users, keys::make(uid).span());
  return v ? decode_user(*v) : std::nullopt;
}

std::optional<uint64_t> Shard::get_uid_by_username(std::string_view username) {
  if (username.empty() || username.size() > WriteBatch::kMaxKeyBytes) return std::nullopt;
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::UsersByName,
                     {reinterpret_cast<const uint8_t*>(username.data()), username.size()});
  if (!v || v->size() != 8) return std::nullopt;
  return keys::get_be64(v->data());
}

std::optional<DeviceRecord> Shard::get_device(uint64_t uid, std::string_view device_id) {
  uint8_t key[WriteBatch::kMaxKeyBytes];
  if (8 + device_id.size() > sizeof(key)) return std::nullopt;
  keys::put_be64(key, uid);
  if (!device_id.empty()) std::memcpy(key + 8, device_id.data(), device_id.size());
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Devices, {key, 8 + device_id.size()});
  return v ? decode_device(*v) : std::nullopt;
}

std::optional<ConvRecord> Shard::get_conv(uint64_t uid, uint64_t peer_uid) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Convs, keys::make(uid, peer_uid).span());
  return v ? decode_conv(*v) : std::nullopt;
}

std::optional<DedupRecord> Shard::get_dedup(uint64_t uid, uint64_t client_msg_id) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Dedup, keys::make(uid, client_msg_id).span());
  return v ? decode_dedup(*v) : std::nullopt;
}

std::optional<DedupRecord> Shard::get_rdedup(uint64_t sender_uid, uint64_t client_msg_id) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Rdedup, keys::make(sender_uid, client_msg_id).span());
  return v ? decode_dedup(*v) : std::nullopt;
}

std::optional<uint64_t> Shard::get_meta_u64(std::string_view name) {
  if (name.empty() || name.size() > WriteBatch::kMaxKeyBytes) return std::nullopt;
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Meta, {reinterpret_cast<const uint8_t*>(name.data()), name.size()});
  if (!v || v->size() != 8) return std::nullopt;
  return keys::get_le64(v->data());
}

// ---- range reads ----

std::optional<uint64_t> Shard::max_dedup_id(bool rdedup, uint64_t uid) {
  Impl::ReadTxn txn(*impl_);
  if (!txn) return std::nullopt;
  uint64_t id = 0;
  const Table table = rdedup ? Table::Rdedup : Table::Dedup;
  txn.scan(table, keys::make(uid, UINT64_MAX).span(), 8, true, [&](Bytes key, Bytes) {
    if (key.size() == 16) id = keys::get_be64(key.data() + 8);
    return false;
  });
  return id;
}

uint64_t Shard::last_inbox_seq(uint64_t uid) {
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  uint64_t seq = 0;
  txn.scan(Table::Inbox, keys::make(uid, UINT64_MAX).span(), 8, true, [&](Bytes key, Bytes) {
    if (key.size() == 16) seq = keys::get_be64(key.data() + 8);
    return false;
  });
  return seq;
}

size_t Shard::read_inbox(uint64_t uid, uint64_t after_seq, size_t limit,
                         const std::function<void(const InboxItem&)>& fn) {
  if (limit == 0 || after_seq == UINT64_MAX) return 0;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  size_t n = 0;
  txn.scan(Table::Inbox, keys::make(uid, after_seq + 1).span(), 8, false,
           [&](Bytes key, Bytes value) {
             if (key.size() != 16) return true;
             fn(InboxItem{keys::get_be64(key.data() + 8), value});
             return ++n < limit;
           });
  return n;
}

size_t Shard::read_inbox_seqs(uint64_t uid, std::span<const uint64_t> seqs,
                              const std::function<void(const InboxItem&)>& fn) {
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  size_t n = 0;
  for (uint64_t seq : seqs) {
    if (auto v = txn.value(Table::Inbox, keys::make(uid, seq).span())) {
      fn(InboxItem{seq, *v});
      ++n;
    }
  }
  return n;
}

std::vector<ConvIndexItem> Shard::read_conv_index(uint64_t uid, uint64_t peer_uid,
                                                  uint64_t before_seq, uint64_t after_seq,
                                                  size_t limit) {
  std::vector<ConvIndexItem> items;
  const bool backward = before_seq != 0;
  if (limit == 0 || (!backward && after_seq == UINT64_MAX)) return items;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return items;
  // Backward scans include their start key, so start at before_seq - 1.
  auto start = keys::make(uid, peer_uid, backward ? before_seq - 1 : after_seq + 1);
  txn.scan(Table::ConvIndex, start.span(), 16, backward, [&](Bytes key, Bytes value) {
    if (key.size() != 24) return true;
    items.push_back({keys::get_be64(key.data() + 16), !value.empty() && value[0] == 1});
    return items.size() < limit;
  });
  return items;
}

uint32_t Shard::count_incoming(uint64_t uid, uint64_t peer_uid, uint64_t after_seq,
                               uint64_t up_to_seq) {
  if (after_seq >= up_to_seq) return 0;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  uint32_t count = 0;
  txn.scan(Table::ConvIndex, keys::make(uid, peer_uid, after_seq + 1).span(), 16, false,
           [&](Bytes key, Bytes value) {
             if (key.size() != 24 || keys::get_be64(key.data() + 16) > up_to_seq) return false;
             if (!value.empty() && value[0] == 1) ++count;
             return true;
           });
  return count;
}

std::vector<ConvRow> Shard::list_convs(uint64_t uid, size_t limit) {
  std::vector<ConvRow> rows;
  if (limit == 0) return rows;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return rows;
  txn.scan(Table::Convs, keys::make(uid, 0).span(), 8, false, [&](Bytes key, Bytes value) {
    auto conv = decode_conv(value);
    if (key.size() == 16 && conv) rows.push_back({keys::get_be64(key.data() + 8), *conv});
    return rows.size() < limit;
  });
  return rows;
}

}  // namespace im::storage
