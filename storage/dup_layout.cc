// dup_layout.cc - puts, cursors and the legacy conversion of the duplicate-set tables
// (storage/dup_layout.h).
#include "storage/dup_layout.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "storage/entry_codec.h"
#include "storage/record_codec.h"

namespace im::storage::dup_layout {
namespace {

MDB_val val(const void* data, size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}

// The value size of a table with fixed-size items (MDB_DUPFIXED), or 0.
size_t fixed_value_bytes(Table t) {
  switch (t) {
    case Table::ConvIndex:
      return kConvIndexValueBytes;
    case Table::Dedup:
    case Table::Rdedup:
    case Table::GroupDedup:
      return kDedupRecordBytes;
    default:
      return 0;
  }
}

bool has_fixed_items(Table t) {
  return fixed_value_bytes(t) != 0;
}

bool holds_entries(Table t) {
  return t == Table::Inbox || t == Table::GroupLog;
}

// large_values key: the table, then the logical key.
size_t large_key(Table t, Bytes key, uint8_t* out) {
  out[0] = static_cast<uint8_t>(t);
  std::memcpy(out + 1, key.data(), key.size());
  return 1 + key.size();
}

int put_large(MDB_txn* txn, Dbis dbis, Table t, Bytes key, Bytes value) {
  uint8_t lk[1 + kMaxLogicalKeyBytes];
  MDB_val k = val(lk, large_key(t, key, lk));
  MDB_val v = val(value.data(), value.size());
  return mdb_put(txn, dbis.large_values, &k, &v, 0);
}

int delete_large(MDB_txn* txn, Dbis dbis, Table t, Bytes key) {
  uint8_t lk[1 + kMaxLogicalKeyBytes];
  MDB_val k = val(lk, large_key(t, key, lk));
  int rc = mdb_del(txn, dbis.large_values, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// The slow path of put: an item with a seq >= this one exists under the prefix (a replayed
// record, a rewritten row or an insert below the end). Removes the row with the same seq, if
// any and different, then inserts the item where it sorts.
int replace(MDB_txn* txn, MDB_cursor* cursor, Dbis dbis, Table t, Bytes key, Bytes item) {
  const size_t prefix = key.size() - kSeqBytes;
  MDB_val k = val(key.data(), prefix);
  MDB_val v = val(key.data() + prefix, kSeqBytes);
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_BOTH_RANGE);
  if (rc == MDB_NOTFOUND) {
    rc = 0;  // no item >= seq: goes at the end after all
  } else if (rc == 0 && std::memcmp(v.mv_data, item.data(), kSeqBytes) == 0) {
    if (v.mv_size == item.size() && std::memcmp(v.mv_data, item.data(), item.size()) == 0) {
      return 0;  // the same row (a large value is rewritten by the caller)
    }
    const bool was_large = v.mv_size == kSeqBytes && !has_fixed_items(t);
    rc = mdb_cursor_del(cursor, 0);
    if (rc == 0 && was_large && item.size() != kSeqBytes) rc = delete_large(txn, dbis, t, key);
  }
  if (rc) return rc;
  k = val(key.data(), prefix);
  v = val(item.data(), item.size());
  return mdb_cursor_put(cursor, &k, &v, 0);
}

}  // namespace

bool is_dup_table(Table t) {
  return holds_entries(t) || has_fixed_items(t);
}

unsigned open_flags(Table t) {
  return MDB_DUPSORT | (has_fixed_items(t) ? unsigned{MDB_DUPFIXED} : 0u);
}

PutCursors::~PutCursors() {
  for (int i = 0; i < open_; ++i) mdb_cursor_close(cursors_[i]);
}

MDB_cursor* PutCursors::get(MDB_dbi dbi, int* rc) {
  for (int i = 0; i < open_; ++i) {
    if (dbis_[i] == dbi) return cursors_[i];
  }
  if (open_ == kMax) {
    *rc = EINVAL;
    return nullptr;
  }
  MDB_cursor* cursor = nullptr;
  if ((*rc = mdb_cursor_open(txn_, dbi, &cursor))) return nullptr;
  dbis_[open_] = dbi;
  cursors_[open_++] = cursor;
  return cursor;
}

int put(MDB_txn* txn, Dbis dbis, Table t, Bytes key, Bytes value, PutCursors* cursors) {
  if (key.size() <= kSeqBytes || key.size() > kMaxLogicalKeyBytes) return EINVAL;
  thread_local std::vector<uint8_t> encoded;
  if (holds_entries(t)) {
    entry_codec::encode(value, encoded);
    value = encoded;
  }
  const bool fixed = has_fixed_items(t);
  if (fixed && value.size() != fixed_value_bytes(t)) return EINVAL;
  // An item of the seq alone means "in large_values", so an empty value goes there too.
  const bool large = !fixed && (value.empty() || value.size() > kMaxInlineValue);
  const size_t prefix = key.size() - kSeqBytes;
  uint8_t item[kMaxItemBytes];
  std::memcpy(item, key.data() + prefix, kSeqBytes);
  size_t item_len = kSeqBytes;
  if (!large) {
    std::memcpy(item + kSeqBytes, value.data(), value.size());
    item_len += value.size();
  }
  int rc = 0;
  MDB_cursor* cursor = nullptr;
  if (cursors) {
    if (!(cursor = cursors->get(dbis.table, &rc))) return rc;
  } else if ((rc = mdb_cursor_open(txn, dbis.table, &cursor))) {
    return rc;
  }
  // Append when the seq is above the owner's last one. (MDB_APPENDDUP alone would also take
  // the same seq with a value that sorts higher, as a second row.)
  MDB_val k = val(key.data(), prefix);
  MDB_val v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET);
  if (rc == 0) rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST_DUP);
  if (rc == 0 && v.mv_size < kSeqBytes) rc = MDB_CORRUPTED;
  const bool append =
      rc == MDB_NOTFOUND || (rc == 0 && std::memcmp(v.mv_data, item, kSeqBytes) < 0);
  if (rc == 0 || rc == MDB_NOTFOUND) {
    if (append) {
      k = val(key.data(), prefix);
      v = val(item, item_len);
      rc = mdb_cursor_put(cursor, &k, &v, MDB_APPENDDUP);
    } else {
      rc = replace(txn, cursor, dbis, t, key, {item, item_len});
    }
  }
  if (!cursors) mdb_cursor_close(cursor);
  if (rc == 0 && large) rc = put_large(txn, dbis, t, key, value);
  return rc;
}

DupCursor::DupCursor(MDB_txn* txn, Dbis dbis, Table t) : txn_(txn), dbis_(dbis), table_(t) {
  if (mdb_cursor_open(txn, dbis.table, &cursor_) != 0) cursor_ = nullptr;
}

DupCursor::~DupCursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

int DupCursor::seek(Bytes start, bool backward) {
  if (start.size() <= kSeqBytes || start.size() > kMaxLogicalKeyBytes) return EINVAL;
  const size_t prefix = start.size() - kSeqBytes;
  const uint8_t* seq = start.data() + prefix;
  MDB_val k = val(start.data(), prefix);
  MDB_val v = val(seq, kSeqBytes);
  int rc = mdb_cursor_get(cursor_, &k, &v, MDB_GET_BOTH_RANGE);  // first item >= seq
  if (rc == 0) {
    const bool exact = std::memcmp(v.mv_data, seq, kSeqBytes) == 0;
    if (backward && !exact) rc = mdb_cursor_get(cursor_, &k, &v, MDB_PREV);
    return load(rc);
  }
  if (rc != MDB_NOTFOUND) return rc;
  // Every item under the prefix is < seq, or the prefix has none.
  k = val(start.data(), prefix);
  rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);  // first item of the first key >= prefix
  if (rc == MDB_NOTFOUND) return backward ? load(mdb_cursor_get(cursor_, &k, &v, MDB_LAST)) : rc;
  if (rc) return rc;
  const bool at_prefix = k.mv_size == prefix && std::memcmp(k.mv_data, start.data(), prefix) == 0;
  if (backward) {
    rc = mdb_cursor_get(cursor_, &k, &v, at_prefix ? MDB_LAST_DUP : MDB_PREV);
  } else if (at_prefix) {
    rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT_NODUP);
  }
  return load(rc);
}

int DupCursor::find(Bytes key) {
  if (key.size() <= kSeqBytes || key.size() > kMaxLogicalKeyBytes) return EINVAL;
  const size_t prefix = key.size() - kSeqBytes;
  MDB_val k = val(key.data(), prefix);
  MDB_val v = val(key.data() + prefix, kSeqBytes);
  int rc = mdb_cursor_get(cursor_, &k, &v, MDB_GET_BOTH_RANGE);
  if (rc == 0 && std::memcmp(v.mv_data, key.data() + prefix, kSeqBytes) != 0) rc = MDB_NOTFOUND;
  return load(rc);
}

int DupCursor::step(bool backward) {
  MDB_val k, v;
  return load(mdb_cursor_get(cursor_, &k, &v, backward ? MDB_PREV : MDB_NEXT));
}

int DupCursor::load(int rc) {
  if (rc) return rc;
  MDB_val k, v;
  if ((rc = mdb_cursor_get(cursor_, &k, &v, MDB_GET_CURRENT))) return rc;
  if (v.mv_size < kSeqBytes || k.mv_size + kSeqBytes > kMaxLogicalKeyBytes) return MDB_CORRUPTED;
  std::memcpy(key_, k.mv_data, k.mv_size);
  std::memcpy(key_ + k.mv_size, v.mv_data, kSeqBytes);
  key_len_ = k.mv_size + kSeqBytes;
  decoded_ = false;
  if (v.mv_size > kSeqBytes || has_fixed_items(table_)) {
    stored_ = {static_cast<const uint8_t*>(v.mv_data) + kSeqBytes, v.mv_size - kSeqBytes};
    return 0;
  }
  uint8_t lk[1 + kMaxLogicalKeyBytes];
  MDB_val lkv = val(lk, large_key(table_, key(), lk));
  MDB_val lv;
  rc = mdb_get(txn_, dbis_.large_values, &lkv, &lv);
  if (rc) return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
  stored_ = {static_cast<const uint8_t*>(lv.mv_data), lv.mv_size};
  return 0;
}

Bytes DupCursor::value() {
  if (decoded_) return value_;
  decoded_ = true;
  value_ = stored_;
  if (holds_entries(table_)) value_ = entry_codec::decode(stored_, entry_buffer_).value_or(Bytes{});
  return value_;
}

int migrate_legacy_table(MDB_env* env, MDB_dbi legacy, Dbis dbis, Table t, size_t rows_per_txn) {
  std::vector<uint8_t> key, value;
  for (bool done = false; !done;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc) return rc;
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, legacy, &cursor);
    MDB_val k, v;
    if (rc == 0) rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    for (size_t n = 0; rc == 0 && n < rows_per_txn; ++n) {
      // Copies: a put may spill dirty pages, which k and v can point into.
      key.assign(static_cast<uint8_t*>(k.mv_data), static_cast<uint8_t*>(k.mv_data) + k.mv_size);
      value.assign(static_cast<uint8_t*>(v.mv_data), static_cast<uint8_t*>(v.mv_data) + v.mv_size);
      rc = put(txn, dbis, t, key, value);
      if (rc == 0) rc = mdb_cursor_del(cursor, 0);
      if (rc == 0) rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);  // the row after the deleted
    }
    if (cursor) mdb_cursor_close(cursor);
    if (rc == MDB_NOTFOUND) {
      done = true;
      rc = mdb_drop(txn, legacy, 1);
    }
    if (rc) {
      mdb_txn_abort(txn);
      return rc;
    }
    if ((rc = mdb_txn_commit(txn))) return rc;
  }
  return 0;
}

}  // namespace im::storage::dup_layout
