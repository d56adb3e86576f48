// log_record.h - one record of a shard's log (storage/shard_log.h): a committed WriteBatch,
// kept as bytes in the log (durable), in the checkpointer's queue and in the read overlay,
// shared by all three until it has been applied to the tables.
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
  uint64_t position = 0;  // increasing, never reused
  // Where the record lies in the ring file, the offset after it and its chain hash
  // (storage/shard_log.h); set when the log places it.
  uint64_t offset = 0;
  uint64_t end_offset = 0;
  uint64_t hash = 0;
  std::vector<uint8_t> bytes;
  // The batch inside; valid as long as the record. nullopt if the bytes are not a record of a
  // format this build knows (a damaged log).
  std::optional<BatchView> view() const;
};
using LogRecordPtr = std::shared_ptr<const LogRecord>;

// Encodes batch as a record (its position is set once the log has assigned one).
std::shared_ptr<LogRecord> make_log_record(const WriteBatch& batch);

}  // namespace im::storage
