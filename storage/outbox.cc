// outbox.cc - the outbox table of a shard: the second steps of 1:1 sends whose first step
// this shard committed, written in the same transaction as the first copy and deleted once
// the other shard confirms its copy is durable. After a crash the owner replays what is
// left, in position order, before it serves anything new (core/shard_chat.cc), so a
// conversation's messages reach the other inbox in the order they reached this one.
#include <algorithm>
#include <cstring>

#include "storage/keys.h"
#include "storage/shard.h"
#include "storage/shard_impl.h"

namespace im::storage {

namespace {
// Deletions per commit: the confirmed prefix is at most what was in flight, but a bound
// keeps one commit's cost fixed; the rest goes with the next commit.
constexpr size_t kMaxOutboxDeletesPerCommit = 100000;
}  // namespace

void WriteBatch::put_outbox(uint64_t position, std::span<const uint8_t> bytes) {
  add(Table::Outbox, keys::make(position).span(), bytes);
}

int Shard::Impl::delete_outbox_through(MDB_txn* txn, uint64_t through) {
  detail::Cursor cur(txn, dbi(Table::Outbox));
  if (!cur.ok()) return EINVAL;
  MDB_val k, v;
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (size_t n = 0; rc == 0 && n < kMaxOutboxDeletesPerCommit; n++) {
    if (k.mv_size != 8 || keys::get_be64(static_cast<const uint8_t*>(k.mv_data)) > through) break;
    rc = cur.del();
    if (rc) return rc;
    rc = cur.get(&k, &v, MDB_GET_CURRENT);
    if (rc == EINVAL) rc = cur.get(&k, &v, MDB_NEXT);  // deleted the last row
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

size_t Shard::read_outbox(size_t limit,
                          const std::function<void(uint64_t, std::span<const uint8_t>)>& fn) {
  Impl::ReadTxn txn(*impl_);
  if (!txn || limit == 0) return 0;
  size_t n = 0;
  txn.scan(Table::Outbox, keys::make(0).span(), 0, false,
           [&](detail::Bytes key, detail::Bytes value) {
             if (key.size() == 8) fn(keys::get_be64(key.data()), value);
             return ++n < limit;
           });
  return n;
}

uint64_t Shard::last_outbox_position() {
  Impl::ReadTxn txn(*impl_);
  if (!txn) return 0;
  uint64_t last = 0;
  txn.scan(Table::Outbox, keys::make(UINT64_MAX).span(), 0, true,
           [&](detail::Bytes key, detail::Bytes) {
             if (key.size() == 8) last = keys::get_be64(key.data());
             return false;
           });
  // Rows up to a delete still in the overlay are hidden, not gone from the tables yet: a new
  // row must not take one of those positions, or reads would hide it too (after a restart
  // with unapplied deletes, replay_outbox then missed fresh second steps and a resend
  // reordered the conversation: found by the 1:1 crash test).
  return std::max(last, impl_->overlay.outbox_deleted_through());
}

}  // namespace im::storage
