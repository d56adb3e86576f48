// log_record.cc - encoding of shard log records (layout in log_record.h).
#include "storage/log_record.h"

#include <cstring>

#include "storage/write_batch.h"

namespace im::storage {
namespace {

constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 4 + 8 + 8 + 4;

}  // namespace

std::shared_ptr<LogRecord> make_log_record(const WriteBatch& batch) {
  auto rec = std::make_shared<LogRecord>();
  BatchView v = batch.view();
  uint8_t head[kHeaderBytes];
  std::memcpy(head, &kFormat, 4);
  std::memcpy(head + 4, &v.outbox_delete_through, 8);
  std::memcpy(head + 12, &v.expire_cutoff_ms, 8);
  std::memcpy(head + 20, &v.expire_max_rows, 4);
  rec->bytes.reserve(kHeaderBytes + v.ops.size());  // appended, not zero-filled then copied
  rec->bytes.insert(rec->bytes.end(), head, head + kHeaderBytes);
  rec->bytes.insert(rec->bytes.end(), v.ops.begin(), v.ops.end());
  return rec;
}

std::optional<BatchView> LogRecord::view() const {
  uint32_t format = 0;
  if (bytes.size() < kHeaderBytes) return std::nullopt;
  std::memcpy(&format, bytes.data(), 4);
  if (format != kFormat) return std::nullopt;
  BatchView v;
  std::memcpy(&v.outbox_delete_through, bytes.data() + 4, 8);
  std::memcpy(&v.expire_cutoff_ms, bytes.data() + 12, 8);
  std::memcpy(&v.expire_max_rows, bytes.data() + 20, 4);
  v.ops = std::span<const uint8_t>(bytes).subspan(kHeaderBytes);
  return v;
}

}  // namespace im::storage
