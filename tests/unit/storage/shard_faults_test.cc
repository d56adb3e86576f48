// Shard faults on real LMDB files: a full map refuses the whole batch and leaves nothing
// behind, the map grows transparently up to its limit (also under concurrent reads), a log
// write out of space is refused and retried in place, and a tables write error stops the
// shard for good without losing a committed record.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/shard.h"
#include "temp_dir.h"

namespace im::storage {
namespace {

using testing::commit_visible;
using testing::open_shard;
using testing::TempDir;

constexpr uint64_t kTinyMapBytes = 256 << 10;

// A batch of `count` inbox entries of 1000 bytes for uid 1 starting at first_seq, plus a marker.
WriteBatch inbox_batch(uint64_t first_seq, int count, const std::string& marker) {
  WriteBatch b;
  b.put_meta_u64(marker, first_seq);
  std::vector<uint8_t> entry(1000, static_cast<uint8_t>(first_seq));
  for (int i = 0; i < count; ++i) b.put_inbox(1, first_seq + i, entry);
  return b;
}

TEST(ShardFaults, FullMapRefusesWholeBatchAndReadsStillWork) {
  TempDir dir;
  ShardOptions tiny{.map_bytes = kTinyMapBytes, .max_map_bytes = kTinyMapBytes, .sync = true};
  auto shard = open_shard(dir.path(), tiny);
  uint64_t seq = 1;
  CommitStatus status = CommitStatus::Ok;
  int committed = 0;
  for (; committed < 1000; ++committed) {
    status = commit_visible(*shard, inbox_batch(seq, 20, "batch-" + std::to_string(seq)));
    if (status != CommitStatus::Ok) break;
    seq += 20;
    shard->checkpoint();  // once an apply finds the map full, the next commit is refused
  }
  ASSERT_EQ(status, CommitStatus::MapFull);
  EXPECT_GT(committed, 0);
  EXPECT_FALSE(shard->writes_stopped());
  EXPECT_NE(shard->last_commit_error(), "");
  // Nothing of the failed batch is visible; everything before it is.
  EXPECT_FALSE(shard->get_meta_u64("batch-" + std::to_string(seq)));
  EXPECT_EQ(shard->last_inbox_seq(1), seq - 1);
  EXPECT_EQ(shard->get_meta_u64("batch-1"), 1u);
  size_t n = shard->read_inbox(1, 0, 100000,
                               [](const InboxItem& it) { EXPECT_EQ(it.bytes.size(), 1000u); });
  EXPECT_EQ(n, seq - 1);
  EXPECT_EQ(shard->map_bytes(), kTinyMapBytes);
  EXPECT_LE(shard->used_bytes(), kTinyMapBytes);
  // Still full on retry, and not stuck in an error state.
  EXPECT_EQ(commit_visible(*shard, inbox_batch(seq, 20, "again")), CommitStatus::MapFull);

  // Once the limit allows, the same batch fits. (Commits go to the log and the tables take
  // them a checkpoint later, so up to a checkpoint's worth was accepted past the limit: all
  // of it durable in the log and readable, applied once the tables have room.)
  shard.reset();
  ShardOptions roomy{.map_bytes = kTinyMapBytes, .max_map_bytes = 64 << 20, .sync = true};
  shard = open_shard(dir.path(), roomy);
  EXPECT_EQ(shard->last_inbox_seq(1), seq - 1);
  EXPECT_EQ(commit_visible(*shard, inbox_batch(seq, 20, "after")), CommitStatus::Ok);
  EXPECT_EQ(shard->last_inbox_seq(1), seq + 19);
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);  // the tables' map grows as they are applied
  EXPECT_GT(shard->map_bytes(), kTinyMapBytes);
}

TEST(ShardFaults, MapGrowsTransparentlyFromSmallToLarger) {
  TempDir dir;
  ShardOptions opts{.map_bytes = 128 << 10, .max_map_bytes = 64 << 20, .sync = false};
  auto shard = open_shard(dir.path(), opts);
  uint64_t seq = 1;
  for (int round = 0; round < 8; ++round) {  // 8 x 1000 x 1 KB = 8 MB
    ASSERT_EQ(commit_visible(*shard, inbox_batch(seq, 1000, "m")), CommitStatus::Ok) << round;
    seq += 1000;
  }
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  EXPECT_GE(shard->map_bytes(), 8u << 20);
  EXPECT_LE(shard->map_bytes(), 64u << 20);
  EXPECT_EQ(shard->last_inbox_seq(1), seq - 1);
  // A single batch several doublings larger than the map also fits.
  ASSERT_EQ(commit_visible(*shard, inbox_batch(seq, 20000, "big")), CommitStatus::Ok);
  EXPECT_EQ(shard->last_inbox_seq(1), seq + 19999);

  // The grown size survives a reopen with the small initial size.
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  uint64_t grown = shard->map_bytes();
  shard.reset();
  shard = open_shard(dir.path(), opts);
  EXPECT_EQ(shard->map_bytes(), grown);
  EXPECT_EQ(shard->last_inbox_seq(1), seq + 19999);
}

TEST(ShardFaults, ReadsDuringMapGrowthSeeConsistentData) {
  TempDir dir;
  ShardOptions opts{.map_bytes = 64 << 10, .max_map_bytes = 256 << 20, .sync = false};
  auto shard = open_shard(dir.path(), opts);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    uint64_t last_seen = 0;
    while (!done.load()) {
      uint64_t last = shard->last_inbox_seq(1);
      EXPECT_GE(last, last_seen);
      last_seen = last;
      uint64_t expect = last > 50 ? last - 50 + 1 : 1;
      shard->read_inbox(1, expect - 1, 50, [&](const InboxItem& it) {
        EXPECT_EQ(it.inbox_seq, expect++);
        EXPECT_EQ(it.bytes.size(), 1000u);
      });
      reads.fetch_add(1);
    }
  });
  uint64_t seq = 1;
  for (int round = 0; round < 40; ++round) {
    ASSERT_EQ(commit_visible(*shard, inbox_batch(seq, 500, "m")), CommitStatus::Ok);
    seq += 500;
  }
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0u);
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  EXPECT_GE(shard->map_bytes(), 16u << 20);
}

TEST(ShardFaults, MapGrownByAnotherProcessIsAdoptedByTheNextCommit) {
  TempDir dir;
  ShardOptions small{.map_bytes = kTinyMapBytes, .max_map_bytes = kTinyMapBytes, .sync = false};
  auto shard = open_shard(dir.path(), small);
  ASSERT_EQ(commit_visible(*shard, inbox_batch(1, 1, "parent")), CommitStatus::Ok);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // another process (an admin tool) grows the file past our map
    std::string error;
    auto other =
        Shard::open(dir.path(), 0, ShardOptions{.map_bytes = 8 << 20, .sync = false}, &error);
    bool ok = other && commit_visible(*other, inbox_batch(2, 2000, "child")) == CommitStatus::Ok;
    other.reset();
    _exit(ok ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_EQ(commit_visible(*shard, inbox_batch(3000, 1, "after")), CommitStatus::Ok)
      << shard->last_commit_error();
  EXPECT_FALSE(shard->writes_stopped());
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  EXPECT_GE(shard->map_bytes(), 8u << 20);
  EXPECT_EQ(shard->last_inbox_seq(1), 3000u);
  EXPECT_EQ(shard->get_meta_u64("child"), 2u);
}

// Runs fn with the process's file size limit at limit bytes (writes past it fail with EFBIG
// or come back short), then restores it.
template <typename Fn>
void with_file_size_limit(uint64_t limit, Fn fn) {
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = limit;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  fn();
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
}

TEST(ShardFaults, ALogWriteOutOfSpaceIsRefusedAndTheNextOneTakesItsPlace) {
  TempDir dir;
  ShardOptions o{.map_bytes = 64 << 20};
  auto shard = open_shard(dir.path(), o);
  ASSERT_EQ(commit_visible(*shard, inbox_batch(1, 10, "ok")), CommitStatus::Ok);
  CommitStatus status = CommitStatus::Ok;
  with_file_size_limit(1 << 20,
                       [&] { status = commit_visible(*shard, inbox_batch(11, 2000, "too-big")); });
  EXPECT_EQ(status, CommitStatus::DiskFull) << shard->last_commit_error();
  EXPECT_FALSE(shard->writes_stopped());
  EXPECT_FALSE(shard->get_meta_u64("too-big"));
  // Space is back: the next record goes where the refused one would have gone.
  ASSERT_EQ(commit_visible(*shard, inbox_batch(11, 1, "small")), CommitStatus::Ok);
  shard.reset();
  shard = open_shard(dir.path(), o);
  EXPECT_EQ(shard->last_inbox_seq(1), 11u);
  EXPECT_EQ(shard->get_meta_u64("small"), 11u);
  EXPECT_FALSE(shard->get_meta_u64("too-big"));
}

TEST(ShardFaults, ATablesWriteErrorStopsTheShardAndLosesNothingCommitted) {
  TempDir dir;
  ShardOptions o{.map_bytes = 64 << 20};
  o.checkpoint_interval_ms = 3600 * 1000;  // apply only when asked
  auto shard = open_shard(dir.path(), o);
  ASSERT_EQ(commit_visible(*shard, inbox_batch(1, 10, "ok")), CommitStatus::Ok);
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  // Durable in the log; applying it needs the tables' file to grow, which fails.
  ASSERT_EQ(commit_visible(*shard, inbox_batch(11, 2000, "big")), CommitStatus::Ok);
  uint64_t tables_bytes = std::filesystem::file_size(dir.path() + "/data.mdb");
  CommitStatus applied = CommitStatus::Ok;
  with_file_size_limit(tables_bytes, [&] { applied = shard->checkpoint(); });
  EXPECT_EQ(applied, CommitStatus::IoError);
  EXPECT_TRUE(shard->writes_stopped());
  // Never retried, even once the disk would accept it again; reads keep working.
  EXPECT_EQ(commit_visible(*shard, inbox_batch(3000, 1, "small")), CommitStatus::IoError);
  EXPECT_FALSE(shard->get_meta_u64("small"));
  EXPECT_EQ(shard->last_inbox_seq(1), 2010u);

  shard.reset();
  shard = open_shard(dir.path(), o);
  EXPECT_EQ(shard->last_inbox_seq(1), 2010u);  // the committed record, replayed from the log
  EXPECT_EQ(shard->get_meta_u64("big"), 11u);
  EXPECT_EQ(commit_visible(*shard, inbox_batch(2011, 1, "small")), CommitStatus::Ok);
  ASSERT_EQ(shard->checkpoint(), CommitStatus::Ok);
  EXPECT_EQ(shard->last_inbox_seq(1), 2011u);
}

}  // namespace
}  // namespace im::storage
