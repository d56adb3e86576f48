// The shard log and its read overlay on real LMDB files: a committed batch is readable before
// the checkpointer applies it, reads merge the overlay with the tables in key order (the
// newer write wins), outbox deletes hide rows at once, and a shard whose process died with
// unapplied records gets every one of them back at the next open.
#include <gtest/gtest.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/shard.h"
#include "temp_dir.h"

namespace im::storage {
namespace {

using testing::bytes_of;
using testing::commit_visible;
using testing::open_shard;
using testing::settle;
using testing::string_of;
using testing::TempDir;

// Checkpoints only when asked (flush) or at close: what is not settled stays in the overlay.
ShardOptions lazy_checkpoints() {
  ShardOptions o;
  o.sync = false;
  o.checkpoint_interval_ms = 3600 * 1000;
  return o;
}

WriteBatch inbox(uint64_t uid, uint64_t from_seq, uint64_t to_seq, const std::string& tag) {
  WriteBatch b;
  for (uint64_t s = from_seq; s <= to_seq; ++s) {
    b.put_inbox(uid, s, bytes_of(tag + std::to_string(s)));
    b.put_conv_index(uid, 9, s, s % 2 == 0);
  }
  return b;
}

std::vector<std::string> inbox_values(Shard& shard, uint64_t uid) {
  std::vector<std::string> out;
  shard.read_inbox(uid, 0, 1000, [&](const InboxItem& it) {
    out.push_back(std::to_string(it.inbox_seq) + "=" + string_of(it.bytes));
  });
  return out;
}

TEST(ShardLog, ReadsMergeUnappliedWritesWithTheTablesInKeyOrder) {
  TempDir dir;
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  ASSERT_EQ(commit_visible(*shard, inbox(1, 1, 2, "old")), CommitStatus::Ok);
  ASSERT_EQ(commit_visible(*shard, inbox(1, 5, 6, "old")), CommitStatus::Ok);
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);  // seqs 1, 2, 5, 6 are in the tables now
  // Unapplied: 3, 4, 7 and a newer 5; plus other uids on both sides of uid 1.
  WriteBatch b = inbox(1, 3, 4, "new");
  b.put_inbox(1, 5, bytes_of("new5"));
  b.put_inbox(1, 7, bytes_of("new7"));
  b.put_conv_index(1, 9, 7, true);
  b.put_inbox(0, 1, bytes_of("zero"));
  b.put_inbox(2, 1, bytes_of("two"));
  ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);

  std::vector<std::string> want = {"1=old1", "2=old2", "3=new3", "4=new4",
                                   "5=new5", "6=old6", "7=new7"};
  EXPECT_EQ(inbox_values(*shard, 1), want);
  EXPECT_EQ(shard->last_inbox_seq(1), 7u);
  EXPECT_EQ(shard->last_inbox_seq(2), 1u);
  // Backward scans merge too: newest first, bounded, across both sides.
  auto index = shard->read_conv_index(1, 9, 7, 0, 4);
  ASSERT_EQ(index.size(), 4u);
  EXPECT_EQ(index[0].inbox_seq, 6u);
  EXPECT_EQ(index[1].inbox_seq, 5u);
  EXPECT_EQ(index[2].inbox_seq, 4u);
  EXPECT_EQ(index[3].inbox_seq, 3u);
  EXPECT_EQ(shard->count_incoming(1, 9, 0, 7), 4u);  // 2, 4, 6 and 7

  // Applied and pruned: the same answers come from the tables alone.
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  EXPECT_EQ(inbox_values(*shard, 1), want);
  EXPECT_EQ(shard->count_incoming(1, 9, 0, 7), 4u);
}

TEST(ShardLog, ALaterWriteOfAKeyWinsUntilAndAfterItIsApplied) {
  TempDir dir;
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  for (int i = 1; i <= 5; ++i) {
    WriteBatch b;
    b.put_meta_u64("counter", i);
    ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);
    EXPECT_EQ(shard->get_meta_u64("counter"), uint64_t(i));
  }
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  EXPECT_EQ(shard->get_meta_u64("counter"), 5u);
}

TEST(ShardLog, OutboxDeletesHideRowsBeforeTheyAreApplied) {
  TempDir dir;
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  WriteBatch b;
  for (uint64_t p = 1; p <= 5; ++p) b.put_outbox(p, bytes_of("row" + std::to_string(p)));
  ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  WriteBatch more;
  more.put_outbox(6, bytes_of("row6"));
  more.delete_outbox_through(3);
  ASSERT_EQ(commit_visible(*shard, more), CommitStatus::Ok);
  std::vector<uint64_t> seen;
  shard->read_outbox(100, [&](uint64_t pos, std::span<const uint8_t>) { seen.push_back(pos); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(shard->last_outbox_position(), 6u);
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  seen.clear();
  shard->read_outbox(100, [&](uint64_t pos, std::span<const uint8_t>) { seen.push_back(pos); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{4, 5, 6}));
}

// The checkpointer skips an outbox row that a record of the same transaction deletes after
// putting it; the rows no record deletes are applied.
TEST(ShardLog, OutboxRowsPutAndDeletedInOneCheckpointLeaveTheRestIntact) {
  TempDir dir;
  {
    auto shard = open_shard(dir.path(), lazy_checkpoints());
    WriteBatch b;
    for (uint64_t p = 1; p <= 8; ++p) b.put_outbox(p, bytes_of("row" + std::to_string(p)));
    ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);
    WriteBatch del;
    del.put_outbox(9, bytes_of("row9"));
    del.delete_outbox_through(3);
    ASSERT_EQ(commit_visible(*shard, del), CommitStatus::Ok);
    WriteBatch del_more;
    del_more.delete_outbox_through(5);
    ASSERT_EQ(commit_visible(*shard, del_more), CommitStatus::Ok);
    ASSERT_EQ(settle(*shard), CommitStatus::Ok);  // one transaction applies all three
    std::vector<uint64_t> seen;
    shard->read_outbox(100, [&](uint64_t pos, std::span<const uint8_t>) { seen.push_back(pos); });
    EXPECT_EQ(seen, (std::vector<uint64_t>{6, 7, 8, 9}));
  }
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  std::vector<std::string> rows;
  shard->read_outbox(100,
                     [&](uint64_t, std::span<const uint8_t> v) { rows.push_back(string_of(v)); });
  EXPECT_EQ(rows, (std::vector<std::string>{"row6", "row7", "row8", "row9"}));
}

TEST(ShardLog, PositionsAfterAnUnappliedDeleteOfEveryRowAreNotReused) {
  TempDir dir;
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  WriteBatch b;
  for (uint64_t p = 1; p <= 3; ++p) b.put_outbox(p, bytes_of("row"));
  ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  WriteBatch del;
  del.delete_outbox_through(3);
  ASSERT_EQ(commit_visible(*shard, del), CommitStatus::Ok);
  // No row is visible, but a new row at position 1..3 would be hidden by the pending delete.
  EXPECT_EQ(shard->last_outbox_position(), 3u);
  WriteBatch next;
  next.put_outbox(shard->last_outbox_position() + 1, bytes_of("fresh"));
  ASSERT_EQ(commit_visible(*shard, next), CommitStatus::Ok);
  std::vector<uint64_t> seen;
  shard->read_outbox(100, [&](uint64_t pos, std::span<const uint8_t>) { seen.push_back(pos); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{4}));
}

TEST(ShardLog, UnappliedRecordsOfAProcessThatDiedAreBackAtTheNextOpen) {
  TempDir dir;
  {
    auto shard = open_shard(dir.path(), lazy_checkpoints());
    ASSERT_EQ(commit_visible(*shard, inbox(1, 1, 3, "a")), CommitStatus::Ok);
    ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // commits durably, then dies before any checkpoint
    std::string error;
    ShardOptions o = lazy_checkpoints();
    o.sync = true;
    auto shard = Shard::open(dir.path(), 0, o, &error);
    bool ok = shard && shard->commit(inbox(1, 4, 6, "b")) == CommitStatus::Ok &&
              shard->commit(inbox(1, 7, 7, "c")) == CommitStatus::Ok;
    _exit(ok ? 0 : 1);  // no destructor: the checkpointer never runs
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  std::vector<std::string> want = {"1=a1", "2=a2", "3=a3", "4=b4", "5=b5", "6=b6", "7=c7"};
  auto shard = open_shard(dir.path(), lazy_checkpoints());
  EXPECT_EQ(inbox_values(*shard, 1), want);  // from the overlay, reloaded from the log
  // New commits continue after the reloaded records, and everything is applied in order.
  ASSERT_EQ(commit_visible(*shard, inbox(1, 8, 8, "d")), CommitStatus::Ok);
  ASSERT_EQ(settle(*shard), CommitStatus::Ok);
  want.push_back("8=d8");
  EXPECT_EQ(inbox_values(*shard, 1), want);
  shard.reset();
  shard = open_shard(dir.path(), lazy_checkpoints());
  EXPECT_EQ(inbox_values(*shard, 1), want);
}

// A ring of 1 MiB (the smallest) that wraps every ~40 records of ~26 KB.
ShardOptions small_ring() {
  ShardOptions o = lazy_checkpoints();
  o.max_unapplied_bytes = 256 << 10;
  o.log_ring_bytes = 0;
  return o;
}

WriteBatch big_record(uint64_t seq) {
  WriteBatch b;
  b.put_inbox(2, seq, std::vector<uint8_t>(26000, uint8_t(seq)));
  b.put_meta_u64("last", seq);
  return b;
}

// Commits records first..last in a child that dies without a checkpoint.
void commit_and_die(const std::string& dir, uint64_t first, uint64_t last) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string error;
    ShardOptions o = small_ring();
    o.sync = true;
    auto shard = Shard::open(dir, 0, o, &error);
    bool ok = shard != nullptr;
    for (uint64_t s = first; ok && s <= last; ++s)
      ok = shard->commit(big_record(s)) == CommitStatus::Ok;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

std::vector<uint64_t> inbox_seqs(Shard& shard, uint64_t uid) {
  std::vector<uint64_t> out;
  shard.read_inbox(uid, 0, 100000, [&](const InboxItem& it) {
    EXPECT_EQ(it.bytes.size(), 26000u);
    EXPECT_EQ(it.bytes[0], uint8_t(it.inbox_seq));
    out.push_back(it.inbox_seq);
  });
  return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) v.push_back(s);
  return v;
}

TEST(ShardLog, TheRingWrapsOverAppliedRecordsOnlyAndRecoveryFollowsTheWrap) {
  TempDir dir;
  {
    auto shard = open_shard(dir.path(), small_ring());
    // Several laps; applying now and then makes room (a commit waits for it when needed).
    for (uint64_t s = 1; s <= 150; ++s) {
      ASSERT_EQ(commit_visible(*shard, big_record(s)), CommitStatus::Ok);
      if (s % 7 == 0) {
        ASSERT_EQ(settle(*shard), CommitStatus::Ok);
      }
    }
    EXPECT_EQ(inbox_seqs(*shard, 2), range(1, 150));
    EXPECT_LE(shard->log_used_bytes(), (1u << 20) + 32768);
  }
  // Unapplied records that straddle the wrap come back, older laps' records do not.
  for (uint64_t round = 0; round < 4; ++round) {
    uint64_t first = 151 + round * 25;
    commit_and_die(dir.path(), first, first + 24);
    auto shard = open_shard(dir.path(), small_ring());
    EXPECT_EQ(inbox_seqs(*shard, 2), range(1, first + 24));
    EXPECT_EQ(shard->get_meta_u64("last"), first + 24);
  }
}

TEST(ShardLog, RecoveryStopsAtADamagedRecordAndLaterCommitsReplaceIt) {
  TempDir dir;
  { auto shard = open_shard(dir.path(), small_ring()); }
  commit_and_die(dir.path(), 1, 5);
  // Damage the last record's payload, as a write torn by a power loss would.
  std::string ring = dir.path() + "/log/ring";
  uint64_t size = std::filesystem::file_size(ring);
  {
    FILE* f = std::fopen(ring.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, long(size - 100), SEEK_SET);
    std::fputc(0x5a, f);
    std::fclose(f);
  }
  {
    auto shard = open_shard(dir.path(), small_ring());
    EXPECT_EQ(inbox_seqs(*shard, 2), range(1, 4));
    ASSERT_EQ(commit_visible(*shard, big_record(5)), CommitStatus::Ok);
    ASSERT_EQ(commit_visible(*shard, big_record(6)), CommitStatus::Ok);
  }
  auto shard = open_shard(dir.path(), small_ring());
  EXPECT_EQ(inbox_seqs(*shard, 2), range(1, 6));
}

TEST(ShardLog, CommitsWaitForTheCheckpointerAtTheUnappliedBound) {
  TempDir dir;
  auto shard = open_shard(dir.path(), small_ring());
  uint64_t s = 1;
  // The asynchronous form answers Busy once 256 KiB are unapplied, encoding nothing.
  for (;; ++s) {
    ASSERT_LT(s, 100u);
    LogPiece piece;
    CommitStatus st = shard->begin_commit(big_record(s), &piece);
    if (st == CommitStatus::Busy) break;
    ASSERT_EQ(st, CommitStatus::Ok);
    EXPECT_EQ(piece.seq, s);
    EXPECT_GT(piece.bytes.size(), 26000u);
    shard->abort_commit();  // written through the private log instead
    ASSERT_EQ(shard->commit(big_record(s)), CommitStatus::Ok);
    shard->publish_committed();
  }
  EXPECT_GE(s, 10u);
  // The synchronous form waits for an apply instead.
  ASSERT_EQ(commit_visible(*shard, big_record(s)), CommitStatus::Ok);
  EXPECT_EQ(inbox_seqs(*shard, 2), range(1, s));
}

}  // namespace
}  // namespace im::storage
