// dup_layout.h - how the tables whose rows each owner appends in sequence order (inbox,
// conv_index, group_log: logical key = an owner prefix, then a big-endian u64 seq; and the
// dedup tables, whose last key part is a client_msg_id) lie in LMDB: as duplicate sets
// (MDB_DUPSORT). The LMDB key is the owner prefix; each row is one
// duplicate item, seq (8 bytes, big-endian) then the value, so items sort by seq and a
// cursor walking items in order walks the logical keys in order.
//
// Why: in a plain table the rows of many owners interleave in key order, and LMDB splits a page
// in the middle when a row goes in before another owner's rows: every owner's pages stay about
// half full (measured 55-65%). A put with MDB_APPENDDUP appends to the end of the owner's
// duplicate tree, where LMDB splits at the insert point: full pages.
//
// A value too long for an item (LMDB's 511-byte key limit applies to duplicate items) is kept in
// the large_values table under (table, logical key) and its item is the 8-byte seq alone.
// conv_index and dedup items have a fixed size (MDB_DUPFIXED: no per-item node header, and a
// page of them is a packed array). client_msg_ids that grow per sender (the SDK's, imbench's)
// append like seqs; random ones insert inside the sender's set, still without node headers. inbox
// and group_log values are entries, stored in their compact form (storage/entry_codec.h): put
// encodes, DupCursor::value decodes.
//
// Users: the shard's apply (puts), its reads (DupCursor through Shard::Impl::ReadTxn) and the
// one-time conversion of a data dir written by earlier builds (migrate_legacy_table).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "storage/batch_view.h"
#include "storage/entry_writer.h"

namespace im::storage::dup_layout {

using Bytes = std::span<const uint8_t>;

constexpr size_t kSeqBytes = 8;
constexpr size_t kMaxItemBytes = 511;  // LMDB's compiled key limit
constexpr size_t kMaxInlineValue = kMaxItemBytes - kSeqBytes;
constexpr size_t kMaxLogicalKeyBytes = 24;  // conv_index (uid, peer, seq)
constexpr size_t kConvIndexValueBytes = 1;  // 1 incoming, 0 outgoing

bool is_dup_table(Table t);
// The LMDB flags a dup table is opened with.
unsigned open_flags(Table t);

// Handles of one shard's tables that a dup-layout operation needs.
struct Dbis {
  MDB_dbi table = 0;
  MDB_dbi large_values = 0;
};

// Cursors for puts into the dup tables of one write transaction, opened on first use and kept
// (a cursor of a duplicate-set table is an allocation): the checkpointer's apply makes
// several puts per message. Destroy before the transaction ends (LMDB frees a write
// transaction's cursors itself).
class PutCursors {
 public:
  explicit PutCursors(MDB_txn* txn) : txn_(txn) {}
  ~PutCursors();
  PutCursors(const PutCursors&) = delete;
  PutCursors& operator=(const PutCursors&) = delete;
  // The cursor on dbi (opened now if need be), or nullptr with *rc set.
  MDB_cursor* get(MDB_dbi dbi, int* rc);

 private:
  static constexpr int kMax = 8;
  MDB_txn* txn_;
  MDB_dbi dbis_[kMax] = {};
  MDB_cursor* cursors_[kMax] = {};
  int open_ = 0;
};

// Puts one logical row (key = prefix + 8-byte seq), replacing the row of that key if there
// is one. Appends (the common case) cost one LMDB put. Returns an LMDB error code. With
// cursors, uses (and keeps) theirs; without, opens and closes one.
int put(MDB_txn* txn, Dbis dbis, Table t, Bytes key, Bytes value, PutCursors* cursors = nullptr);

// A read cursor over a dup table presenting logical rows: keys are prefix + seq, values the
// item's payload or the large value it refers to, decoded to the wire form for entries.
// Pointers stay valid until the cursor moves. On a write transaction it must be destroyed
// before the transaction ends (LMDB frees a write transaction's cursors itself).
class DupCursor {
 public:
  DupCursor(MDB_txn* txn, Dbis dbis, Table t);
  ~DupCursor();
  DupCursor(const DupCursor&) = delete;
  DupCursor& operator=(const DupCursor&) = delete;
  bool ok() const { return cursor_ != nullptr; }

  // Positions at the first row with key >= start (forward) or the last row with key <= start
  // (backward). start must be a whole logical key. Returns 0, MDB_NOTFOUND or an LMDB error.
  int seek(Bytes start, bool backward);
  // Positions exactly at key. Returns 0 or MDB_NOTFOUND.
  int find(Bytes key);
  int step(bool backward);  // the next row in scan order
  // Deletes the current row (only an inline one: the dedup tables'); step(false) then yields
  // the row after it.
  int del() { return mdb_cursor_del(cursor_, 0); }
  Bytes key() const { return {key_, key_len_}; }
  // The row's value; an entry is decoded here, on first use (empty if it is damaged).
  Bytes value();

 private:
  int load(int rc);  // reads the current item into key_/stored_

  MDB_txn* txn_;
  Dbis dbis_;
  Table table_;
  MDB_cursor* cursor_ = nullptr;
  uint8_t key_[kMaxLogicalKeyBytes] = {};
  size_t key_len_ = 0;
  Bytes stored_;  // the value as stored (in the map)
  Bytes value_;   // the value as read: stored_, or the decoded entry in entry_buffer_
  bool decoded_ = false;
  EntryBuffer entry_buffer_;
};

// Moves every row of a table in the plain layout of earlier builds (legacy) into the dup table,
// rows_per_txn at a time, each step one transaction that deletes what it copied (a crash
// between steps leaves every row in exactly one of the two), then drops legacy.
int migrate_legacy_table(MDB_env* env, MDB_dbi legacy, Dbis dbis, Table t, size_t rows_per_txn);

}  // namespace im::storage::dup_layout
