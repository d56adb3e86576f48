// Shard tables on real LMDB files: every table round-trips, range reads stay inside their
// uid / conversation, edge uids behave, dedup rows expire, data survives a reopen.
#include <gtest/gtest.h>

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

class ShardTables : public ::testing::Test {
 protected:
  void SetUp() override { shard_ = open_shard(dir_.path() + "/shard-000"); }
  void commit(const WriteBatch& b) { ASSERT_EQ(commit_visible(*shard_, b), CommitStatus::Ok); }
  void put_inbox(uint64_t uid, uint64_t seq) {
    WriteBatch b;
    std::string v = "m" + std::to_string(uid) + ":" + std::to_string(seq);
    b.put_inbox(uid, seq, bytes_of(v));
    commit(b);
  }
  std::vector<uint64_t> inbox_seqs(uint64_t uid, uint64_t after, size_t limit) {
    std::vector<uint64_t> seqs;
    shard_->read_inbox(uid, after, limit, [&](const InboxItem& it) {
      EXPECT_EQ(string_of(it.bytes),
                "m" + std::to_string(uid) + ":" + std::to_string(it.inbox_seq));
      seqs.push_back(it.inbox_seq);
    });
    return seqs;
  }

  TempDir dir_;
  std::unique_ptr<Shard> shard_;
};

TEST_F(ShardTables, EveryTableRoundTrips) {
  WriteBatch b;
  UserRecord u{.uid = 17,
               .username = "carol",
               .password_hash = "h",
               .status = UserStatus::Active,
               .created_ms = 99};
  b.put_user(u);
  b.put_username("carol", 17);
  b.put_device(17, "phone-1", DeviceRecord{.acked_inbox_seq = 3, .last_seen_ms = 5, .platform = 2});
  b.put_conv(
      17, 33,
      ConvRecord{
          .last_inbox_seq = 8, .read_inbox_seq = 6, .unread = 2, .muted = true, .updated_ms = 77});
  b.put_dedup(17, 1001, DedupRecord{.msg_id = 555, .inbox_seq = 8, .server_time_ms = 123});
  b.put_rdedup(33, 1001, DedupRecord{.msg_id = 555, .inbox_seq = 4, .server_time_ms = 123});
  b.put_meta_u64("last_msg_id", 0xdeadbeefcafe);
  const uint8_t entry[] = {0, 1, 2, 0xff};
  b.put_inbox(17, 1, entry);
  b.put_conv_index(17, 33, 1, false);
  commit(b);

  auto user = shard_->get_user(17);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->username, "carol");
  EXPECT_EQ(user->created_ms, 99);
  EXPECT_EQ(shard_->get_uid_by_username("carol"), 17u);
  EXPECT_FALSE(shard_->get_uid_by_username("carl"));
  EXPECT_FALSE(shard_->get_uid_by_username(""));
  auto dev = shard_->get_device(17, "phone-1");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->acked_inbox_seq, 3u);
  EXPECT_EQ(dev->platform, 2);
  EXPECT_FALSE(shard_->get_device(17, "phone-2"));
  EXPECT_FALSE(shard_->get_device(18, "phone-1"));
  auto conv = shard_->get_conv(17, 33);
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->unread, 2u);
  EXPECT_TRUE(conv->muted);
  EXPECT_FALSE(shard_->get_conv(33, 17));
  EXPECT_EQ(shard_->get_dedup(17, 1001)->msg_id, 555u);
  EXPECT_EQ(shard_->get_rdedup(33, 1001)->inbox_seq, 4u);
  EXPECT_FALSE(shard_->get_dedup(33, 1001));  // dedup and rdedup are separate tables
  EXPECT_EQ(shard_->get_meta_u64("last_msg_id"), 0xdeadbeefcafeu);
  EXPECT_FALSE(shard_->get_meta_u64("nope"));
  size_t n = shard_->read_inbox_seqs(17, std::vector<uint64_t>{1}, [&](const InboxItem& it) {
    EXPECT_EQ(std::vector<uint8_t>(it.bytes.begin(), it.bytes.end()),
              std::vector<uint8_t>(entry, entry + 4));
  });
  EXPECT_EQ(n, 1u);
  auto idx = shard_->read_conv_index(17, 33, 0, 0, 10);
  ASSERT_EQ(idx.size(), 1u);
  EXPECT_FALSE(idx[0].incoming);
}

TEST_F(ShardTables, LaterPutOfSameKeyInOneBatchWins) {
  WriteBatch b;
  b.put_meta_u64("x", 1);
  b.put_meta_u64("x", 2);
  commit(b);
  EXPECT_EQ(shard_->get_meta_u64("x"), 2u);
}

TEST_F(ShardTables, InboxRangesDoNotBleedAcrossUids) {
  for (uint64_t seq = 1; seq <= 5; ++seq) put_inbox(10, seq);
  for (uint64_t seq = 1; seq <= 3; ++seq) put_inbox(11, seq);
  put_inbox(9, 100);
  EXPECT_EQ(inbox_seqs(10, 0, 100), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(inbox_seqs(10, 2, 100), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(inbox_seqs(10, 2, 2), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(inbox_seqs(10, 5, 100), std::vector<uint64_t>{});
  EXPECT_EQ(inbox_seqs(10, UINT64_MAX, 100), std::vector<uint64_t>{});
  EXPECT_EQ(inbox_seqs(11, 0, 100), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(inbox_seqs(12, 0, 100), std::vector<uint64_t>{});
  EXPECT_EQ(inbox_seqs(10, 0, 0), std::vector<uint64_t>{});
}

TEST_F(ShardTables, ReadInboxSeqsSkipsMissingAndKeepsGivenOrder) {
  for (uint64_t seq = 1; seq <= 5; ++seq) put_inbox(10, seq);
  put_inbox(11, 6);
  std::vector<uint64_t> got;
  size_t n = shard_->read_inbox_seqs(10, std::vector<uint64_t>{4, 6, 2, 9},
                                     [&](const InboxItem& it) { got.push_back(it.inbox_seq); });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(got, (std::vector<uint64_t>{4, 2}));
}

TEST_F(ShardTables, LastInboxSeqOfEmptyAndNeighbourUids) {
  EXPECT_EQ(shard_->last_inbox_seq(10), 0u);  // empty database
  put_inbox(10, 1);
  put_inbox(10, 7);
  put_inbox(12, 3);
  EXPECT_EQ(shard_->last_inbox_seq(10), 7u);
  EXPECT_EQ(shard_->last_inbox_seq(11), 0u);  // between two neighbours
  EXPECT_EQ(shard_->last_inbox_seq(12), 3u);  // last uid in the table
  EXPECT_EQ(shard_->last_inbox_seq(9), 0u);   // before the first uid
  EXPECT_EQ(shard_->last_inbox_seq(13), 0u);  // after the last uid
}

TEST_F(ShardTables, LastInboxSeqAtUidAndSeqExtremes) {
  EXPECT_EQ(shard_->last_inbox_seq(0), 0u);
  EXPECT_EQ(shard_->last_inbox_seq(UINT64_MAX), 0u);
  put_inbox(0, 4);
  put_inbox(UINT64_MAX, 2);
  put_inbox(UINT64_MAX, UINT64_MAX - 1);
  EXPECT_EQ(shard_->last_inbox_seq(0), 4u);
  EXPECT_EQ(shard_->last_inbox_seq(UINT64_MAX), UINT64_MAX - 1);
  EXPECT_EQ(shard_->last_inbox_seq(1), 0u);
  EXPECT_EQ(shard_->last_inbox_seq(UINT64_MAX - 1), 0u);
  put_inbox(5, UINT64_MAX);
  EXPECT_EQ(shard_->last_inbox_seq(5), UINT64_MAX);
  EXPECT_EQ(inbox_seqs(UINT64_MAX, 0, 10), (std::vector<uint64_t>{2, UINT64_MAX - 1}));
  EXPECT_EQ(inbox_seqs(0, 0, 10), (std::vector<uint64_t>{4}));
}

class ShardConvIndex : public ShardTables {
 protected:
  void SetUp() override {
    ShardTables::SetUp();
    WriteBatch b;
    // (1, 2): seqs 1..10, incoming on even seqs. Neighbours (1, 3) and (2, 2) must not leak.
    for (uint64_t seq = 1; seq <= 10; ++seq) b.put_conv_index(1, 2, seq, seq % 2 == 0);
    b.put_conv_index(1, 3, 5, true);
    b.put_conv_index(1, 1, 50, true);
    b.put_conv_index(2, 2, 1, true);
    commit(b);
  }
  std::vector<uint64_t> seqs(const std::vector<ConvIndexItem>& items) {
    std::vector<uint64_t> out;
    for (auto& it : items) {
      EXPECT_EQ(it.incoming, it.inbox_seq % 2 == 0);
      out.push_back(it.inbox_seq);
    }
    return out;
  }
};

TEST_F(ShardConvIndex, ForwardFromAfterSeqOldestFirst) {
  EXPECT_EQ(seqs(shard_->read_conv_index(1, 2, 0, 0, 3)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(seqs(shard_->read_conv_index(1, 2, 0, 8, 10)), (std::vector<uint64_t>{9, 10}));
  EXPECT_TRUE(shard_->read_conv_index(1, 2, 0, 10, 10).empty());
  EXPECT_TRUE(shard_->read_conv_index(1, 2, 0, UINT64_MAX, 10).empty());
}

TEST_F(ShardConvIndex, BackwardFromBeforeSeqNewestFirst) {
  EXPECT_EQ(seqs(shard_->read_conv_index(1, 2, 5, 0, 10)), (std::vector<uint64_t>{4, 3, 2, 1}));
  EXPECT_EQ(seqs(shard_->read_conv_index(1, 2, 5, 0, 2)), (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(seqs(shard_->read_conv_index(1, 2, UINT64_MAX, 0, 3)),
            (std::vector<uint64_t>{10, 9, 8}));
  EXPECT_TRUE(shard_->read_conv_index(1, 2, 1, 0, 10).empty());
  EXPECT_TRUE(shard_->read_conv_index(1, 4, UINT64_MAX, 0, 10).empty());
  EXPECT_TRUE(shard_->read_conv_index(9, 9, UINT64_MAX, 0, 10).empty());  // past the end
}

TEST_F(ShardConvIndex, CountIncomingInHalfOpenRange) {
  EXPECT_EQ(shard_->count_incoming(1, 2, 0, 10), 5u);
  EXPECT_EQ(shard_->count_incoming(1, 2, 2, 10), 4u);  // (2, 10]
  EXPECT_EQ(shard_->count_incoming(1, 2, 1, 4), 2u);   // 2, 4
  EXPECT_EQ(shard_->count_incoming(1, 2, 4, 4), 0u);
  EXPECT_EQ(shard_->count_incoming(1, 2, 0, UINT64_MAX), 5u);
  EXPECT_EQ(shard_->count_incoming(1, 3, 0, UINT64_MAX), 1u);
  EXPECT_EQ(shard_->count_incoming(1, 9, 0, UINT64_MAX), 0u);
}

TEST_F(ShardTables, ListConvsReturnsOneUidsRowsInPeerOrder) {
  WriteBatch b;
  for (uint64_t peer : {30, 10, 20}) b.put_conv(5, peer, ConvRecord{.last_inbox_seq = peer});
  b.put_conv(4, 1, ConvRecord{});
  b.put_conv(6, 1, ConvRecord{});
  commit(b);
  auto rows = shard_->list_convs(5, 100);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].peer_uid, 10u);
  EXPECT_EQ(rows[1].peer_uid, 20u);
  EXPECT_EQ(rows[2].peer_uid, 30u);
  EXPECT_EQ(rows[2].record.last_inbox_seq, 30u);
  EXPECT_EQ(shard_->list_convs(5, 2).size(), 2u);
  EXPECT_TRUE(shard_->list_convs(7, 100).empty());
}

TEST_F(ShardTables, DedupExpiryDeletesOnlyOldRowsOfBothTables) {
  WriteBatch b;
  for (uint64_t i = 0; i < 200; ++i) {
    int64_t t = i % 2 == 0 ? 100 : 5000;  // old and young rows interleaved
    b.put_dedup(i / 10, i, DedupRecord{.msg_id = i, .inbox_seq = 1, .server_time_ms = t});
    b.put_rdedup(i / 10, i, DedupRecord{.msg_id = i, .inbox_seq = 1, .server_time_ms = t});
  }
  commit(b);
  WriteBatch expire;
  expire.expire_dedup(1000, 1000);
  commit(expire);
  settle(*shard_);
  for (uint64_t i = 0; i < 200; ++i) {
    EXPECT_EQ(shard_->get_dedup(i / 10, i).has_value(), i % 2 == 1) << i;
    EXPECT_EQ(shard_->get_rdedup(i / 10, i).has_value(), i % 2 == 1) << i;
  }
}

// Dedup rows are duplicate sets per uid (storage/dup_layout.h): client ids that do not grow
// (random ones) insert inside the set, and a row written again under its key (a message sent
// again after its row left the dedup window) replaces it instead of adding a second item.
TEST_F(ShardTables, DedupRowsInAnyIdOrderAndRewritesKeepOneRowPerKey) {
  std::vector<uint64_t> ids;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 3000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: ids in no order
    ids.push_back(x);
  }
  WriteBatch b;
  for (size_t i = 0; i < ids.size(); ++i) {
    b.put_dedup(7, ids[i], DedupRecord{.msg_id = i, .inbox_seq = i + 1, .server_time_ms = 10});
  }
  commit(b);
  WriteBatch again;  // every tenth key rewritten
  for (size_t i = 0; i < ids.size(); i += 10) {
    again.put_dedup(7, ids[i], DedupRecord{.msg_id = i + 1'000'000, .server_time_ms = 20});
  }
  commit(again);
  settle(*shard_);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto rec = shard_->get_dedup(7, ids[i]);
    ASSERT_TRUE(rec) << i;
    EXPECT_EQ(rec->msg_id, i % 10 == 0 ? i + 1'000'000 : i) << i;
  }
  EXPECT_FALSE(shard_->get_dedup(7, 12345));
  EXPECT_FALSE(shard_->get_dedup(8, ids[0]));
  WriteBatch expire;  // the rewritten rows are younger: the rest expires, one row per key
  expire.expire_dedup(15, 100'000);
  commit(expire);
  settle(*shard_);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(shard_->get_dedup(7, ids[i]).has_value(), i % 10 == 0) << i;
  }
}

TEST_F(ShardTables, DedupExpiryIsBoundedPerCommitAndEventuallyReachesEveryRow) {
  WriteBatch b;
  for (uint64_t i = 0; i < 1000; ++i) {
    int64_t t = i < 500 ? 5000 : 100;  // young rows first, old rows at the end of the table
    b.put_dedup(1, i, DedupRecord{.msg_id = i, .inbox_seq = 1, .server_time_ms = t});
  }
  commit(b);
  auto count = [&] {
    int n = 0;
    for (uint64_t i = 0; i < 1000; ++i) n += shard_->get_dedup(1, i).has_value();
    return n;
  };
  WriteBatch expire;
  expire.expire_dedup(1000, 10);  // deletes <= 10 rows, visits <= 40 per commit
  commit(expire);
  settle(*shard_);
  EXPECT_EQ(count(), 1000);  // the first 40 rows are young
  for (int i = 0; i < 100; ++i) {
    commit(expire);
    settle(*shard_);
  }
  EXPECT_EQ(count(), 500);
  for (uint64_t i = 0; i < 500; ++i) EXPECT_TRUE(shard_->get_dedup(1, i)) << i;
}

TEST_F(ShardTables, ReopenAfterCloseKeepsData) {
  WriteBatch b;
  b.put_meta_u64("last_msg_id", 42);
  b.put_inbox(3, 1, bytes_of("hello"));
  commit(b);
  shard_.reset();
  shard_ = open_shard(dir_.path() + "/shard-000");
  EXPECT_EQ(shard_->get_meta_u64("last_msg_id"), 42u);
  EXPECT_EQ(shard_->last_inbox_seq(3), 1u);
  put_inbox(3, 2);
  EXPECT_EQ(shard_->last_inbox_seq(3), 2u);
}

TEST_F(ShardTables, EmptyBatchCommitsOk) {
  WriteBatch b;
  EXPECT_EQ(commit_visible(*shard_, b), CommitStatus::Ok);
}

TEST(CommitStatusName, NamesEveryStatus) {
  EXPECT_STREQ(commit_status_name(CommitStatus::Ok), "Ok");
  EXPECT_STREQ(commit_status_name(CommitStatus::MapFull), "MapFull");
  EXPECT_STREQ(commit_status_name(CommitStatus::DiskFull), "DiskFull");
  EXPECT_STREQ(commit_status_name(CommitStatus::IoError), "IoError");
}

}  // namespace
}  // namespace im::storage
