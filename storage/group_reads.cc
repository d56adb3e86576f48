// group_reads.cc - the read side of the group tables (storage/group_records.h): point gets and
// ordered scans of one gid's members and log, and of one uid's user_groups rows. Each read runs
// in one short read transaction (Impl::ReadTxn). Runs on the owner worker; safe from any thread.
#include <lmdb.h>

#include <algorithm>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/shard.h"
#include "storage/shard_impl.h"

namespace im::storage {
namespace {

using detail::Bytes;

}  // namespace

std::optional<GroupRecord> Shard::get_group(uint64_t gid) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Groups, keys::make(gid).span());
  return v ? decode_group(*v) : std::nullopt;
}

std::optional<MemberRecord> Shard::get_member(uint64_t gid, uint64_t uid) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::Members, keys::make(gid, uid).span());
  return v ? decode_member(*v) : std::nullopt;
}

std::optional<DedupRecord> Shard::get_group_dedup(uint64_t gid, uint64_t sender_uid,
                                                  uint64_t client_msg_id) {
  Impl::ReadTxn txn(*impl_);
  auto v = txn.value(Table::GroupDedup, keys::make(gid, sender_uid, client_msg_id).span());
  return v ? decode_dedup(*v) : std::nullopt;
}

std::vector<std::pair<uint64_t, MemberRecord>> Shard::list_members(uint64_t gid, uint64_t after_uid,
                                                                   size_t limit) {
  std::vector<std::pair<uint64_t, MemberRecord>> rows;
  if (limit == 0 || after_uid == UINT64_MAX) return rows;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return rows;
  txn.scan(Table::Members, keys::make(gid, after_uid + 1).span(), 8, false,
           [&](Bytes key, Bytes value) {
             auto member = decode_member(value);
             if (key.size() == 16 && member)
               rows.emplace_back(keys::get_be64(key.data() + 8), *member);
             return rows.size() < limit;
           });
  return rows;
}

std::vector<std::pair<uint64_t, UserGroupRecord>> Shard::list_user_groups(uint64_t uid,
                                                                          size_t limit) {
  std::vector<std::pair<uint64_t, UserGroupRecord>> rows;
  if (limit == 0) return rows;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return rows;
  txn.scan(Table::UserGroups, keys::make(uid, 0).span(), 8, false, [&](Bytes key, Bytes value) {
    auto rec = decode_user_group(value);
    if (key.size() == 16 && rec) rows.emplace_back(keys::get_be64(key.data() + 8), *rec);
    return rows.size() < limit;
  });
  return rows;
}

// Both directions read the half-open range (lo, hi]: the caller's window (min_seq, max_seq]
// narrowed by before_seq (backward) or after_seq (forward).
size_t Shard::read_group_log(uint64_t gid, uint64_t before_seq, uint64_t after_seq,
                             uint64_t min_seq, uint64_t max_seq, size_t limit,
                             const std::function<void(const InboxItem&)>& fn) {
  const bool backward = before_seq != 0;
  const uint64_t hi = backward ? std::min(before_seq - 1, max_seq) : max_seq;
  const uint64_t lo = backward ? min_seq : std::max(after_seq, min_seq);
  if (limit == 0 || lo >= hi) return 0;
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  size_t n = 0;
  // Backward scans include their start key; lo < hi, so lo + 1 cannot overflow.
  auto start = keys::make(gid, backward ? hi : lo + 1);
  txn.scan(Table::GroupLog, start.span(), 8, backward, [&](Bytes key, Bytes value) {
    if (key.size() != 16) return true;
    const uint64_t seq = keys::get_be64(key.data() + 8);
    if (backward ? seq <= lo : seq > hi) return false;
    fn(InboxItem{seq, value});
    return ++n < limit;
  });
  return n;
}

uint64_t Shard::last_group_seq(uint64_t gid) {
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  uint64_t seq = 0;
  txn.scan(Table::GroupLog, keys::make(gid, UINT64_MAX).span(), 8, true, [&](Bytes key, Bytes) {
    if (key.size() == 16) seq = keys::get_be64(key.data() + 8);
    return false;
  });
  return seq;
}

}  // namespace im::storage
