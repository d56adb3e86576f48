// shard.cc - one shard: open (and replay of unapplied log pieces), commits, publishing to the
// overlay, the checkpointer's apply to the tables, map growth, fault states.
// Threads: commits and publish_committed() run on the owner (one commit at a time), apply on
// the checkpointer's thread, reads (shard_reads.cc) on the owner worker or any thread.
// Invariant: mdb_env_set_mapsize on the tables runs only while no transaction of this process
// is active - reads hold resize_mutex shared for the life of their transaction, the apply
// takes it exclusively to remap, between its own transactions.
#include <lmdb.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/shard.h"
#include "storage/shard_impl.h"
#include "storage/storage_assert.h"

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
// The dup-layout tables (storage/dup_layout.h) have names of their own: earlier builds kept
// those rows in plain tables under the names in kLegacyPlainTables, converted on open.
constexpr const char* kTableNames[kTableCount] = {
    "users",         "users_by_name",   "devices", "inbox.dup", "convs",   "conv_index.dup",
    "dedup.dup",     "rdedup.dup",      "meta",    "groups",    "members", "user_groups",
    "group_log.dup", "group_dedup.dup", "outbox",
};
constexpr const char* kLargeValuesName = "large_values";
struct LegacyPlainTable {
  Table table;
  const char* name;
};
constexpr LegacyPlainTable kLegacyPlainTables[] = {
    {Table::Inbox, "inbox"}, {Table::ConvIndex, "conv_index"}, {Table::GroupLog, "group_log"},
    {Table::Dedup, "dedup"}, {Table::Rdedup, "rdedup"},        {Table::GroupDedup, "group_dedup"}};
constexpr size_t kMigrateRowsPerTxn = 65536;  // bounds a conversion step's dirty pages
constexpr bool every_table_named() {
  for (const char* name : kTableNames) {
    if (name == nullptr) return false;
  }
  return true;
}
static_assert(every_table_named(), "kTableNames must name every Table");
constexpr unsigned kMaxReaders = 256;      // reader slots: owner worker + tools, with headroom
constexpr int kMaxGrowsPerCommit = 48;     // doubling: a bound, not a limit that is ever met
constexpr uint64_t kExpireScanFactor = 4;  // expiry visits at most max_rows * 4 rows per table
// Meta rows written by every apply: per commit log, the position of the last record whose
// piece the tables include ("log_applied/<id>", "log_applied/shard" for the private log).
// The per-shard log of earlier builds kept that position in "log_applied" and where the
// record ends in the ring with its chain hash in "log_applied_at" (read, never written).
constexpr std::string_view kMetaAppliedPrefix = "log_applied/";
constexpr std::string_view kMetaLegacyApplied = "log_applied";
constexpr std::string_view kMetaLegacyAppliedAt = "log_applied_at";

std::string applied_key(uint32_t log_id) {
  return std::string(kMetaAppliedPrefix) +
         (log_id == kPrivateLogId ? std::string("shard") : std::to_string(log_id));
}

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
    case CommitStatus::Busy:
      return "Busy";
  }
  return "Unknown";
}

int Shard::Impl::open_env(const std::string& dir, const ShardOptions& options) {
  const uint64_t page = page_bytes();
  const uint64_t initial = round_up(std::max<uint64_t>(options.map_bytes, page), page);
  max_map_bytes = std::max(initial, options.max_map_bytes / page * page);
  int rc = mdb_env_create(&env);
  if (rc) return rc;
  if ((rc = mdb_env_set_maxdbs(env, kTableCount + 1 + std::size(kLegacyPlainTables)))) return rc;
  if ((rc = mdb_env_set_maxreaders(env, kMaxReaders))) return rc;
  if ((rc = mdb_env_set_mapsize(env, initial))) return rc;
  // MDB_NOTLS: reads run on the owner worker, writes on the checkpointer's thread, and a reset
  // read transaction is reused. sync keeps LMDB's default (durable) flags; never MDB_NOMETASYNC.
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
    const auto t = static_cast<Table>(i);
    const unsigned layout = dup_layout::is_dup_table(t) ? dup_layout::open_flags(t) : 0u;
    rc = mdb_dbi_open(txn, kTableNames[i], MDB_CREATE | layout, &dbis[i]);
  }
  if (rc == 0) rc = mdb_dbi_open(txn, kLargeValuesName, MDB_CREATE, &large_values_dbi);
  // Plain tables of earlier builds still holding rows of a dup table.
  std::vector<std::pair<Table, MDB_dbi>> legacy;
  for (const auto& [table, name] : kLegacyPlainTables) {
    MDB_dbi old = 0;
    if (rc == 0 && mdb_dbi_open(txn, name, 0, &old) == 0) legacy.emplace_back(table, old);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  if ((rc = mdb_txn_commit(txn))) return rc;
  for (const auto& [table, old] : legacy) {
    if ((rc = migrate_legacy(table, old))) return rc;
  }
  return 0;
}

// Converts a plain table of an earlier build, growing the map as commits do when the copy
// needs room before the old rows' pages are freed.
int Shard::Impl::migrate_legacy(Table table, MDB_dbi legacy) {
  for (int grows = 0;; ++grows) {
    int rc =
        dup_layout::migrate_legacy_table(env, legacy, dup_dbis(table), table, kMigrateRowsPerTxn);
    if (rc != MDB_MAP_FULL || grows == kMaxGrowsPerCommit) return rc;
    if (grow_map(rc) != Grow::Grown) return rc;
  }
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
  char name[16];
  std::snprintf(name, sizeof(name), "apply-%u", index);
  Impl* raw = impl.get();
  impl->checkpointer = std::make_unique<Checkpointer>(
      name, [raw](std::span<const LogRecordPtr> recs) { return raw->apply_records(recs); },
      CheckpointLimits{.interval_ms = options.checkpoint_interval_ms,
                       .batch_bytes = options.checkpoint_bytes,
                       .max_queued_bytes = options.max_unapplied_bytes});
  impl->max_unapplied_bytes = options.max_unapplied_bytes;
  if (impl->open_private_log(dir, index, options, error) != 0) return nullptr;
  return std::unique_ptr<Shard>(new Shard(index, std::move(impl)));
}

// The private log in dir/log: opened and replayed, or, for a server's shard, only replayed when
// present (the per-shard log of earlier builds), applied and removed.
int Shard::Impl::open_private_log(const std::string& dir, uint32_t index,
                                  const ShardOptions& options, std::string* error) {
  const std::string log_dir = dir + "/log";
  std::error_code ec;
  if (!options.private_log && !std::filesystem::exists(log_dir, ec)) return 0;
  auto legacy = read_legacy_cursor();
  if (!legacy) {
    *error = "cannot read the applied log position in " + dir;
    return EIO;
  }
  int err = 0;
  const uint64_t ring_bytes = std::max(options.log_ring_bytes, 4 * options.max_unapplied_bytes);
  auto private_log = CommitLog::open(log_dir, ring_bytes, options.sync, &err);
  if (!private_log) {
    *error = "cannot open the shard log " + log_dir + ": " + std::strerror(err);
    return err;
  }
  err = private_log->recover(*legacy, index, [&](uint64_t position, uint32_t shard, Bytes bytes) {
    return shard == index ? replay(kPrivateLogId, position, bytes) : std::nullopt;
  });
  if (err) {
    *error =
        "cannot replay the shard log " + log_dir + ": " +
        (err == EBADMSG ? std::string("a record is damaged") : std::string(std::strerror(err)));
    return err;
  }
  if (options.private_log) {
    log = std::move(private_log);
    return 0;
  }
  CommitStatus applied = checkpointer->flush();
  if (applied != CommitStatus::Ok) {
    *error = "cannot apply the shard log " + log_dir + ": " + commit_status_name(applied);
    return EIO;
  }
  private_log.reset();
  std::filesystem::remove_all(log_dir, ec);
  return 0;
}

// The tables' meta row name (the overlay never holds these rows), copied to out when it is
// `bytes` long: 1 if so, 0 if absent or of another length, -1 if the tables cannot be read.
int Shard::Impl::read_meta(std::string_view name, uint8_t* out, size_t bytes) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) return -1;
  MDB_val k{name.size(), const_cast<char*>(name.data())};
  MDB_val v;
  int rc = mdb_get(txn, dbi(Table::Meta), &k, &v);
  const bool found = rc == 0 && v.mv_size == bytes;
  if (found) std::memcpy(out, v.mv_data, bytes);
  mdb_txn_abort(txn);
  return found ? 1 : (rc == 0 || rc == MDB_NOTFOUND) ? 0 : -1;
}

uint64_t Shard::Impl::read_meta_u64(std::string_view name) {
  uint8_t b[8];
  return read_meta(name, b, sizeof(b)) == 1 ? keys::get_le64(b) : 0;
}

std::optional<LogCursor> Shard::Impl::read_legacy_cursor() {
  LogCursor cursor;
  uint8_t at[16];
  int found = read_meta(kMetaLegacyAppliedAt, at, sizeof(at));
  if (found < 0) return std::nullopt;
  if (found == 1) {
    cursor.end_offset = keys::get_le64(at);
    cursor.hash = keys::get_le64(at + 8);
    cursor.position = read_meta_u64(kMetaLegacyApplied);
  }
  return cursor;
}

uint64_t Shard::Impl::applied_log_position(uint32_t log_id) {
  for (auto& [id, position] : recovered_applied) {
    if (id == log_id) return position;
  }
  uint64_t position = read_meta_u64(applied_key(log_id));
  if (log_id == kPrivateLogId) {  // the same ring as the per-shard log of earlier builds
    position = std::max(position, read_meta_u64(kMetaLegacyApplied));
  }
  recovered_applied.emplace_back(log_id, position);
  return position;
}

std::optional<uint64_t> Shard::Impl::replay(uint32_t log_id, uint64_t log_position,
                                            std::span<const uint8_t> bytes) {
  if (log_position <= applied_log_position(log_id)) return 0;
  auto rec = std::make_shared<LogRecord>();
  rec->position = last_seq + 1;
  rec->log_id = log_id;
  rec->log_position = log_position;
  rec->bytes.assign(bytes.begin(), bytes.end());
  {
    std::unique_lock lock(overlay_mutex);
    if (!overlay.publish(rec)) return std::nullopt;
  }
  last_seq = rec->position;
  checkpointer->enqueue(std::move(rec));  // applying is idempotent: a crash may repeat it
  return last_seq;
}

Shard::Shard(uint32_t index, std::unique_ptr<Impl> impl) : index_(index), impl_(std::move(impl)) {}
Shard::~Shard() = default;

// ---- writes ----

CommitStatus Shard::begin_commit(const WriteBatch& batch, LogPiece* piece) {
  Impl& m = *impl_;
  IM_ASSERT(!m.inflight);
  *piece = LogPiece{index_, 0, {}};
  if (m.writes_stopped.load()) return CommitStatus::IoError;
  if (batch.empty()) return CommitStatus::Ok;
  // While the tables cannot take the log's records (full), take no more of them.
  CommitStatus applying = m.checkpointer->status();
  if (applying != CommitStatus::Ok) return applying;
  if (m.checkpointer->queued_bytes() >= m.max_unapplied_bytes) return CommitStatus::Busy;
  m.inflight = make_log_record(batch);
  m.inflight->position = m.last_seq + 1;
  piece->seq = m.inflight->position;
  piece->bytes = m.inflight->bytes;
  return CommitStatus::Ok;
}

void Shard::abort_commit() {
  impl_->inflight.reset();
}

CommitStatus Shard::finish_commit(int err, uint32_t log_id, uint64_t log_position) {
  Impl& m = *impl_;
  IM_ASSERT(m.inflight);
  std::shared_ptr<LogRecord> rec = std::move(m.inflight);
  if (err) return m.fail(err);
  rec->log_id = log_id;
  rec->log_position = log_position;
  m.last_seq = rec->position;
  m.committed.push_back(rec);
  m.checkpointer->enqueue(std::move(rec));
  return CommitStatus::Ok;
}

CommitStatus Shard::commit(const WriteBatch& batch) {
  Impl& m = *impl_;
  IM_ASSERT(m.log);
  for (;;) {
    LogPiece piece;
    CommitStatus st = begin_commit(batch, &piece);
    if (st == CommitStatus::Ok && !piece.bytes.empty()) {
      m.log->trim([&](uint32_t) { return m.checkpointer->applied_through(); });
      switch (m.log->place({&piece, 1}, &m.private_write)) {
        case CommitLog::Place::Ok:
          break;
        case CommitLog::Place::NoRoom:
          abort_commit();
          st = CommitStatus::Busy;
          break;
        case CommitLog::Place::Failed:
          return finish_commit(m.log->failed_errno(), kPrivateLogId, 0);
      }
    }
    if (st == CommitStatus::Busy) {
      CommitStatus applied = m.checkpointer->flush();  // room comes from applying
      if (applied != CommitStatus::Ok) return applied;
      continue;
    }
    if (st != CommitStatus::Ok || piece.bytes.empty()) return st;
    const LogWrite& w = m.private_write;
    int64_t result;
    do {
      result = ::pwritev2(w.fd, w.iov.data(), int(w.iov.size()), off_t(w.offset), w.rw_flags);
    } while (result < 0 && errno == EINTR);
    int err = m.log->complete(result < 0 ? -int64_t(errno) : result);
    return finish_commit(err, kPrivateLogId, w.position);
  }
}

std::optional<uint64_t> Shard::replay(uint32_t log_id, uint64_t log_position,
                                      std::span<const uint8_t> bytes) {
  return impl_->replay(log_id, log_position, bytes);
}

uint64_t Shard::applied_through() const {
  return impl_->checkpointer->applied_through();
}

void Shard::set_wake_fd(int fd) {
  impl_->checkpointer->set_wake_fd(fd);
}

void Shard::publish_committed() {
  Impl& m = *impl_;
  const uint64_t applied = m.checkpointer->applied_through();
  if (m.committed.empty() && applied <= m.pruned_through) return;
  std::unique_lock lock(m.overlay_mutex);
  for (auto& rec : m.committed) m.overlay.publish(std::move(rec));  // never damaged: ours
  m.committed.clear();
  if (applied > m.pruned_through) {
    m.overlay.prune_through(applied);
    m.pruned_through = applied;
  }
}

void Shard::request_checkpoint() {
  impl_->checkpointer->hurry();
}

CommitStatus Shard::checkpoint() {
  return impl_->checkpointer->flush();
}

// The checkpointer's apply: every record in order, then the applied position, in one write
// transaction; the map grows as a commit's did. On failure nothing of it is in the tables
// (the records stay queued and in the log).
CommitStatus Shard::Impl::apply_records(std::span<const LogRecordPtr> records) {
  if (writes_stopped.load()) return CommitStatus::IoError;
  for (int grows = 0;; ++grows) {
    ExpireResume next[kExpireTableCount];
    std::copy(std::begin(expire_resume), std::end(expire_resume), next);
    int rc = apply_txn(records, next);
    if (rc == 0) {
      std::copy(std::begin(next), std::end(next), expire_resume);
      return CommitStatus::Ok;
    }
    const bool resizable = rc == MDB_MAP_FULL || rc == MDB_MAP_RESIZED;
    if (!resizable || grows == kMaxGrowsPerCommit) return fail(rc);
    Grow g = grow_map(rc);
    if (g == Grow::AtMax) return fail(rc);
    if (g == Grow::Failed) return fail(last_error.load());
  }
}

int Shard::Impl::apply_txn(std::span<const LogRecordPtr> records, ExpireResume* next) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc) return rc;
  // Per record, the highest outbox delete of it and the records after it: an outbox row at or
  // below that is put and deleted within this transaction, so neither is done (most rows are
  // confirmed within one checkpoint interval: two B-tree operations per message fewer).
  apply_views.clear();
  for (const auto& rec : records) apply_views.push_back(rec->view());
  outbox_deleted_after.assign(records.size(), 0);
  for (size_t i = records.size(); i-- > 0;) {
    const auto& view = apply_views[i];
    const uint64_t own = view ? view->outbox_delete_through : 0;
    const uint64_t later = i + 1 < records.size() ? outbox_deleted_after[i + 1] : 0;
    outbox_deleted_after[i] = std::max(own, later);
  }
  {
    dup_layout::PutCursors cursors(txn);  // closed before the transaction ends
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& view = apply_views[i];
      rc = view ? apply_view(txn, *view, next, &cursors, outbox_deleted_after[i]) : EINVAL;
      if (rc) break;
    }
  }
  // Per log, the last record applied (records of one log come in position order).
  for (size_t i = 0; rc == 0 && i < records.size(); ++i) {
    const LogRecord& rec = *records[i];
    bool last_of_its_log = true;
    for (size_t j = i + 1; j < records.size() && last_of_its_log; ++j) {
      last_of_its_log = records[j]->log_id != rec.log_id;
    }
    if (!last_of_its_log) continue;
    const std::string key = applied_key(rec.log_id);
    auto le = keys::le64(rec.log_position);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{le.size(), le.data()};
    rc = mdb_put(txn, dbi(Table::Meta), &k, &v, 0);
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);  // frees txn, also on failure
}

// One batch's puts in order (except outbox rows at or below outbox_deleted_through), then its
// outbox delete and the expiry of each dedup table.
int Shard::Impl::apply_view(MDB_txn* txn, const BatchView& batch, ExpireResume* next,
                            dup_layout::PutCursors* cursors, uint64_t outbox_deleted_through) {
  int rc = 0;
  bool well_formed = batch.for_each_put([&](Table table, Bytes key, Bytes value) {
    if (table == Table::Outbox && key.size() == 8 &&
        keys::get_be64(key.data()) <= outbox_deleted_through) {
      return true;  // deleted later in this transaction
    }
    if (dup_layout::is_dup_table(table)) {
      rc = dup_layout::put(txn, dup_dbis(table), table, key, value, cursors);
      return rc == 0;
    }
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    rc = mdb_put(txn, dbi(table), &k, &v, 0);
    return rc == 0;
  });
  if (rc == 0 && !well_formed) rc = EINVAL;
  if (rc == 0 && batch.outbox_delete_through > 0) {
    rc = delete_outbox_through(txn, batch.outbox_delete_through);
  }
  for (size_t i = 0; rc == 0 && batch.expire_max_rows > 0 && i < kExpireTableCount; ++i) {
    rc = expire(txn, kExpireTables[i], batch.expire_cutoff_ms, batch.expire_max_rows, &next[i]);
  }
  return rc;
}

// Deletes rows with server_time_ms < cutoff_ms, at most max_rows, visiting at most
// max_rows * kExpireScanFactor rows from where the last expiry stopped (wrapping to the start
// at the end of the table), so a commit's expiry cost is bounded and every row is reached.
int Shard::Impl::expire(MDB_txn* txn, Table table, int64_t cutoff_ms, uint32_t max_rows,
                        ExpireResume* resume) {
  dup_layout::DupCursor cur(txn, dup_dbis(table), table);
  if (!cur.ok()) return EINVAL;
  const uint8_t zeros[detail::kGroupDedupKeyBytes] = {};
  const Bytes start = resume->valid ? Bytes{resume->key, resume->key_len}
                                    : Bytes{zeros, detail::expire_key_bytes(table)};
  int rc = cur.seek(start, false);
  uint64_t visits_left = uint64_t{max_rows} * kExpireScanFactor;
  uint32_t deleted = 0;
  while (rc == 0 && visits_left > 0 && deleted < max_rows) {
    --visits_left;
    auto rec = decode_dedup(cur.value());
    if (rec && rec->server_time_ms < cutoff_ms) {
      if ((rc = cur.del())) return rc;
      ++deleted;
    }
    rc = cur.step(false);  // after a delete, the following row
  }
  if (rc == MDB_NOTFOUND) {
    resume->valid = false;  // reached the end: the next expiry starts from the first row
    return 0;
  }
  if (rc == 0) {
    const Bytes key = cur.key();
    resume->valid = key.size() <= sizeof(resume->key);
    resume->key_len = resume->valid ? static_cast<uint8_t>(key.size()) : 0;
    if (resume->valid) std::memcpy(resume->key, key.data(), key.size());
  }
  return rc;
}

// MDB_MAP_FULL: doubles the map, up to max_map_bytes. MDB_MAP_RESIZED (another process grew
// the file's map): adopts that size (target 0). Runs on the checkpointer's thread between
// transactions.
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

uint64_t Shard::log_used_bytes() {
  return impl_->log ? impl_->log->file_bytes() : 0;
}

uint64_t Shard::map_bytes() {
  return impl_->map_bytes.load();
}

}  // namespace im::storage
