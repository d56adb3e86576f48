// log_record.h - one shard's committed WriteBatch, as bytes: its piece of a commit log record
// (storage/commit_log.h, durable there), then in the shard's checkpointer queue and read
// overlay, shared by both until it has been applied to the tables.
//
// Record layout (little-endian): [u32 format][u64 outbox_delete_through][i64 expire_cutoff_ms]
// [u32 expire_max_rows][op arena (storage/batch_view.h)].
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "storage/batch_view.h"

namespace im::storage {

class WriteBatch;

struct LogRecord {
  uint64_t position = 0;  // the shard's sequence of its batches (in memory), increasing
  // The commit log holding it and the position of its record there: what the tables record as
  // applied (Shard::replay skips what they hold).
  uint32_t log_id = 0;
  uint64_t log_position = 0;
  std::vector<uint8_t> bytes;
  // The batch inside; valid as long as the record. nullopt if the bytes are not a record of a
  // format this build knows (a damaged log).
  std::optional<BatchView> view() const;
};
using LogRecordPtr = std::shared_ptr<const LogRecord>;

// Encodes batch as a record (its position is set once the log has assigned one).
std::shared_ptr<LogRecord> make_log_record(const WriteBatch& batch);

}  // namespace im::storage
