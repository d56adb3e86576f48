// commit_logs.h - the server's commit logs: one per worker (data/log-NNN/, storage/commit_log.h),
// shared by the shards the worker owns. Opening them replays into each shard what its tables
// do not hold yet. A log no worker writes any more (the server now runs fewer workers) is
// replayed, applied to the tables and removed; pieces found in a log other than their shard's
// owner's (the worker count changed) are applied before the server starts. So every shard's
// unapplied pieces are always in the log of the worker that owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/commit_log.h"
#include "storage/shard.h"

namespace im::storage {

std::string commit_log_dir(const std::string& data_dir, uint32_t log_id);

// Opens logs 0..workers-1 into *logs (logs[w] for worker w) and replays them, and every other
// log in data_dir, into shards (indexed by shard number): first, log by log, the pieces found
// outside their shard's owner's log; then every log's own shards, one thread per log.
// ring_bytes: each log's ring size. False and *error on failure.
bool open_commit_logs(const std::string& data_dir, uint32_t workers,
                      std::span<const std::unique_ptr<Shard>> shards, uint64_t ring_bytes,
                      bool sync, std::vector<std::unique_ptr<CommitLog>>* logs, std::string* error);

}  // namespace im::storage
