// The server's commit logs on real files: one record carries the batches of several shards and
// each shard gets exactly its pieces back after a crash, a log no worker writes any more (the
// server restarted with fewer workers) is applied and removed, and a shard's log of earlier
// builds (one ring per shard, bare batches) is replayed, applied and removed at open.
#include <gtest/gtest.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "storage/commit_logs.h"
#include "storage/data_dir.h"
#include "storage/log_record.h"
#include "storage/shard.h"
#include "temp_dir.h"

namespace im::storage {
namespace {

using testing::bytes_of;
using testing::string_of;
using testing::TempDir;

constexpr uint32_t kShards = 4;

// Shards and commit logs opened the way the server opens them, on one thread.
struct Store {
  int no_room = 0;  // commit_turn calls the log had no room for
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::unique_ptr<CommitLog>> logs;

  bool open(const std::string& dir, uint32_t workers, uint32_t interval_ms = 3600 * 1000) {
    ShardOptions o;
    o.private_log = false;
    o.checkpoint_interval_ms = interval_ms;  // default: apply only when asked (or at close)
    std::string error;
    for (uint32_t s = 0; s < kShards; ++s) {
      shards.push_back(Shard::open(shard_dir(dir, s), s, o, &error));
      if (!shards.back()) {
        ADD_FAILURE() << error;
        return false;
      }
    }
    bool ok = open_commit_logs(dir, workers, shards, 1 << 20, true, &logs, &error);
    EXPECT_TRUE(ok) << error;
    return ok;
  }

  // One loop turn of worker w: every batch given becomes a piece of one record of its log.
  void commit_turn(uint32_t w, const std::map<uint32_t, WriteBatch>& batches) {
    std::vector<LogPiece> pieces;
    for (const auto& [s, batch] : batches) {
      LogPiece piece;
      ASSERT_EQ(shards[s]->begin_commit(batch, &piece), CommitStatus::Ok);
      pieces.push_back(piece);
    }
    CommitLog& log = *logs[w];
    log.trim([&](uint32_t s) { return shards[s]->applied_through(); });
    LogWrite write;
    CommitLog::Place placed = log.place(pieces, &write);
    if (placed == CommitLog::Place::NoRoom) {  // as the worker does: hurry the checkpointers
      for (auto& [s, batch] : batches) shards[s]->abort_commit();
      for (auto& shard : shards) shard->request_checkpoint();
      no_room++;
      return;
    }
    ASSERT_EQ(placed, CommitLog::Place::Ok);
    int64_t n = ::pwritev2(write.fd, write.iov.data(), int(write.iov.size()), off_t(write.offset),
                           write.rw_flags);
    ASSERT_EQ(log.complete(n), 0);
    for (const auto& [s, batch] : batches) {
      ASSERT_EQ(shards[s]->finish_commit(0, w, write.position), CommitStatus::Ok);
      shards[s]->publish_committed();
    }
  }
};

WriteBatch inbox(uint64_t uid, uint64_t seq, const std::string& text) {
  WriteBatch b;
  b.put_inbox(uid, seq, bytes_of(text));
  return b;
}

std::vector<std::string> inbox_of(Shard& shard, uint64_t uid) {
  std::vector<std::string> out;
  shard.read_inbox(uid, 0, 1000, [&](const InboxItem& it) { out.push_back(string_of(it.bytes)); });
  return out;
}

// Runs fn in a child that dies without closing anything: no checkpoint runs at exit.
template <typename Fn>
void in_child_that_crashes(Fn fn) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    fn();
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(CommitLogs, OneRecordCarriesSeveralShardsAndEachGetsItsPiecesBack) {
  TempDir dir;
  {
    Store store;
    ASSERT_TRUE(store.open(dir.path(), 2));
    // Worker 0 owns shards 0 and 2, worker 1 owns 1 and 3; user uid lives in shard uid % 4.
    store.commit_turn(0, {{0, inbox(4, 1, "a")}, {2, inbox(6, 1, "b")}});
    store.commit_turn(1, {{1, inbox(5, 1, "c")}, {3, inbox(7, 1, "d")}});
    for (auto& shard : store.shards) ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  }
  in_child_that_crashes([&] {
    Store store;
    if (!store.open(dir.path(), 2)) return;
    store.commit_turn(0, {{0, inbox(4, 2, "a2")}, {2, inbox(6, 2, "b2")}});
    store.commit_turn(0, {{2, inbox(6, 3, "b3")}});
    store.commit_turn(1, {{3, inbox(7, 2, "d2")}});
  });
  Store store;
  ASSERT_TRUE(store.open(dir.path(), 2));
  EXPECT_EQ(inbox_of(*store.shards[0], 4), (std::vector<std::string>{"a", "a2"}));
  EXPECT_EQ(inbox_of(*store.shards[2], 6), (std::vector<std::string>{"b", "b2", "b3"}));
  EXPECT_EQ(inbox_of(*store.shards[1], 5), (std::vector<std::string>{"c"}));
  EXPECT_EQ(inbox_of(*store.shards[3], 7), (std::vector<std::string>{"d", "d2"}));
  // Applied pieces are not handed over again: a new commit follows the replayed ones.
  store.commit_turn(0, {{0, inbox(4, 3, "a3")}});
  for (auto& shard : store.shards) ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  EXPECT_EQ(inbox_of(*store.shards[0], 4), (std::vector<std::string>{"a", "a2", "a3"}));
}

TEST(CommitLogs, ALogNoWorkerWritesAnyMoreIsAppliedAndRemoved) {
  TempDir dir;
  in_child_that_crashes([&] {
    Store store;
    if (!store.open(dir.path(), 4)) return;
    for (uint32_t w = 0; w < 4; ++w)
      store.commit_turn(w, {{w, inbox(8 + w, 1, "w" + std::to_string(w))}});
  });
  EXPECT_TRUE(std::filesystem::exists(commit_log_dir(dir.path(), 3)));
  {
    Store store;
    ASSERT_TRUE(store.open(dir.path(), 2));
    EXPECT_FALSE(std::filesystem::exists(commit_log_dir(dir.path(), 2)));
    EXPECT_FALSE(std::filesystem::exists(commit_log_dir(dir.path(), 3)));
    for (uint32_t s = 0; s < kShards; ++s) {
      EXPECT_EQ(inbox_of(*store.shards[s], 8 + s),
                (std::vector<std::string>{"w" + std::to_string(s)}));
    }
  }
  Store store;
  ASSERT_TRUE(store.open(dir.path(), 2));
  for (uint32_t s = 0; s < kShards; ++s) EXPECT_EQ(inbox_of(*store.shards[s], 8 + s).size(), 1u);
}

// A checkpointer with nothing queued sleeps without a deadline: the first record must arm its
// interval, or a quiet shard's pieces would stay unapplied (and its log space taken) until
// 4 MiB more arrive.
TEST(CommitLogs, APieceOfAQuietShardIsAppliedWithinTheInterval) {
  TempDir dir;
  Store store;
  ASSERT_TRUE(store.open(dir.path(), 1, 50));
  store.commit_turn(0, {{1, inbox(5, 1, "quiet")}});
  for (int i = 0; i < 200 && store.shards[1]->applied_through() < 1; ++i) ::usleep(10000);
  EXPECT_EQ(store.shards[1]->applied_through(), 1u);
}

// A ring full of unapplied records: the commit waits (NoRoom), asks the checkpointers to
// apply at once however long their interval, and then goes through.
TEST(CommitLogs, AFullRingAsksTheCheckpointersForRoom) {
  TempDir dir;
  Store store;
  ASSERT_TRUE(store.open(dir.path(), 1));  // 1 MiB ring, checkpoints only when asked
  const std::string big(60000, 'x');
  uint64_t seq = 1;
  for (int turn = 0; turn < 200; ++turn) {
    const int before = store.no_room;
    store.commit_turn(0, {{0, inbox(4, seq, big)}, {1, inbox(5, seq, big)}});
    if (store.no_room == before) {
      ++seq;
      continue;
    }
    // Room comes back once both shards have applied (the wake fd would say when).
    for (int i = 0; i < 300 && (store.shards[0]->applied_through() < seq - 1 ||
                                store.shards[1]->applied_through() < seq - 1);
         ++i) {
      ::usleep(10000);
    }
  }
  EXPECT_GT(store.no_room, 0);
  EXPECT_GT(seq, 100u);
  EXPECT_LE(store.logs[0]->file_bytes(), (1u << 20) + 200000);
  EXPECT_EQ(inbox_of(*store.shards[0], 4).size(), seq - 1);
  EXPECT_EQ(inbox_of(*store.shards[1], 5).size(), seq - 1);
}

// A record of the per-shard ring of earlier builds: [IMLG][length][position][chain hash][batch].
void append_legacy_record(FILE* f, uint64_t position, uint64_t* hash, const WriteBatch& batch) {
  auto rec = make_log_record(batch);
  uint8_t header[24];
  const uint32_t magic = 0x474c4d49, length = uint32_t(rec->bytes.size());
  std::memcpy(header, &magic, 4);
  std::memcpy(header + 4, &length, 4);
  std::memcpy(header + 8, &position, 8);
  XXH3_state_t state;
  XXH3_64bits_reset_withSeed(&state, *hash);
  XXH3_64bits_update(&state, header, 16);
  XXH3_64bits_update(&state, rec->bytes.data(), rec->bytes.size());
  *hash = XXH3_64bits_digest(&state);
  std::memcpy(header + 16, hash, 8);
  std::fwrite(header, 1, sizeof(header), f);
  std::fwrite(rec->bytes.data(), 1, rec->bytes.size(), f);
  const uint8_t zeros[8] = {};
  std::fwrite(zeros, 1, (8 - (24 + length) % 8) % 8, f);
}

TEST(CommitLogs, AShardLogOfEarlierBuildsIsReplayedAppliedAndRemoved) {
  TempDir dir;
  const std::string shard0 = shard_dir(dir.path(), 0);
  std::filesystem::create_directories(shard0 + "/log");
  FILE* f = std::fopen((shard0 + "/log/ring").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  uint64_t hash = 0;
  append_legacy_record(f, 1, &hash, inbox(4, 1, "old1"));
  append_legacy_record(f, 2, &hash, inbox(4, 2, "old2"));
  std::fclose(f);
  {
    Store store;
    ASSERT_TRUE(store.open(dir.path(), 2));
    EXPECT_FALSE(std::filesystem::exists(shard0 + "/log"));
    EXPECT_EQ(inbox_of(*store.shards[0], 4), (std::vector<std::string>{"old1", "old2"}));
  }
  Store store;
  ASSERT_TRUE(store.open(dir.path(), 2));
  EXPECT_EQ(inbox_of(*store.shards[0], 4), (std::vector<std::string>{"old1", "old2"}));
}

}  // namespace
}  // namespace im::storage
