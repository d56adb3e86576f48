// commit_logs.cc - opening and replaying the server's commit logs (see commit_logs.h).
#include "storage/commit_logs.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

namespace im::storage {

std::string commit_log_dir(const std::string& data_dir, uint32_t log_id) {
  char name[32];
  std::snprintf(name, sizeof(name), "/log-%03u", log_id);
  return data_dir + name;
}

namespace {

// The ids of the log directories in data_dir (log-NNN).
std::vector<uint32_t> existing_logs(const std::string& data_dir) {
  std::vector<uint32_t> ids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    unsigned id = 0;
    int used = 0;
    if (std::sscanf(name.c_str(), "log-%3u%n", &id, &used) == 1 && size_t(used) == name.size() &&
        name.size() == 7) {
      ids.push_back(id);
    }
  }
  return ids;
}

}  // namespace

bool open_commit_logs(const std::string& data_dir, uint32_t workers,
                      std::span<const std::unique_ptr<Shard>> shards, uint64_t ring_bytes,
                      bool sync, std::vector<std::unique_ptr<CommitLog>>* logs,
                      std::string* error) {
  std::vector<uint32_t> ids = existing_logs(data_dir);
  for (uint32_t w = 0; w < workers; ++w) ids.push_back(w);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::unique_ptr<CommitLog>> opened;
  for (uint32_t id : ids) {
    int err = 0;
    opened.push_back(CommitLog::open(commit_log_dir(data_dir, id), ring_bytes, sync, &err));
    if (!opened.back()) {
      *error =
          "cannot open the commit log " + commit_log_dir(data_dir, id) + ": " + std::strerror(err);
      return false;
    }
  }
  // Replays the pieces of log i that belong to owned_pass (the shard's owner is the log's
  // worker) or not; the others count as not there. Returns 0 or an errno.
  std::atomic<bool> moved{false};  // a piece was replayed from a log other than its owner's
  auto replay = [&](size_t i, bool owned_pass) {
    const uint32_t id = ids[i];
    return opened[i]->recover(
        {}, UINT32_MAX, [&](uint64_t position, uint32_t shard, std::span<const uint8_t> b) {
          if (shard >= shards.size()) return std::optional<uint64_t>();
          const bool owned = id < workers && shard % workers == id;
          if (owned != owned_pass) return std::optional<uint64_t>(0);
          std::optional<uint64_t> seq = shards[shard]->replay(id, position, b);
          if (!owned && seq && *seq != 0) moved = true;
          return seq;
        });
  };
  std::vector<int> errs(ids.size(), 0);
  // First, one log at a time in id order, the pieces a run with another worker count left
  // outside their shard's owner's log: older than anything of that shard in its owner's log.
  for (size_t i = 0; i < ids.size(); ++i) errs[i] = replay(i, false);
  // Then each log's own shards, one thread per log (each shard is replayed by one thread).
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < workers && errs[i] == 0)
      threads.emplace_back([&, i] { errs[i] = replay(i, true); });
  }
  for (auto& t : threads) t.join();
  std::vector<uint32_t> retired;
  logs->clear();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (errs[i]) {
      *error = "cannot replay the commit log " + commit_log_dir(data_dir, ids[i]) + ": " +
               (errs[i] == EBADMSG ? std::string("a record is damaged") : std::strerror(errs[i]));
      return false;
    }
    if (ids[i] < workers) {
      logs->push_back(std::move(opened[i]));
    } else {
      retired.push_back(ids[i]);
    }
  }
  // Applied before any new piece: those pieces are not in their owner's log (which the second
  // pass rebuilt without them), and a later start could replay a shard's pieces from two logs
  // in the wrong order.
  if (!moved && retired.empty()) return true;
  for (const auto& shard : shards) {
    CommitStatus applied = shard->checkpoint();
    if (applied != CommitStatus::Ok) {
      *error = "cannot apply the commit logs of an earlier worker count to shard " +
               std::to_string(shard->index()) + ": " + commit_status_name(applied);
      return false;
    }
  }
  for (uint32_t id : retired) {
    std::error_code ec;
    std::filesystem::remove_all(commit_log_dir(data_dir, id), ec);
  }
  return true;
}

}  // namespace im::storage
