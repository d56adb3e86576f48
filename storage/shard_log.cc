// shard_log.cc - the shard log's ring file: open, placement of records in the ring, and
// recovery along the hash chain (format in shard_log.h).
#include "storage/shard_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "storage/storage_assert.h"

namespace im::storage {
namespace {

constexpr uint32_t kMagic = 0x474c4d49;  // "IMLG"
constexpr size_t kHeaderBytes = 24;
constexpr size_t kHashedHeaderBytes = 16;         // magic, length, position
constexpr uint64_t kMaxRecordBytes = 1ull << 32;  // a length above this is damage
const uint8_t kZeros[8] = {};

uint64_t padded(uint64_t payload_bytes) {
  return (kHeaderBytes + payload_bytes + 7) / 8 * 8;
}

void encode_header(uint8_t* out, uint32_t length, uint64_t position) {
  std::memcpy(out, &kMagic, 4);
  std::memcpy(out + 4, &length, 4);
  std::memcpy(out + 8, &position, 8);
}

uint64_t chain_hash(const uint8_t* header, std::span<const uint8_t> payload, uint64_t seed) {
  XXH3_state_t state;
  XXH3_64bits_reset_withSeed(&state, seed);
  XXH3_64bits_update(&state, header, kHashedHeaderBytes);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
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

}  // namespace

std::unique_ptr<ShardLog> ShardLog::open(const std::string& dir, uint64_t capacity_bytes, bool sync,
                                         int* err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *err = ec.value();
    return nullptr;
  }
  // The log of earlier builds was an LMDB environment here; a clean stop applied all of it.
  std::filesystem::remove(dir + "/data.mdb", ec);
  std::filesystem::remove(dir + "/lock.mdb", ec);
  const std::string path = dir + "/ring";
  bool existed = ::access(path.c_str(), F_OK) == 0;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = errno;
    return nullptr;
  }
  std::unique_ptr<ShardLog> log(new ShardLog());
  log->fd_ = fd;
  log->sync_ = sync;
  log->capacity_ = std::max<uint64_t>(capacity_bytes, 1 << 20);
  if (!existed && sync) {
    if (int rc = fsync_dir(dir)) {
      *err = rc;
      return nullptr;
    }
  }
  return log;
}

ShardLog::~ShardLog() {
  if (fd_ >= 0) ::close(fd_);
}

int ShardLog::recover(const LogCursor& applied, const std::function<void(LogRecordPtr)>& fn) {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return errno;
  const uint64_t file_bytes = uint64_t(st.st_size);
  last_ = applied;
  head_ = applied.end_offset;
  live_.clear();
  std::vector<uint8_t> payload;
  // The record after last_ at offset, or nullptr if the chain does not continue there.
  auto read_at = [&](uint64_t offset) -> std::shared_ptr<LogRecord> {
    uint8_t h[kHeaderBytes];
    if (offset + kHeaderBytes > file_bytes || pread_all(fd_, h, kHeaderBytes, offset)) return {};
    uint32_t magic, length;
    uint64_t position, hash;
    std::memcpy(&magic, h, 4);
    std::memcpy(&length, h + 4, 4);
    std::memcpy(&position, h + 8, 8);
    std::memcpy(&hash, h + 16, 8);
    if (magic != kMagic || position != last_.position + 1 || length >= kMaxRecordBytes ||
        offset + kHeaderBytes + length > file_bytes) {
      return {};
    }
    payload.resize(length);
    if (pread_all(fd_, payload.data(), length, offset + kHeaderBytes)) return {};
    if (chain_hash(h, payload, last_.hash) != hash) return {};
    auto rec = std::make_shared<LogRecord>();
    rec->position = position;
    rec->offset = offset;
    rec->end_offset = offset + padded(length);
    rec->hash = hash;
    rec->bytes = std::move(payload);
    payload = {};
    return rec;
  };
  for (;;) {
    auto rec = read_at(head_);
    if (!rec && head_ != 0) rec = read_at(0);  // the writer wrapped
    if (!rec) break;
    live_.push_back({rec->position, rec->offset});
    last_ = {rec->position, rec->end_offset, rec->hash};
    head_ = rec->end_offset;
    fn(std::move(rec));
  }
  return 0;
}

bool ShardLog::room_at(uint64_t offset, uint64_t bytes) const {
  if (live_.empty()) return true;
  const uint64_t tail = live_.front().offset;
  if (offset == head_) {
    if (tail < head_) return head_ + bytes <= capacity_;  // up to the end of the ring
    return tail > head_ && head_ + bytes <= tail;         // up to the oldest live record
  }
  return tail < head_ && bytes <= tail;  // offset 0: wrapped, before the oldest live record
}

bool ShardLog::place(LogRecord& rec, LogWrite* out) {
  IM_ASSERT(!outstanding_);
  const uint64_t bytes = padded(rec.bytes.size());
  uint64_t offset;
  if (room_at(head_, bytes) && (!live_.empty() || head_ + bytes <= capacity_)) {
    offset = head_;
  } else if (room_at(0, bytes)) {
    offset = 0;  // an empty ring takes a record of any size at its start (the file grows)
  } else {
    return false;
  }
  encode_header(header_, uint32_t(rec.bytes.size()), last_.position + 1);
  rec.position = last_.position + 1;
  rec.offset = offset;
  rec.end_offset = offset + bytes;
  rec.hash = chain_hash(header_, rec.bytes, last_.hash);
  std::memcpy(header_ + kHashedHeaderBytes, &rec.hash, 8);
  placed_ = {rec.position, rec.end_offset, rec.hash};
  live_.push_back({rec.position, offset});
  outstanding_ = true;

  out->fd = fd_;
  out->iov[0] = {header_, kHeaderBytes};
  out->iov[1] = {rec.bytes.data(), rec.bytes.size()};
  out->iov[2] = {const_cast<uint8_t*>(kZeros), bytes - kHeaderBytes - rec.bytes.size()};
  out->iov_count = out->iov[2].iov_len > 0 ? 3 : 2;
  out->offset = offset;
  out->rw_flags = sync_ ? RWF_DSYNC : 0;
  out->bytes = bytes;
  return true;
}

int ShardLog::complete(int64_t result) {
  IM_ASSERT(outstanding_);
  outstanding_ = false;
  const uint64_t want = placed_.end_offset - live_.back().offset;
  if (result >= 0 && uint64_t(result) == want) {
    last_ = placed_;
    head_ = placed_.end_offset;
    return 0;
  }
  live_.pop_back();
  return result < 0 ? int(-result) : ENOSPC;  // a short write to a file: out of space
}

void ShardLog::trim(uint64_t through) {
  // The outstanding record is never applied yet: its position is above any through.
  while (!live_.empty() && live_.front().position <= through) live_.pop_front();
}

uint64_t ShardLog::file_bytes() const {
  struct stat st;
  return ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
}

}  // namespace im::storage
