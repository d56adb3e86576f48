// data_dir.h - the layout of a data directory and its manifest.
//   data/MANIFEST       "imserver-data V\nshards N\ncreated_ms T\n" (written atomically;
//                       V is the format version, data_dir.cc says what each one means)
//   data/shard-NNN/     one LMDB environment per shard (storage/shard.h)
//   data/log-NNN/       worker NNN's commit log (storage/commit_logs.h)
//   data/secret.key     32 random bytes for token signing (created by core, atomically)
// The shard count is fixed at creation; the routing functions below depend only on it, so
// changing the number of workers between restarts never moves data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace im::storage {

struct Manifest {
  uint32_t version = 2;
  uint32_t shards = 16;
  int64_t created_ms = 0;
};

// Opens data_dir, creating it and its manifest with `shards_if_new` shards when absent.
// Returns false and sets *error on a bad or unreadable manifest.
bool open_data_dir(const std::string& data_dir, uint32_t shards_if_new, Manifest* out,
                   std::string* error);

// Once every shard has opened (and converted what an older version left), records that the dir
// is in the current format. No-op when it already is.
bool mark_data_dir_current(const std::string& data_dir, Manifest* m, std::string* error);

std::string shard_dir(const std::string& data_dir, uint32_t shard);

// Writes a file atomically: temp name, fsync, rename, fsync of the directory.
bool write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, std::string* error);
bool read_file(const std::string& path, std::string* out);

// Routing. A uid embeds its shard: uid = counter * shards + shard (counter >= 1).
inline uint32_t shard_of_uid(uint64_t uid, uint32_t shards) {
  return static_cast<uint32_t>(uid % shards);
}
uint32_t shard_of_username(std::string_view username, uint32_t shards);  // xxh64 % shards

}  // namespace im::storage
