// commit_log.cc - the commit log's ring file: open, placement of records in the ring, the
// persisted tail, and recovery along the hash chain (format in commit_log.h).
#include "storage/commit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "storage/storage_assert.h"

namespace im::storage {
namespace {

constexpr uint32_t kMagic = 0x574c4d49;        // "IMLW": sections of one or more shards
constexpr uint32_t kLegacyMagic = 0x474c4d49;  // "IMLG": one shard's batch (earlier builds)
constexpr size_t kHeaderBytes = 24;
constexpr size_t kHashedHeaderBytes = 16;         // magic, length, position
constexpr size_t kSectionHeaderBytes = 8;         // shard, bytes
constexpr uint64_t kMaxRecordBytes = 1ull << 32;  // a length above this is damage
const uint8_t kZeros[8] = {};
// The tail file: two slots of [u32 magic][u32 0][u64 position][u64 end offset][u64 hash]
// [u64 XXH3 of the 32 bytes before], one per 512-byte sector.
constexpr uint32_t kTailMagic = 0x544c4d49;  // "IMLT"
constexpr size_t kTailSlotBytes = 40;
constexpr uint64_t kTailSlotStride = 512;

uint64_t padded(uint64_t payload_bytes) {
  return (kHeaderBytes + payload_bytes + 7) / 8 * 8;
}

int pread_all(int fd, uint8_t* buf, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, off_t(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return EIO;
    buf += r;
    n -= size_t(r);
    offset += uint64_t(r);
  }
  return 0;
}

int fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

int open_file(const std::string& path, bool* created) {
  *created = ::access(path.c_str(), F_OK) != 0;
  return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

}  // namespace

std::unique_ptr<CommitLog> CommitLog::open(const std::string& dir, uint64_t capacity_bytes,
                                           bool sync, int* err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *err = ec.value();
    return nullptr;
  }
  // The log of earlier builds was an LMDB environment here; a clean stop applied all of it.
  std::filesystem::remove(dir + "/data.mdb", ec);
  std::filesystem::remove(dir + "/lock.mdb", ec);
  std::unique_ptr<CommitLog> log(new CommitLog());
  bool ring_created = false, tail_created = false;
  log->fd_ = open_file(dir + "/ring", &ring_created);
  log->tail_fd_ = log->fd_ < 0 ? -1 : open_file(dir + "/tail", &tail_created);
  if (log->fd_ < 0 || log->tail_fd_ < 0) {
    *err = errno;
    return nullptr;
  }
  log->sync_ = sync;
  log->capacity_ = std::max<uint64_t>(capacity_bytes, 1 << 20);
  if ((ring_created || tail_created) && sync) {
    if (int rc = fsync_dir(dir)) {
      *err = rc;
      return nullptr;
    }
  }
  return log;
}

CommitLog::~CommitLog() {
  if (fd_ >= 0) ::close(fd_);
  if (tail_fd_ >= 0) ::close(tail_fd_);
}

std::optional<LogCursor> CommitLog::read_tail(uint32_t* newest_slot) const {
  std::optional<LogCursor> best;
  for (uint32_t slot = 0; slot < 2; ++slot) {
    uint8_t b[kTailSlotBytes];
    if (pread_all(tail_fd_, b, sizeof(b), slot * kTailSlotStride)) continue;
    uint32_t magic;
    uint64_t check;
    LogCursor c;
    std::memcpy(&magic, b, 4);
    std::memcpy(&c.position, b + 8, 8);
    std::memcpy(&c.end_offset, b + 16, 8);
    std::memcpy(&c.hash, b + 24, 8);
    std::memcpy(&check, b + 32, 8);
    if (magic != kTailMagic || XXH3_64bits(b, 32) != check) continue;
    if (!best || c.position > best->position) {
      best = c;
      *newest_slot = slot;
    }
  }
  return best;
}

// Writes the cursor of the last applied record to the slot not holding the newest tail, syncs
// it, and forgets the records it covers (their space may be reused from now on).
int CommitLog::persist_tail() {
  if (applied_count_ == 0) return 0;
  const LogCursor& c = live_[applied_count_ - 1].at;
  uint8_t b[kTailSlotBytes] = {};
  std::memcpy(b, &kTailMagic, 4);
  std::memcpy(b + 8, &c.position, 8);
  std::memcpy(b + 16, &c.end_offset, 8);
  std::memcpy(b + 24, &c.hash, 8);
  uint64_t check = XXH3_64bits(b, 32);
  std::memcpy(b + 32, &check, 8);
  ssize_t n;
  do {
    n = ::pwrite(tail_fd_, b, sizeof(b), off_t(tail_slot_ * kTailSlotStride));
  } while (n < 0 && errno == EINTR);
  if (n != ssize_t(sizeof(b))) return n < 0 ? errno : EIO;
  if (sync_ && ::fdatasync(tail_fd_) != 0) return errno;
  tail_slot_ ^= 1;
  live_.erase(live_.begin(), live_.begin() + ptrdiff_t(applied_count_));
  applied_count_ = 0;
  applied_bytes_ = 0;
  return 0;
}

int CommitLog::recover(const LogCursor& fallback, uint32_t legacy_shard, const RecoverFn& fn) {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return errno;
  const uint64_t file_bytes = uint64_t(st.st_size);
  uint32_t newest_slot = 1;
  last_ = read_tail(&newest_slot).value_or(fallback);
  tail_slot_ = newest_slot ^ 1;
  head_ = last_.end_offset;
  live_.clear();
  applied_count_ = 0;
  applied_bytes_ = 0;
  std::vector<uint8_t> payload;
  uint32_t magic = 0;
  // The record after last_ at offset (its payload read into payload), or false if the chain
  // does not continue there.
  auto read_at = [&](uint64_t offset, Live* out) {
    uint8_t h[kHeaderBytes];
    if (offset + kHeaderBytes > file_bytes || pread_all(fd_, h, kHeaderBytes, offset)) return false;
    uint32_t length;
    uint64_t position, hash;
    std::memcpy(&magic, h, 4);
    std::memcpy(&length, h + 4, 4);
    std::memcpy(&position, h + 8, 8);
    std::memcpy(&hash, h + 16, 8);
    if ((magic != kMagic && magic != kLegacyMagic) || position != last_.position + 1 ||
        length >= kMaxRecordBytes || offset + kHeaderBytes + length > file_bytes) {
      return false;
    }
    payload.resize(length);
    if (pread_all(fd_, payload.data(), length, offset + kHeaderBytes)) return false;
    XXH3_state_t state;
    XXH3_64bits_reset_withSeed(&state, last_.hash);
    XXH3_64bits_update(&state, h, kHashedHeaderBytes);
    XXH3_64bits_update(&state, payload.data(), payload.size());
    if (XXH3_64bits_digest(&state) != hash) return false;
    *out = Live{{position, offset + padded(length), hash}, offset, {}};
    return true;
  };
  auto hand_over = [&](Live& rec, uint32_t shard, std::span<const uint8_t> bytes) {
    std::optional<uint64_t> seq = fn(rec.at.position, shard, bytes);
    if (!seq) return false;
    if (*seq != 0) rec.pieces.emplace_back(shard, *seq);
    return true;
  };
  for (;;) {
    Live rec;
    if (!read_at(head_, &rec) && (head_ == 0 || !read_at(0, &rec))) break;  // 0: it wrapped
    std::span<const uint8_t> rest(payload);
    if (magic == kLegacyMagic) {
      if (!hand_over(rec, legacy_shard, rest)) return EBADMSG;
    } else {
      while (!rest.empty()) {
        uint32_t shard, bytes;
        if (rest.size() < kSectionHeaderBytes) return EBADMSG;
        std::memcpy(&shard, rest.data(), 4);
        std::memcpy(&bytes, rest.data() + 4, 4);
        rest = rest.subspan(kSectionHeaderBytes);
        if (rest.size() < bytes || !hand_over(rec, shard, rest.first(bytes))) return EBADMSG;
        rest = rest.subspan(bytes);
      }
    }
    last_ = rec.at;
    head_ = rec.at.end_offset;
    live_.push_back(std::move(rec));
  }
  return 0;
}

bool CommitLog::room_at(uint64_t offset, uint64_t bytes) const {
  if (live_.empty()) return true;
  const uint64_t tail = live_.front().offset;
  if (offset == head_) {
    if (tail < head_) return head_ + bytes <= capacity_;  // up to the end of the ring
    return tail > head_ && head_ + bytes <= tail;         // up to the oldest live record
  }
  return tail < head_ && bytes <= tail;  // offset 0: wrapped, before the oldest live record
}

bool CommitLog::find_room(uint64_t bytes, uint64_t* offset) const {
  if (room_at(head_, bytes) && (!live_.empty() || head_ + bytes <= capacity_)) {
    *offset = head_;
    return true;
  }
  if (room_at(0, bytes)) {
    *offset = 0;  // an empty ring takes a record of any size at its start (the file grows)
    return true;
  }
  return false;
}

CommitLog::Place CommitLog::place(std::span<const LogPiece> pieces, LogWrite* out) {
  IM_ASSERT(!outstanding_ && !pieces.empty());
  if (failed_errno_) return Place::Failed;
  uint64_t length = 0;
  for (const LogPiece& p : pieces) length += kSectionHeaderBytes + p.bytes.size();
  IM_ASSERT(length < kMaxRecordBytes);
  const uint64_t bytes = padded(length);
  uint64_t offset;
  if (!find_room(bytes, &offset)) {
    if (applied_count_ == 0) return Place::NoRoom;
    if (int err = persist_tail()) {
      failed_errno_ = err;
      return Place::Failed;
    }
    if (!find_room(bytes, &offset)) return Place::NoRoom;
  }
  const uint64_t position = last_.position + 1;
  const uint32_t length32 = uint32_t(length);
  std::memcpy(header_, &kMagic, 4);
  std::memcpy(header_ + 4, &length32, 4);
  std::memcpy(header_ + 8, &position, 8);
  section_headers_.resize(kSectionHeaderBytes * pieces.size());
  XXH3_state_t state;
  XXH3_64bits_reset_withSeed(&state, last_.hash);
  XXH3_64bits_update(&state, header_, kHashedHeaderBytes);
  out->iov.clear();
  out->iov.push_back({header_, kHeaderBytes});
  Live rec{{position, offset + bytes, 0}, offset, {}};
  for (size_t i = 0; i < pieces.size(); ++i) {
    const LogPiece& p = pieces[i];
    uint8_t* sh = section_headers_.data() + i * kSectionHeaderBytes;
    const uint32_t piece_bytes = uint32_t(p.bytes.size());
    std::memcpy(sh, &p.shard, 4);
    std::memcpy(sh + 4, &piece_bytes, 4);
    XXH3_64bits_update(&state, sh, kSectionHeaderBytes);
    XXH3_64bits_update(&state, p.bytes.data(), p.bytes.size());
    out->iov.push_back({sh, kSectionHeaderBytes});
    if (!p.bytes.empty())
      out->iov.push_back({const_cast<uint8_t*>(p.bytes.data()), p.bytes.size()});
    rec.pieces.emplace_back(p.shard, p.seq);
  }
  rec.at.hash = XXH3_64bits_digest(&state);
  std::memcpy(header_ + kHashedHeaderBytes, &rec.at.hash, 8);
  const uint64_t padding = bytes - kHeaderBytes - length;
  if (padding > 0) out->iov.push_back({const_cast<uint8_t*>(kZeros), padding});
  live_.push_back(std::move(rec));
  outstanding_ = true;

  out->fd = fd_;
  out->offset = offset;
  out->rw_flags = sync_ ? RWF_DSYNC : 0;
  out->bytes = bytes;
  out->position = position;
  return Place::Ok;
}

int CommitLog::complete(int64_t result) {
  IM_ASSERT(outstanding_);
  outstanding_ = false;
  const Live& rec = live_.back();
  if (result >= 0 && uint64_t(result) == rec.at.end_offset - rec.offset) {
    last_ = rec.at;
    head_ = rec.at.end_offset;
    return 0;
  }
  live_.pop_back();
  const int err = result < 0 ? int(-result) : ENOSPC;  // a short write to a file: out of space
  // Out of space leaves the log as it was; after any other error a sync may have lost pages.
  if (err != ENOSPC && err != EDQUOT) failed_errno_ = err;
  return err;
}

void CommitLog::trim(const std::function<uint64_t(uint32_t shard)>& applied_through) {
  const size_t settled = live_.size() - (outstanding_ ? 1 : 0);
  while (applied_count_ < settled) {
    const Live& rec = live_[applied_count_];
    bool applied = std::all_of(rec.pieces.begin(), rec.pieces.end(), [&](const auto& piece) {
      return applied_through(piece.first) >= piece.second;
    });
    if (!applied) break;
    applied_bytes_ += rec.at.end_offset - rec.offset;
    ++applied_count_;
  }
  // Keeps what a restart has to read short, long before the space is needed.
  if (applied_bytes_ >= capacity_ / 4 && !failed_errno_) {
    if (int err = persist_tail()) failed_errno_ = err;
  }
}

uint64_t CommitLog::file_bytes() const {
  struct stat st;
  return ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
}

}  // namespace im::storage
