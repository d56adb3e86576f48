// shard_log.h - the durable truth of a shard's recent writes: an append-only LMDB table in its
// own environment (data/shard-NNN/log/), one record per group commit (storage/log_record.h),
// keyed by an increasing position and written with MDB_APPEND.
//
// Why a separate log: a group commit into the keyed tables dirties one page per touched key
// (inbox, conversation, dedup rows of every user in the batch), and fsyncing those pages is
// what bounded sync throughput. A log append dirties a few sequential pages; the keyed tables
// are brought up to date later, in large batches, by the checkpointer
// (storage/checkpointer.h), and records it has applied are trimmed by the next append.
//
// Threads: append() on the shard's writer thread only; read_after() at open, before any
// append. Crash safety is LMDB's: a record is either wholly committed or absent.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "storage/shard.h"

namespace im::storage {

class ShardLog {
 public:
  // Opens (creating if missing) the log environment in dir. nullptr and *rc set on failure.
  static std::unique_ptr<ShardLog> open(const std::string& dir, const ShardOptions& options,
                                        int* rc);
  ~ShardLog();
  ShardLog(const ShardLog&) = delete;
  ShardLog& operator=(const ShardLog&) = delete;

  // Appends bytes as the record after the last one and deletes records with position <=
  // trim_through (a bounded number per call), in one transaction, durable on return in sync
  // mode. Returns 0 and sets *position, or an LMDB/errno code with nothing written; the map
  // grows on MDB_MAP_FULL up to max_map_bytes.
  int append(std::span<const uint8_t> bytes, uint64_t trim_through, uint64_t* position);
  // fn(position, bytes) for each record with position > after, ascending. Returns an LMDB
  // code (0 when every record was visited).
  int read_after(uint64_t after, const std::function<void(uint64_t, std::span<const uint8_t>)>& fn);
  uint64_t used_bytes();

 private:
  ShardLog() = default;
  int try_append(std::span<const uint8_t> bytes, uint64_t trim_through, uint64_t* position);
  int grow(int rc);

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  uint64_t map_bytes_ = 0;
  uint64_t max_map_bytes_ = 0;
};

}  // namespace im::storage
