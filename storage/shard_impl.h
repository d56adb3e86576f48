// shard_impl.h - private to storage/shard*.cc and group_reads.cc: the state behind a Shard (the
// tables' LMDB env, its table handles, the resize lock, the private log if any, the overlay and
// the checkpointer) and the read-transaction / cursor / scan helpers those files share.
// Thread rules are those of shard.h: the log is written by the owner's commits only, the tables by
// the checkpointer's apply only, the overlay by the owner under overlay_mutex.
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "storage/keys.h"
#include "storage/storage_assert.h"

#include "storage/checkpointer.h"
#include "storage/commit_log.h"
#include "storage/dup_layout.h"
#include "storage/overlay.h"
#include "storage/shard.h"

namespace im::storage {
namespace detail {

constexpr size_t kGroupDedupKeyBytes = 24;  // (gid, sender_uid, client_msg_id)

// The tables WriteBatch::expire_dedup sweeps, each with its own resume point.
constexpr Table kExpireTables[] = {Table::Dedup, Table::Rdedup, Table::GroupDedup};
constexpr size_t kExpireTableCount = std::size(kExpireTables);
constexpr size_t expire_key_bytes(Table t) {
  return t == Table::GroupDedup ? kGroupDedupKeyBytes : 16;  // (uid, client_msg_id)
}

using Bytes = std::span<const uint8_t>;

inline MDB_val to_val(Bytes b) {
  return MDB_val{b.size(), const_cast<uint8_t*>(b.data())};
}
inline Bytes to_bytes(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

// Where an expiry scan of one table resumes (the first key it has not visited yet).
struct ExpireResume {
  bool valid = false;
  uint8_t key_len = 0;
  uint8_t key[kGroupDedupKeyBytes] = {};  // the longest expiring key
};

// An LMDB cursor closed when it goes out of scope (before its transaction ends).
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { ok_ = mdb_cursor_open(txn, dbi, &cursor_) == 0; }
  ~Cursor() {
    if (ok_) mdb_cursor_close(cursor_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  bool ok() const { return ok_; }
  int get(MDB_val* k, MDB_val* v, MDB_cursor_op op) { return mdb_cursor_get(cursor_, k, v, op); }
  int del() { return mdb_cursor_del(cursor_, 0); }

 private:
  MDB_cursor* cursor_ = nullptr;
  bool ok_ = false;
};

inline bool has_prefix(Bytes key, Bytes start, size_t prefix_bytes) {
  return key.size() >= prefix_bytes && std::memcmp(key.data(), start.data(), prefix_bytes) == 0;
}

}  // namespace detail

struct Shard::Impl {
  MDB_env* env = nullptr;
  MDB_dbi dbis[kTableCount] = {};
  MDB_dbi large_values_dbi = 0;  // values of the dup tables too long for an item
  uint64_t max_map_bytes = 0;
  std::atomic<uint64_t> map_bytes{0};
  // Shared: one read transaction's lifetime. Exclusive: mdb_env_set_mapsize.
  std::shared_mutex resize_mutex;
  // One reset read transaction kept for reuse (mdb_txn_renew); taken by atomic exchange so
  // concurrent readers just create their own.
  std::atomic<MDB_txn*> spare_read_txn{nullptr};
  std::atomic<bool> writes_stopped{false};
  std::atomic<bool> env_broken{false};  // a remap failed: the map is gone, reads return nothing
  std::atomic<int> last_error{0};
  // Per table of detail::kExpireTables, same order (checkpointer thread only).
  detail::ExpireResume expire_resume[detail::kExpireTableCount];

  std::unique_ptr<CommitLog> log;       // the private log (ShardOptions::private_log)
  LogWrite private_write;               // commit()'s write to it
  std::shared_ptr<LogRecord> inflight;  // encoded by begin_commit, awaiting finish_commit
  uint64_t last_seq = 0;                // the seq of the last committed or replayed batch
  // Per log id: the position of the last record whose piece the tables hold, as read at
  // recovery (replay skips what is not newer).
  std::vector<std::pair<uint32_t, uint64_t>> recovered_applied;
  uint64_t max_unapplied_bytes = 0;
  // Reads: shared. publish/prune: exclusive (owner thread).
  std::shared_mutex overlay_mutex;
  Overlay overlay;
  // Records committed, not yet published to the overlay (owner thread, like the commits).
  std::vector<LogRecordPtr> committed;
  uint64_t pruned_through = 0;  // owner thread
  std::unique_ptr<Checkpointer> checkpointer;

  ~Impl() {
    checkpointer.reset();  // applies what is queued while the env is still open
    if (MDB_txn* t = spare_read_txn.exchange(nullptr)) mdb_txn_abort(t);
    log.reset();
    if (env) mdb_env_close(env);
  }

  MDB_dbi dbi(Table t) const { return dbis[static_cast<int>(t)]; }
  dup_layout::Dbis dup_dbis(Table t) const { return {dbi(t), large_values_dbi}; }

  MDB_txn* begin_read() {
    if (MDB_txn* t = spare_read_txn.exchange(nullptr)) {
      if (mdb_txn_renew(t) == 0) return t;
      mdb_txn_abort(t);
    }
    MDB_txn* t = nullptr;
    return mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) == 0 ? t : nullptr;
  }

  void end_read(MDB_txn* t) {
    mdb_txn_reset(t);
    MDB_txn* expected = nullptr;
    if (!spare_read_txn.compare_exchange_strong(expected, t)) mdb_txn_abort(t);
  }

  int open_env(const std::string& dir, const ShardOptions& options);
  int open_tables();
  int migrate_legacy(Table table, MDB_dbi legacy);
  int adopt_persisted_map_size();
  // The checkpointer's apply: records in order, plus the applied position, in one transaction.
  CommitStatus apply_records(std::span<const LogRecordPtr> records);
  int apply_txn(std::span<const LogRecordPtr> records, detail::ExpireResume* next);
  int apply_view(MDB_txn* txn, const BatchView& batch, detail::ExpireResume* next,
                 dup_layout::PutCursors* cursors, uint64_t outbox_deleted_through);
  // apply_txn's, kept for their capacity: each record parsed once, and per record the
  // highest outbox delete of it and the records after it.
  std::vector<std::optional<BatchView>> apply_views;
  std::vector<uint64_t> outbox_deleted_after;
  // Where the per-shard log of earlier builds said its applied part ends ({0,0,0} if never).
  std::optional<LogCursor> read_legacy_cursor();
  int read_meta(std::string_view name, uint8_t* out, size_t bytes);
  uint64_t read_meta_u64(std::string_view name);  // 0 when absent or unreadable
  uint64_t applied_log_position(uint32_t log_id);
  std::optional<uint64_t> replay(uint32_t log_id, uint64_t log_position,
                                 std::span<const uint8_t> bytes);
  int open_private_log(const std::string& dir, uint32_t index, const ShardOptions& options,
                       std::string* error);
  int delete_outbox_through(MDB_txn* txn, uint64_t through);
  int expire(MDB_txn* txn, Table table, int64_t cutoff_ms, uint32_t max_rows,
             detail::ExpireResume* resume);
  enum class Grow { Grown, AtMax, Failed };
  Grow grow_map(int commit_rc);
  Grow remap(uint64_t target);
  CommitStatus fail(int rc);

  class ReadTxn;
};

// A read transaction for the life of one read call, holding the resize lock shared.
class Shard::Impl::ReadTxn {
 public:
  explicit ReadTxn(Shard::Impl& impl)
      : impl_(impl), lock_(impl.resize_mutex), overlay_lock_(impl.overlay_mutex) {
    if (!impl.env_broken.load(std::memory_order_relaxed)) txn_ = impl.begin_read();
  }
  ~ReadTxn() {
    point_cursor_.reset();  // before its transaction ends
    if (txn_) impl_.end_read(txn_);
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  explicit operator bool() const { return txn_ != nullptr; }
  MDB_txn* get() const { return txn_; }

  // The value stored under key (the overlay's if it has one), or nullopt. Valid for the
  // transaction, except a dup table's value: only until the next call (a decoded entry).
  std::optional<detail::Bytes> value(Table table, detail::Bytes key) const {
    if (!txn_) return std::nullopt;
    if (auto v = impl_.overlay.find(table, key)) return v;
    if (dup_layout::is_dup_table(table)) {
      if (!point_cursor_ || point_table_ != table) {
        point_cursor_.emplace(txn_, impl_.dup_dbis(table), table);
        point_table_ = table;
      }
      if (!point_cursor_->ok() || point_cursor_->find(key) != 0) return std::nullopt;
      return point_cursor_->value();
    }
    MDB_val k = detail::to_val(key);
    MDB_val v;
    if (mdb_get(txn_, impl_.dbi(table), &k, &v) != 0) return std::nullopt;
    return detail::to_bytes(v);
  }

  // Visits rows whose key starts with start[0, prefix_bytes): forward from the first key >=
  // start, or backward from the last key <= start, merging the overlay with the table (the
  // overlay's row wins on equal keys). fn(key, value) returns false to stop.
  template <typename Fn>
  void scan(Table table, detail::Bytes start, size_t prefix_bytes, bool backward, Fn&& fn) const;

 private:
  Shard::Impl& impl_;
  std::shared_lock<std::shared_mutex> lock_;
  std::shared_lock<std::shared_mutex> overlay_lock_;
  MDB_txn* txn_ = nullptr;
  // value()'s cursor on a dup table, kept across point reads of one transaction.
  mutable std::optional<dup_layout::DupCursor> point_cursor_;
  mutable Table point_table_ = Table::Users;
};

namespace detail {

// One overlay row group walked in scan order from a start key.
class RowsWalk {
 public:
  RowsWalk() = default;
  RowsWalk(const Overlay::Rows* rows, Bytes start, bool backward)
      : rows_(rows), backward_(backward) {
    BytesLess less;
    auto lower = [&](const Overlay::Row& r, Bytes k) { return less(r.key, k); };
    auto upper = [&](Bytes k, const Overlay::Row& r) { return less(k, r.key); };
    if (backward) {  // the last row <= start
      i_ = std::upper_bound(rows->begin(), rows->end(), start, upper) - rows->begin() - 1;
    } else {  // the first row >= start
      i_ = std::lower_bound(rows->begin(), rows->end(), start, lower) - rows->begin();
    }
  }
  bool valid() const { return rows_ && i_ >= 0 && i_ < ptrdiff_t(rows_->size()); }
  Bytes key() const { return (*rows_)[i_].key; }
  Bytes value() const { return (*rows_)[i_].value; }
  void next() { i_ += backward_ ? -1 : 1; }

 private:
  const Overlay::Rows* rows_ = nullptr;
  ptrdiff_t i_ = -1;
  bool backward_ = false;
};

// One table's rows in scan order from a start key, in the plain or the dup layout.
class TableWalk {
 public:
  TableWalk(MDB_txn* txn, dup_layout::Dbis dbis, Table t) {
    if (dup_layout::is_dup_table(t)) {
      dup_.emplace(txn, dbis, t);
    } else {
      plain_.emplace(txn, dbis.table);
    }
  }
  bool ok() const { return dup_ ? dup_->ok() : plain_->ok(); }
  // The first row >= start (forward) or the last row <= start (backward).
  void seek(Bytes start, bool backward) {
    if (dup_) {
      rc_ = dup_->seek(start, backward);
      return;
    }
    k_ = to_val(start);
    rc_ = plain_->get(&k_, &v_, MDB_SET_RANGE);
    if (!backward) return;
    if (rc_ == MDB_NOTFOUND) {
      rc_ = plain_->get(&k_, &v_, MDB_LAST);
    } else if (rc_ == 0 && !(k_.mv_size == start.size() &&
                             std::memcmp(k_.mv_data, start.data(), start.size()) == 0)) {
      rc_ = plain_->get(&k_, &v_, MDB_PREV);  // an exact match is included, anything greater not
    }
  }
  bool valid() const { return rc_ == 0; }
  Bytes key() const { return dup_ ? dup_->key() : to_bytes(k_); }
  Bytes value() { return dup_ ? dup_->value() : to_bytes(v_); }
  void step(bool backward) {
    rc_ = dup_ ? dup_->step(backward) : plain_->get(&k_, &v_, backward ? MDB_PREV : MDB_NEXT);
  }

 private:
  std::optional<Cursor> plain_;
  std::optional<dup_layout::DupCursor> dup_;
  MDB_val k_{};
  MDB_val v_{};
  int rc_ = MDB_NOTFOUND;
};

}  // namespace detail

template <typename Fn>
void Shard::Impl::ReadTxn::scan(Table table, detail::Bytes start, size_t prefix_bytes,
                                bool backward, Fn&& fn) const {
  using detail::Bytes;
  if (!txn_) return;
  detail::TableWalk walk(txn_, impl_.dup_dbis(table), table);
  if (!walk.ok()) return;
  walk.seek(start, backward);
  // Sources in precedence order: the overlay's generations (newest first), then the table.
  IM_ASSERT(prefix_bytes >= overlay_prefix_bytes(table) && start.size() >= prefix_bytes);
  const Overlay::Rows* groups[2];
  const int n_maps = impl_.overlay.rows(table, start, groups);
  detail::RowsWalk walks[2];
  for (int i = 0; i < n_maps; ++i) walks[i] = detail::RowsWalk(groups[i], start, backward);
  const uint64_t outbox_deleted =
      table == Table::Outbox ? impl_.overlay.outbox_deleted_through() : 0;
  BytesLess less;
  // a comes before b in scan order.
  auto before = [&](Bytes a, Bytes b) { return backward ? less(b, a) : less(a, b); };
  for (;;) {
    // The next key in scan order over every source still inside the prefix.
    bool advance_table = false;
    bool have_table = walk.valid() && detail::has_prefix(walk.key(), start, prefix_bytes);
    bool have[2] = {false, false};
    Bytes next;
    bool any = false;
    if (have_table) {
      next = walk.key();
      any = true;
    }
    for (int i = 0; i < n_maps; ++i) {
      have[i] = walks[i].valid() && detail::has_prefix(walks[i].key(), start, prefix_bytes);
      if (have[i] && (!any || before(walks[i].key(), next))) {
        next = walks[i].key();
        any = true;
      }
    }
    if (!any) return;
    // The value of the source with the highest precedence holding that key; every source
    // holding it moves on.
    Bytes value;
    bool found = false;
    for (int i = 0; i < n_maps; ++i) {
      if (!have[i] || before(next, walks[i].key())) continue;  // not at this key
      if (!found) value = walks[i].value();
      found = true;
      walks[i].next();
    }
    if (have_table && !before(next, walk.key())) {
      if (!found) value = walk.value();
      found = true;
      advance_table = true;  // after fn: next and value may point into the cursor's page
    }
    bool deleted =
        outbox_deleted != 0 && next.size() == 8 && keys::get_be64(next.data()) <= outbox_deleted;
    bool go_on = deleted || fn(next, value);
    if (advance_table) walk.step(backward);
    if (!go_on) return;
  }
}

}  // namespace im::storage
