// shard_impl.h - private to storage/shard*.cc and group_reads.cc: the state behind a Shard (the
// LMDB env, its table handles, the resize lock) and the read-transaction / cursor / scan helpers
// those files share.
// Thread rules are those of shard.h: Impl's writer-only fields are touched by commit() only.
#pragma once

#include <lmdb.h>

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

#include "storage/shard.h"

namespace im::storage {
namespace detail {

constexpr size_t kGroupDedupKeyBytes = 24;  // (gid, sender_uid, client_msg_id)

// The tables WriteBatch::expire_dedup sweeps, each with its own resume point.
constexpr Table kExpireTables[] = {Table::Dedup, Table::Rdedup, Table::GroupDedup};
constexpr size_t kExpireTableCount = std::size(kExpireTables);

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

// Visits rows whose key starts with start[0, prefix_bytes): forward from the first key >= start,
// or backward from the last key <= start. fn(key, value) returns false to stop.
template <typename Fn>
void scan(MDB_txn* txn, MDB_dbi dbi, Bytes start, size_t prefix_bytes, bool backward, Fn&& fn) {
  Cursor cur(txn, dbi);
  if (!cur.ok()) return;
  MDB_val k = to_val(start);
  MDB_val v;
  int rc = cur.get(&k, &v, MDB_SET_RANGE);
  if (backward) {
    if (rc == MDB_NOTFOUND) {
      rc = cur.get(&k, &v, MDB_LAST);
    } else if (rc == 0 && to_bytes(k).size() == start.size() &&
               std::memcmp(k.mv_data, start.data(), start.size()) == 0) {
      // exact match: start itself is included
    } else if (rc == 0) {
      rc = cur.get(&k, &v, MDB_PREV);
    }
  }
  const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
  while (rc == 0 && k.mv_size >= prefix_bytes &&
         std::memcmp(k.mv_data, start.data(), prefix_bytes) == 0) {
    if (!fn(to_bytes(k), to_bytes(v))) return;
    rc = cur.get(&k, &v, step);
  }
}

}  // namespace detail

struct Shard::Impl {
  MDB_env* env = nullptr;
  MDB_dbi dbis[kTableCount] = {};
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
  // Per table of detail::kExpireTables, same order (writer thread only).
  detail::ExpireResume expire_resume[detail::kExpireTableCount];

  ~Impl() {
    if (MDB_txn* t = spare_read_txn.exchange(nullptr)) mdb_txn_abort(t);
    if (env) mdb_env_close(env);
  }

  MDB_dbi dbi(Table t) const { return dbis[static_cast<int>(t)]; }

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
  int adopt_persisted_map_size();
  int apply(const WriteBatch& batch, detail::ExpireResume* next);
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
  explicit ReadTxn(Shard::Impl& impl) : impl_(impl), lock_(impl.resize_mutex) {
    if (!impl.env_broken.load(std::memory_order_relaxed)) txn_ = impl.begin_read();
  }
  ~ReadTxn() {
    if (txn_) impl_.end_read(txn_);
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  explicit operator bool() const { return txn_ != nullptr; }
  MDB_txn* get() const { return txn_; }

  // The value stored under key, or nullopt.
  std::optional<detail::Bytes> value(Table table, detail::Bytes key) const {
    MDB_val k = detail::to_val(key);
    MDB_val v;
    if (!txn_ || mdb_get(txn_, impl_.dbi(table), &k, &v) != 0) return std::nullopt;
    return detail::to_bytes(v);
  }

 private:
  Shard::Impl& impl_;
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
};

}  // namespace im::storage
