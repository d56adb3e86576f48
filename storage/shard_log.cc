// shard_log.cc - the shard log's LMDB environment: open, append + trim, replay, map growth.
#include "storage/shard_log.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "storage/keys.h"

namespace im::storage {
namespace {

constexpr size_t kMaxTrimPerAppend = 4096;  // records deleted by one append, at most
constexpr int kMaxGrowsPerAppend = 48;      // doubling: a bound, never met

uint64_t round_to_pages(uint64_t n) {
  long p = ::sysconf(_SC_PAGESIZE);
  uint64_t page = p > 0 ? uint64_t(p) : 4096;
  return std::max<uint64_t>(n, page) / page * page;
}

}  // namespace

std::unique_ptr<ShardLog> ShardLog::open(const std::string& dir, const ShardOptions& options,
                                         int* rc) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *rc = ec.value();
    return nullptr;
  }
  std::unique_ptr<ShardLog> log(new ShardLog());
  log->map_bytes_ = round_to_pages(std::min(options.map_bytes, options.max_map_bytes));
  // The log holds at most max_unapplied_bytes of records not yet applied plus applied ones not
  // yet trimmed, so it may outgrow a small max_map_bytes: "full" is the tables' condition
  // (the checkpointer reports it and the shard refuses writes), never the log's.
  log->max_map_bytes_ = std::max({log->map_bytes_, round_to_pages(options.max_map_bytes),
                                  round_to_pages(4 * options.max_unapplied_bytes)});
  if ((*rc = mdb_env_create(&log->env_))) return nullptr;
  if ((*rc = mdb_env_set_maxdbs(log->env_, 1))) return nullptr;
  if ((*rc = mdb_env_set_mapsize(log->env_, log->map_bytes_))) return nullptr;
  // Same durability rule as the tables: LMDB's default flags in sync mode, never NOMETASYNC.
  unsigned flags = MDB_NOTLS | (options.sync ? 0u : unsigned(MDB_NOSYNC));
  if ((*rc = mdb_env_open(log->env_, dir.c_str(), flags, 0600))) return nullptr;
  int dead = 0;
  mdb_reader_check(log->env_, &dead);
  MDB_envinfo info;
  if ((*rc = mdb_env_set_mapsize(log->env_, 0))) return nullptr;  // adopt the file's size
  mdb_env_info(log->env_, &info);
  log->map_bytes_ = info.me_mapsize;
  MDB_txn* txn = nullptr;
  if ((*rc = mdb_txn_begin(log->env_, nullptr, 0, &txn))) return nullptr;
  if ((*rc = mdb_dbi_open(txn, "log", MDB_CREATE, &log->dbi_))) {
    mdb_txn_abort(txn);
    return nullptr;
  }
  if ((*rc = mdb_txn_commit(txn))) return nullptr;
  return log;
}

ShardLog::~ShardLog() {
  if (env_) mdb_env_close(env_);
}

int ShardLog::append(std::span<const uint8_t> bytes, uint64_t trim_through, uint64_t* position) {
  for (int grows = 0;; ++grows) {
    int rc = try_append(bytes, trim_through, position);
    if ((rc != MDB_MAP_FULL && rc != MDB_MAP_RESIZED) || grows == kMaxGrowsPerAppend) return rc;
    if (int g = grow(rc)) return g;
  }
}

int ShardLog::try_append(std::span<const uint8_t> bytes, uint64_t trim_through,
                         uint64_t* position) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc) return rc;
  MDB_cursor* cur = nullptr;
  if ((rc = mdb_cursor_open(txn, dbi_, &cur))) {
    mdb_txn_abort(txn);
    return rc;
  }
  MDB_val k, v;
  // Trim applied records from the front, then find the last position (another process that
  // opened this shard, an admin tool, may have appended too).
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (size_t n = 0; rc == 0 && n < kMaxTrimPerAppend; ++n) {
    if (k.mv_size != 8 || keys::get_be64(static_cast<const uint8_t*>(k.mv_data)) > trim_through)
      break;
    if ((rc = mdb_cursor_del(cur, 0))) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    if (rc == EINVAL) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc == 0 || rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  uint64_t last = 0;
  if (rc == 0 && k.mv_size == 8) last = keys::get_be64(static_cast<const uint8_t*>(k.mv_data));
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return rc;
  }
  // After a trim of every record the log is empty: positions continue from trim_through.
  uint64_t pos = std::max(last, trim_through) + 1;
  auto key = keys::make(pos);
  MDB_val kv{key.bytes.size(), key.bytes.data()};
  MDB_val vv{bytes.size(), const_cast<uint8_t*>(bytes.data())};
  if ((rc = mdb_put(txn, dbi_, &kv, &vv, MDB_APPEND))) {
    mdb_txn_abort(txn);
    return rc;
  }
  if ((rc = mdb_txn_commit(txn))) return rc;
  *position = pos;
  return 0;
}

int ShardLog::grow(int rc) {
  uint64_t target = 0;  // MDB_MAP_RESIZED: adopt the size another process set
  if (rc == MDB_MAP_FULL) {
    if (map_bytes_ >= max_map_bytes_) return MDB_MAP_FULL;
    target = map_bytes_ > max_map_bytes_ / 2 ? max_map_bytes_ : map_bytes_ * 2;
  }
  // No read transaction of this process is open on the log outside append/read_after, which
  // never overlap, so the map may be resized here.
  if (int r = mdb_env_set_mapsize(env_, target)) return r;
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_bytes_ = info.me_mapsize;
  return 0;
}

int ShardLog::read_after(uint64_t after,
                         const std::function<void(uint64_t, std::span<const uint8_t>)>& fn) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc) return rc;
  MDB_cursor* cur = nullptr;
  if ((rc = mdb_cursor_open(txn, dbi_, &cur))) {
    mdb_txn_abort(txn);
    return rc;
  }
  auto start = keys::make(after == UINT64_MAX ? after : after + 1);
  MDB_val k{start.bytes.size(), start.bytes.data()}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (k.mv_size == 8) {
      uint64_t pos = keys::get_be64(static_cast<const uint8_t*>(k.mv_data));
      if (pos > after) fn(pos, {static_cast<const uint8_t*>(v.mv_data), v.mv_size});
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

uint64_t ShardLog::used_bytes() {
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &stat) != 0) return 0;
  return (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
}

}  // namespace im::storage
