// overlay.h - the shard's writes that are durable in the log but not yet applied to the keyed
// tables: reads look here first (storage/shard_impl.h merges it with LMDB), so a write is
// visible from the moment its record is published until after the checkpointer has applied it.
//
// Layout: per table, a hash map from a key prefix (the prefix every range read of that table
// fixes: the uid of an inbox, the (uid, peer) of a conversation index; the whole key for
// tables read only by point lookups) to that prefix's rows, sorted by key. Rows of one prefix
// mostly arrive in key order (inbox seqs, log seqs), so a publish is a hash lookup and an
// append, not a walk down a tree of every unapplied row (measured: a std::map here cost 15%
// of the server's CPU in chat-1to1).
//
// Two generations: records are published into the active one; once the checkpointer has
// applied everything in the sealed one, it is cleared whole (its memory, one pool, is kept for
// a later generation) and the active one is sealed in its place. A record thus stays one to two
// checkpoints. Within and across generations the newest put of a key wins. The only deletes a batch
// carries that reads can tell are outbox rows up to a position; those apply here at once. Expired
// dedup rows stay visible until applied (callers check the age anyway).
//
// Threads: not synchronised; Shard guards it with a shared mutex (publish/prune exclusive,
// reads shared). Its size is bounded by the checkpointer's queue bound (storage/shard.cc).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/batch_view.h"
#include "storage/log_record.h"

namespace im::storage {

using Bytes = std::span<const uint8_t>;

// LMDB's default key order: bytewise, a prefix before its extensions. Keys are mostly
// big-endian u64 composites, so whole 8-byte words are compared first.
struct BytesLess {
  bool operator()(Bytes a, Bytes b) const {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y);
    }
    for (; i < n; ++i) {
      if (a[i] != b[i]) return a[i] < b[i];
    }
    return a.size() < b.size();
  }
};

// How many leading key bytes group a table's rows (SIZE_MAX: the whole key). A range read of
// the table must fix at least that many bytes (checked).
size_t overlay_prefix_bytes(Table t);

class Overlay {
 public:
  struct Row {
    Bytes key;
    Bytes value;
  };
  using Rows = std::pmr::vector<Row>;  // sorted by key, unique
  struct GroupHash {
    size_t operator()(std::string_view group) const;
  };

  Overlay();
  // Makes rec's writes visible (records come in position order). False if the record is
  // damaged (nothing of it is then visible).
  bool publish(LogRecordPtr rec);
  // The checkpointer has applied every record with position <= applied: drops what no longer
  // needs the overlay.
  void prune_through(uint64_t applied);

  // The rows sharing key's group prefix in each generation, newest first; returns how many
  // (0 to 2). key must be at least the table's prefix long.
  int rows(Table t, Bytes key, const Rows* out[2]) const;
  std::optional<Bytes> find(Table t, Bytes key) const;
  // Outbox rows with position <= this are deleted, whatever the tables still hold.
  uint64_t outbox_deleted_through() const { return outbox_deleted_through_; }
  size_t records() const;

 private:
  struct Generation {
    Generation();
    void clear();  // keeps the memory, for the next generation
    std::pmr::unsynchronized_pool_resource arena;
    std::array<std::pmr::unordered_map<std::string_view, Rows, GroupHash>, kTableCount> tables;
    std::vector<LogRecordPtr> records;  // keeps the bytes the rows point into
    uint64_t last_position = 0;
    void put(Table t, Bytes key, Bytes value);
    const Rows* group(Table t, Bytes key) const;
  };
  std::unique_ptr<Generation> active_;
  std::unique_ptr<Generation> sealed_;  // may be null
  std::unique_ptr<Generation> spare_;   // a cleared one, reused (no page faults per checkpoint)
  std::unique_ptr<Generation> fresh_generation();
  uint64_t outbox_deleted_through_ = 0;
};

}  // namespace im::storage
