// commit_log.h - the durable truth of recent writes: a ring file (DIR/ring) holding one record
// per group commit, each carrying the committed batches of one or more shards, at increasing
// positions, written sequentially and wrapping to the start once the records there are
// applied to the shards' keyed tables. The server keeps one per worker (data/log-NN), shared by
// every shard the worker owns, so a loop turn costs one write and one sync however many
// shards it touched; a Shard opened on its own keeps a private one (shard dir/log).
//
// Why a log: a group commit into the keyed tables dirties one page per touched key, and
// fsyncing those pages is what bounded sync throughput. A log append is one sequential write;
// the keyed tables are brought up to date later, in large batches, by each shard's
// checkpointer (storage/checkpointer.h). Why a plain file: the owner worker submits the write
// itself through its io_uring (one writev with RWF_DSYNC), so no thread waits on an fsync and
// no wake-up crosses threads per commit.
//
// On disk, each record is [u32 magic][u32 payload bytes][u64 position][u64 chain hash]
// [payload][zero padding to 8 bytes]; the payload is a sequence of sections
// [u32 shard][u32 bytes][the shard's batch (storage/log_record.h)]. (Records of the per-shard
// log of earlier builds have another magic and a bare batch as payload.) The chain hash is
// XXH3 of the header fields and the payload, seeded with the previous record's chain hash, so
// a record is accepted at recovery only as the successor of the record before it: stale
// records of earlier laps, torn writes and records of an earlier life of the process that were
// never acknowledged all fail the check.
//
// Where recovery starts: DIR/tail holds the last record every shard had applied when it was
// written (two checksummed slots, written alternately, so a torn write leaves the other). The
// writer never overwrites a record after the persisted tail: when it needs the space it
// persists a newer tail first (and every quarter ring anyway, so a restart reads little).
// Shards skip the pieces their tables already hold (Shard::replay). Torn writes: a rewrite of a
// partly used last page writes the same bytes again for the part already acknowledged; like
// other write-ahead logs (LevelDB, RocksDB) we rely on the device writing a sector atomically.
//
// Threads: one owner thread (place/complete/trim); recover at open before any write.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace im::storage {

// A record's place in the ring: its position, the offset after it and its chain hash (all
// zero before the first record).
struct LogCursor {
  uint64_t position = 0;
  uint64_t end_offset = 0;
  uint64_t hash = 0;
};

// One shard's part of a record: its batch bytes and the shard-local sequence number the shard
// gives the batch (Shard::begin_commit), by which it reports what it has applied.
struct LogPiece {
  uint32_t shard = 0;
  uint64_t seq = 0;
  std::span<const uint8_t> bytes;
};

// One record's write: a writev of iov at offset, with RWF_DSYNC in sync mode. The iovecs point
// into the CommitLog and the pieces, which stay alive until complete().
struct LogWrite {
  int fd = -1;
  std::vector<iovec> iov;
  uint64_t offset = 0;
  int rw_flags = 0;
  uint64_t bytes = 0;
  uint64_t position = 0;  // the record's position
};

class CommitLog {
 public:
  enum class Place : uint8_t { Ok, NoRoom, Failed };

  // Opens (creating if missing) the ring file in dir. nullptr and *err (errno) on failure.
  // capacity_bytes: the size the file grows to before writes wrap (at least 1 MiB).
  static std::unique_ptr<CommitLog> open(const std::string& dir, uint64_t capacity_bytes, bool sync,
                                         int* err);
  ~CommitLog();
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // What recovery hands over: one section of a record. Returns the shard-local seq the shard
  // gave it, 0 when the shard already had it applied, nullopt when it is unusable (damage).
  using RecoverFn = std::function<std::optional<uint64_t>(uint64_t position, uint32_t shard,
                                                          std::span<const uint8_t> payload)>;
  // Reads the records after the persisted tail (or after `fallback` when no tail was ever
  // written: the start cursor the per-shard log of earlier builds kept in the shard's meta
  // table), in order, until the chain ends, and hands each section to fn; a record of the
  // earlier builds' format is one section of legacy_shard. Sets the write position after the
  // last record. Returns 0, an errno, or EBADMSG when fn refused a section.
  int recover(const LogCursor& fallback, uint32_t legacy_shard, const RecoverFn& fn);

  // Places one record holding pieces (in order, at least one) and fills *out with the write
  // to do; at most one placed record is outstanding. NoRoom: nothing placed, the ring is full
  // of records not applied yet (retry after a checkpoint). Failed: an earlier write or sync
  // failed (failed_errno()); nothing more is written.
  Place place(std::span<const LogPiece> pieces, LogWrite* out);
  // The outstanding write finished with result (bytes written, or -errno). Returns 0 when the
  // record is durable (sync mode) or written, else the errno; a record refused for space is
  // forgotten and the next one goes where it would have gone; any other error fails the log.
  int complete(int64_t result);
  // Learns which records are applied: applied_through(shard) is the highest seq that shard
  // has applied. Their space may be reused once the tail says so.
  void trim(const std::function<uint64_t(uint32_t shard)>& applied_through);
  int failed_errno() const { return failed_errno_; }

  uint64_t file_bytes() const;

 private:
  struct Live {
    LogCursor at;  // position, end offset, hash
    uint64_t offset;
    std::vector<std::pair<uint32_t, uint64_t>> pieces;  // (shard, seq) not applied at placing
  };
  CommitLog() = default;
  bool room_at(uint64_t offset, uint64_t bytes) const;
  bool find_room(uint64_t bytes, uint64_t* offset) const;
  int persist_tail();
  std::optional<LogCursor> read_tail(uint32_t* newest_slot) const;

  int fd_ = -1;
  int tail_fd_ = -1;
  bool sync_ = true;
  uint64_t capacity_ = 0;
  uint64_t head_ = 0;           // where the next record goes
  LogCursor last_;              // the last durable record
  std::deque<Live> live_;       // records after the persisted tail (and the outstanding one)
  size_t applied_count_ = 0;    // how many of live_'s oldest are applied by every shard
  uint64_t applied_bytes_ = 0;  // their bytes in the ring
  uint32_t tail_slot_ = 0;      // the slot the next tail write goes to
  bool outstanding_ = false;
  int failed_errno_ = 0;
  uint8_t header_[24] = {};
  std::vector<uint8_t> section_headers_;
};

}  // namespace im::storage
