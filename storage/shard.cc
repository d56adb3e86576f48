// shard.cc - one shard's LMDB environment: open, group commit, map growth, fault states.
// Threads: commit() runs on the shard's writer thread (one at a time); reads (shard_reads.cc)
// run on the owner worker. Invariant: mdb_env_set_mapsize runs only while no transaction of
// this process is active - reads hold resize_mutex shared for the life of their transaction,
// the writer takes it exclusively to remap, between its own transactions.
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>

#include "storage/record_codec.h"
#include "storage/shard.h"
#include "storage/shard_impl.h"

namespace im::storage {
namespace {

using detail::Bytes;
using detail::Cursor;
using detail::ExpireResume;
using detail::kExpireTableCount;
using detail::kExpireTables;
using detail::to_bytes;
using detail::to_val;

// Indexed by Table. A table missing from an older data dir is created on open (open_tables).
constexpr const char* kTableNames[kTableCount] = {
    "users",  "users_by_name", "devices", "inbox",   "convs",       "conv_index", "dedup",
    "rdedup", "meta",          "groups",  "members", "user_groups", "group_log",  "group_dedup", "outbox",
};
constexpr bool every_table_named() {
  for (const char* name : kTableNames) {
    if (name == nullptr) return false;
  }
  return true;
}
static_assert(every_table_named(), "kTableNames must name every Table");
constexpr unsigned kMaxReaders = 256;      // reader slots: owner worker + tools, with headroom
constexpr int kMaxGrowsPerCommit = 8;      // a batch may need up to 2^8 times the map it met
constexpr uint64_t kExpireScanFactor = 4;  // expiry visits at most max_rows * 4 rows per table

uint64_t page_bytes() {
  long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<uint64_t>(p) : 4096;
}

uint64_t round_up(uint64_t n, uint64_t to) {
  return (n + to - 1) / to * to;
}

}  // namespace

const char* commit_status_name(CommitStatus s) {
  switch (s) {
    case CommitStatus::Ok:
      return "Ok";
    case CommitStatus::MapFull:
      return "MapFull";
    case CommitStatus::DiskFull:
      return "DiskFull";
    case CommitStatus::IoError:
      return "IoError";
  }
  return "Unknown";
}

int Shard::Impl::open_env(const std::string& dir, const ShardOptions& options) {
  const uint64_t page = page_bytes();
  const uint64_t initial = round_up(std::max<uint64_t>(options.map_bytes, page), page);
  max_map_bytes = std::max(initial, options.max_map_bytes / page * page);
  int rc = mdb_env_create(&env);
  if (rc) return rc;
  if ((rc = mdb_env_set_maxdbs(env, kTableCount))) return rc;
  if ((rc = mdb_env_set_maxreaders(env, kMaxReaders))) return rc;
  if ((rc = mdb_env_set_mapsize(env, initial))) return rc;
  // MDB_NOTLS: reads run on the owner worker, writes on the writer thread, and a reset read
  // transaction is reused. sync keeps LMDB's default (durable) flags; never MDB_NOMETASYNC.
  unsigned flags = MDB_NOTLS | (options.sync ? 0u : static_cast<unsigned>(MDB_NOSYNC));
  if ((rc = mdb_env_open(env, dir.c_str(), flags, 0600))) return rc;
  int dead = 0;
  mdb_reader_check(env, &dead);  // clear reader slots left by a crashed process
  if ((rc = adopt_persisted_map_size())) return rc;
  return open_tables();
}

// LMDB opens with the configured size even if an earlier run grew the map; start from the
// larger persisted size (capped at max_map_bytes) so a restart does not re-grow step by step.
int Shard::Impl::adopt_persisted_map_size() {
  MDB_envinfo configured;
  mdb_env_info(env, &configured);
  int rc = mdb_env_set_mapsize(env, 0);  // 0: adopt the size recorded in the meta page
  if (rc) return rc;
  MDB_envinfo info;
  mdb_env_info(env, &info);
  uint64_t want = std::clamp<uint64_t>(info.me_mapsize, configured.me_mapsize, max_map_bytes);
  if (want != info.me_mapsize && (rc = mdb_env_set_mapsize(env, want))) return rc;
  mdb_env_info(env, &info);  // LMDB never maps less than the space in use
  map_bytes.store(info.me_mapsize);
  return 0;
}

int Shard::Impl::open_tables() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc) return rc;
  for (int i = 0; i < kTableCount && rc == 0; ++i) {
    rc = mdb_dbi_open(txn, kTableNames[i], MDB_CREATE, &dbis[i]);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

std::unique_ptr<Shard> Shard::open(const std::string& dir, uint32_t index,
                                   const ShardOptions& options, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = "cannot create " + dir + ": " + ec.message();
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  if (int rc = impl->open_env(dir, options)) {
    *error = "cannot open LMDB environment " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  return std::unique_ptr<Shard>(new Shard(index, std::move(impl)));
}

Shard::Shard(uint32_t index, std::unique_ptr<Impl> impl) : index_(index), impl_(std::move(impl)) {}
Shard::~Shard() = default;

// ---- writes ----

CommitStatus Shard::commit(const WriteBatch& batch) {
  if (impl_->writes_stopped.load()) return CommitStatus::IoError;
  if (batch.empty()) return CommitStatus::Ok;
  for (int grows = 0;; ++grows) {
    ExpireResume next[kExpireTableCount];
    std::copy(std::begin(impl_->expire_resume), std::end(impl_->expire_resume), next);
    int rc = impl_->apply(batch, next);
    if (rc == 0) {
      std::copy(std::begin(next), std::end(next), impl_->expire_resume);
      return CommitStatus::Ok;
    }
    const bool resizable = rc == MDB_MAP_FULL || rc == MDB_MAP_RESIZED;
    if (!resizable || grows == kMaxGrowsPerCommit) return impl_->fail(rc);
    Impl::Grow g = impl_->grow_map(rc);
    if (g == Impl::Grow::AtMax) return impl_->fail(rc);
    if (g == Impl::Grow::Failed) return impl_->fail(impl_->last_error.load());
  }
}

// One write transaction: every put in order, then the expiry of each dedup table. Returns an
// LMDB/errno code; on failure nothing of the batch is visible (the transaction is aborted).
int Shard::Impl::apply(const WriteBatch& batch, ExpireResume* next) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc) return rc;
  batch.for_each_put([&](Table table, Bytes key, Bytes value) {
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    rc = mdb_put(txn, dbi(table), &k, &v, 0);
    return rc == 0;
  });
  if (rc == 0 && batch.outbox_delete_through() > 0) {
    rc = delete_outbox_through(txn, batch.outbox_delete_through());
  }
  for (size_t i = 0; rc == 0 && batch.expire_max_rows() > 0 && i < kExpireTableCount; ++i) {
    rc = expire(txn, kExpireTables[i], batch.expire_cutoff_ms(), batch.expire_max_rows(), &next[i]);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);  // frees txn, also on failure
}

// Deletes rows with server_time_ms < cutoff_ms, at most max_rows, visiting at most
// max_rows * kExpireScanFactor rows from where the last expiry stopped (wrapping to the start
// at the end of the table), so a commit's expiry cost is bounded and every row is reached.
int Shard::Impl::expire(MDB_txn* txn, Table table, int64_t cutoff_ms, uint32_t max_rows,
                        ExpireResume* resume) {
  Cursor cur(txn, dbi(table));
  if (!cur.ok()) return EINVAL;
  MDB_val k{resume->key_len, resume->key};
  MDB_val v;
  int rc = resume->valid ? cur.get(&k, &v, MDB_SET_RANGE) : cur.get(&k, &v, MDB_FIRST);
  uint64_t visits_left = uint64_t{max_rows} * kExpireScanFactor;
  uint32_t deleted = 0;
  while (rc == 0 && visits_left > 0 && deleted < max_rows) {
    --visits_left;
    auto rec = decode_dedup(to_bytes(v));
    if (rec && rec->server_time_ms < cutoff_ms) {
      if ((rc = cur.del())) return rc;
      ++deleted;
    }
    rc = cur.get(&k, &v, MDB_NEXT);  // after a delete, MDB_NEXT yields the following row
  }
  if (rc == MDB_NOTFOUND) {
    resume->valid = false;  // reached the end: the next expiry starts from the first row
    return 0;
  }
  if (rc == 0) {
    resume->valid = k.mv_size <= sizeof(resume->key);
    resume->key_len = resume->valid ? static_cast<uint8_t>(k.mv_size) : 0;
    if (resume->valid) std::memcpy(resume->key, k.mv_data, k.mv_size);
  }
  return rc;
}

// MDB_MAP_FULL: doubles the map, up to max_map_bytes. MDB_MAP_RESIZED (another process grew
// the file's map): adopts that size (target 0). Runs on the writer thread between transactions.
Shard::Impl::Grow Shard::Impl::grow_map(int commit_rc) {
  if (commit_rc == MDB_MAP_RESIZED) return remap(0);
  const uint64_t current = map_bytes.load();
  if (current >= max_map_bytes) return Grow::AtMax;
  return remap(current > max_map_bytes / 2 ? max_map_bytes : current * 2);
}

// Excludes readers, so no transaction of this process is active (mdb_env_set_mapsize's rule).
Shard::Impl::Grow Shard::Impl::remap(uint64_t target) {
  std::unique_lock lock(resize_mutex);
  if (int rc = mdb_env_set_mapsize(env, target)) {
    // LMDB unmapped the old map before failing to map the new one: nothing is readable.
    env_broken.store(true);
    last_error.store(rc);
    return Grow::Failed;
  }
  MDB_envinfo info;
  mdb_env_info(env, &info);
  map_bytes.store(info.me_mapsize);
  return Grow::Grown;
}

CommitStatus Shard::Impl::fail(int rc) {
  last_error.store(rc);
  if (rc == MDB_MAP_FULL) return CommitStatus::MapFull;
  if (rc == ENOSPC || rc == EDQUOT) return CommitStatus::DiskFull;
  // A failed write or fsync is never retried: after failed writeback the kernel may have
  // dropped the pages, so the only safe state is the last durable commit, after a restart.
  writes_stopped.store(true);
  return CommitStatus::IoError;
}

bool Shard::writes_stopped() const {
  return impl_->writes_stopped.load();
}

std::string Shard::last_commit_error() const {
  int rc = impl_->last_error.load();
  return rc == 0 ? std::string() : std::string(mdb_strerror(rc));
}

// ---- metrics ----

uint64_t Shard::used_bytes() {
  std::shared_lock lock(impl_->resize_mutex);  // mdb_env_info reads the meta page in the map
  if (impl_->env_broken.load()) return 0;
  MDB_envinfo info;
  MDB_stat stat;
  if (mdb_env_info(impl_->env, &info) != 0 || mdb_env_stat(impl_->env, &stat) != 0) return 0;
  return (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
}

uint64_t Shard::map_bytes() {
  return impl_->map_bytes.load();
}

}  // namespace im::storage
