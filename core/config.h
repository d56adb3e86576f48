// config.h - every setting and bound of imserver, with its unit in its name and its
// default. Filled from defaults, then the TOML file (--config), then command-line flags
// (flags win). This is the one place bounds live; code checks them where data enters.
#pragma once

#include <cstdint>
#include <string>

namespace im::core {

enum class Durability : uint8_t { Sync, NoSync };
enum class LogLevel : uint8_t { Debug, Info, Warn, Error };

struct Config {
  // network
  std::string bind = "127.0.0.1";
  uint16_t port = 7700;
  uint16_t http_port = 7780;  // reserved: the HTTP/WebSocket bridge (later issue)
  // process
  uint32_t workers = 0;  // 0 = one per CPU
  bool pin_workers = true;
  // storage
  std::string data_dir = "./data";
  uint32_t shards = 16;  // only used when the data dir is created
  Durability durability = Durability::Sync;
  uint64_t map_bytes = 1ull << 30;       // initial LMDB map per shard
  uint64_t max_map_bytes = 64ull << 30;  // LMDB map grows up to this per shard
  // protocol bounds
  uint32_t max_frame_bytes = 64 * 1024;
  uint32_t max_text_bytes = 16 * 1024;
  uint32_t max_page_entries = 200;  // sync / history / conversation list pages
  uint32_t default_page_entries = 50;
  // sessions
  uint32_t idle_timeout_ms = 60000;        // no frame for this long closes the connection
  uint32_t max_outbound_bytes = 4u << 20;  // per-connection write backlog cap
  uint32_t max_unacked_entries = 2048;     // pushed but not yet acked, per device
  uint32_t max_unacked_bytes = 1u << 20;   // bytes of pushes not yet acked, per device
  uint32_t ack_timeout_ms = 30000;         // unacked pushes with no ack progress: disconnect
  uint32_t max_connections = 19000;        // per process
  uint32_t max_group_members = 2000;       // current members of one group
  uint64_t token_ttl_ms = 7ull * 24 * 3600 * 1000;
  uint64_t dedup_window_ms = 24ull * 3600 * 1000;
  // passwords: scrypt cost N of new hashes (a power of two; r = 8, p = 1). Lower than the
  // default only for benchmarks and tests (docs/security.md).
  uint32_t password_scrypt_n = 16384;
  // internal queues
  uint32_t cross_worker_queue_entries = 65536;
  uint32_t kdf_queue_entries = 1024;
  uint32_t max_batch_ops = 65536;  // per shard per commit
  // A shard's checkpointer applies its log pieces to the tables once the oldest is this old
  // (or 4 MiB are queued): longer writes fewer bytes with many active inboxes, shorter keeps
  // each apply's sync small (docs/operations.md).
  uint32_t checkpoint_interval_ms = 100;
  // logging
  LogLevel log_level = LogLevel::Info;
};

// Parses argv (and the TOML file named by --config). On --help prints usage and sets
// *exit_code = 0; on an error prints it to stderr and sets *exit_code = 2. Returns false
// when the caller should exit with *exit_code.
bool parse_config(int argc, char** argv, Config* out, int* exit_code);

}  // namespace im::core
