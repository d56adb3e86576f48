// commit_logs.cc - opening and replaying the server's commit logs (see commit_logs.h).
#include "storage/commit_logs.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

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
  logs->clear();
  std::vector<uint32_t> retired;
  bool moved = false;  // a replayed piece is not in the log of its shard's owner now
  // In id order, one at a time: a shard's pieces are replayed from one thread.
  for (uint32_t id : ids) {
    const std::string dir = commit_log_dir(data_dir, id);
    int err = 0;
    auto log = CommitLog::open(dir, ring_bytes, sync, &err);
    if (!log) {
      *error = "cannot open the commit log " + dir + ": " + std::strerror(err);
      return false;
    }
    err = log->recover({}, UINT32_MAX,
                       [&](uint64_t position, uint32_t shard, std::span<const uint8_t> b) {
                         if (shard >= shards.size()) return std::optional<uint64_t>();
                         std::optional<uint64_t> seq = shards[shard]->replay(id, position, b);
                         if (seq && *seq != 0 && shard % workers != id) moved = true;
                         return seq;
                       });
    if (err) {
      *error = "cannot replay the commit log " + dir + ": " +
               (err == EBADMSG ? std::string("a record is damaged") : std::strerror(err));
      return false;
    }
    if (id < workers) {
      logs->push_back(std::move(log));
    } else {
      retired.push_back(id);
    }
  }
  // Applied before any new piece: a later start could otherwise replay a shard's pieces from
  // two logs in the wrong order.
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
