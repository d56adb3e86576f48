// shard_log.h - the durable truth of a shard's recent writes: one ring file per shard
// (data/shard-NNN/log/ring) holding one record per group commit (storage/log_record.h), at
// increasing positions, written sequentially and wrapping to the start once the records there
// are applied to the keyed tables.
//
// Why a separate log: a group commit into the keyed tables dirties one page per touched key,
// and fsyncing those pages is what bounded sync throughput. A log append is one sequential
// write; the keyed tables are brought up to date later, in large batches, by the checkpointer
// (storage/checkpointer.h). Why a plain file and not an LMDB table: the owner worker submits
// the write itself through its io_uring (one writev with RWF_DSYNC), so no thread per shard
// waits on an fsync and no wake-up crosses threads per commit.
//
// On disk, each record is [u32 magic][u32 payload bytes][u64 position][u64 chain hash]
// [payload][zero padding to 8 bytes]. The chain hash is XXH3 of the header fields and the
// payload, seeded with the previous record's chain hash, so a record is accepted at recovery
// only as the successor of the record before it: stale records of earlier laps, torn writes and
// records of an earlier life of the process that were never acknowledged all fail the check.
// Recovery starts where the tables' applied position says the next record lies (its end offset
// and hash are kept with it) and follows the chain, trying the start of the file when the
// record is not at the current offset (the writer wrapped there).
//
// The writer never overwrites a record that is not applied yet: it is told which records are
// (trim_through) and keeps their offsets. Torn writes: a rewrite of a partly used last page
// writes the same bytes again for the part already acknowledged; like other write-ahead logs
// (LevelDB, RocksDB) we rely on the device writing a sector atomically.
//
// Threads: owner thread only (place/complete/trim), read_after at open before any write.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "storage/log_record.h"

namespace im::storage {

// Where the applied part of the log ends: the last applied record's position, the offset
// after it and its chain hash (all zero for an empty log).
struct LogCursor {
  uint64_t position = 0;
  uint64_t end_offset = 0;
  uint64_t hash = 0;
};

// One record's write: a writev of iov at offset, with RWF_DSYNC in sync mode. The iovecs point
// into the ShardLog and the record, which stay alive until complete().
struct LogWrite {
  int fd = -1;
  iovec iov[3] = {};
  int iov_count = 0;
  uint64_t offset = 0;
  int rw_flags = 0;
  uint64_t bytes = 0;
};

class ShardLog {
 public:
  // Opens (creating if missing) the ring file in dir. nullptr and *err (errno) on failure.
  // capacity_bytes: the size the file grows to before writes wrap.
  static std::unique_ptr<ShardLog> open(const std::string& dir, uint64_t capacity_bytes, bool sync,
                                        int* err);
  ~ShardLog();
  ShardLog(const ShardLog&) = delete;
  ShardLog& operator=(const ShardLog&) = delete;

  // Reads the records after applied, in order, until the chain ends: fn(record) for each. Sets
  // the write position after the last one. Returns 0 or an errno.
  int recover(const LogCursor& applied, const std::function<void(LogRecordPtr)>& fn);

  // Places rec as the next record (sets its position, offsets and hash) and fills *out with the
  // write to do; at most one placed record is outstanding. Returns false (nothing placed) when
  // the ring has no room until more records are applied (see trim).
  bool place(LogRecord& rec, LogWrite* out);
  // The outstanding write finished with result (bytes written, or -errno). Returns 0 when the
  // record is durable (sync mode) or written, else the errno; a failed record is forgotten
  // and the next one goes where it would have gone.
  int complete(int64_t result);
  // Records with position <= through are applied: their space may be reused.
  void trim(uint64_t through);

  uint64_t file_bytes() const;

 private:
  struct Live {
    uint64_t position;
    uint64_t offset;
  };
  ShardLog() = default;
  bool room_at(uint64_t offset, uint64_t bytes) const;

  int fd_ = -1;
  bool sync_ = true;
  uint64_t capacity_ = 0;
  uint64_t head_ = 0;      // where the next record goes
  LogCursor last_;         // the last durable record
  std::deque<Live> live_;  // records not applied yet (and the outstanding one), oldest first
  bool outstanding_ = false;
  LogCursor placed_;  // the outstanding record
  uint8_t header_[24] = {};
};

}  // namespace im::storage
