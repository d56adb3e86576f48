// batch_view.h - one group commit's writes as the committer sees them: the op arena built by a
// WriteBatch (storage/write_batch.h) plus its deletes, whether it comes straight from the
// batch or back from a shard log record (storage/log_record.h). Read-only, owns nothing.
//
// Op arena layout, per op: [table u8][key_len u32][val_len u32][key][value], lengths in
// little-endian (the arena is stored in the shard log, so its layout is a disk format: Table
// values and this layout only ever grow).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace im::storage {

static_assert(std::endian::native == std::endian::little,
              "the op arena stores lengths in host order, which must be little-endian");

enum class Table : uint8_t {
  Users,
  UsersByName,
  Devices,
  Inbox,
  Convs,
  ConvIndex,
  Dedup,
  Rdedup,
  Meta,
  Groups,
  Members,
  UserGroups,
  GroupLog,
  GroupDedup,
  Outbox,
};
constexpr int kTableCount = 15;
constexpr size_t kOpHeaderBytes = 1 + 4 + 4;

struct BatchView {
  std::span<const uint8_t> ops;        // the op arena
  uint64_t outbox_delete_through = 0;  // delete outbox rows with position <= this
  int64_t expire_cutoff_ms = 0;        // expire dedup rows older than this ...
  uint32_t expire_max_rows = 0;        // ... at most this many per table (0: no expiry)

  bool empty() const { return ops.empty() && expire_max_rows == 0 && outbox_delete_through == 0; }

  // fn(Table, key, value) for each put, in order; key and value point into ops. If fn
  // returns bool, false stops the walk. Returns false if the arena is malformed (a truncated
  // or unknown op), which only a damaged log record can produce.
  template <typename Fn>
  bool for_each_put(Fn&& fn) const;
};

template <typename Fn>
bool BatchView::for_each_put(Fn&& fn) const {
  using Bytes = std::span<const uint8_t>;
  const uint8_t* p = ops.data();
  const uint8_t* end = p + ops.size();
  while (p < end) {
    if (size_t(end - p) < kOpHeaderBytes || p[0] >= kTableCount) return false;
    uint32_t key_len = 0;
    uint32_t val_len = 0;
    std::memcpy(&key_len, p + 1, 4);
    std::memcpy(&val_len, p + 5, 4);
    if (size_t(end - p) - kOpHeaderBytes < uint64_t{key_len} + val_len) return false;
    auto table = static_cast<Table>(p[0]);
    Bytes key(p + kOpHeaderBytes, key_len);
    Bytes value(p + kOpHeaderBytes + key_len, val_len);
    p += kOpHeaderBytes + key_len + val_len;
    if constexpr (std::is_same_v<std::invoke_result_t<Fn&, Table, Bytes, Bytes>, bool>) {
      if (!fn(table, key, value)) return true;
    } else {
      fn(table, key, value);
    }
  }
  return true;
}

}  // namespace im::storage
