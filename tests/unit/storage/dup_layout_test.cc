// The duplicate-set layout of the per-owner sequence tables (storage/dup_layout.h) on a real
// LMDB file: logical rows round-trip in key order both ways across owners, puts replace rows
// of the same key (replays, rewrites, inserts below the end), long and empty values go to
// large_values, interleaved owners' appends fill pages, and a plain table of an earlier build
// converts in steps without losing a row.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "storage/dup_layout.h"
#include "storage/keys.h"
#include "temp_dir.h"

namespace im::storage::dup_layout {
namespace {

using testing::bytes_of;
using testing::string_of;
using testing::TempDir;

class DupLayout : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mdb_env_create(&env_), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env_, 8), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env_, 1ull << 30), 0);
    ASSERT_EQ(mdb_env_open(env_, dir_.path().c_str(), MDB_NOSYNC, 0600), 0);
    MDB_txn* txn = begin();
    for (Table t : {Table::Inbox, Table::ConvIndex}) {
      ASSERT_EQ(mdb_dbi_open(txn, t == Table::Inbox ? "inbox" : "conv_index",
                             MDB_CREATE | open_flags(t), &tables_[t == Table::Inbox]),
                0);
    }
    ASSERT_EQ(mdb_dbi_open(txn, "large_values", MDB_CREATE, &large_), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  void TearDown() override { mdb_env_close(env_); }

  MDB_txn* begin(unsigned flags = 0) {
    MDB_txn* txn = nullptr;
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, flags, &txn), 0);
    return txn;
  }
  Dbis dbis(Table t) { return {tables_[t == Table::Inbox], large_}; }
  // Through PutCursors, as the checkpointer's apply does (the ConvIndex test uses the
  // cursor-per-put path).
  void put_inbox(uint64_t uid, uint64_t seq, const std::string& value) {
    MDB_txn* txn = begin();
    int rc = 0;
    {
      PutCursors cursors(txn);
      rc = put(txn, dbis(Table::Inbox), Table::Inbox, keys::make(uid, seq).span(), bytes_of(value),
               &cursors);
    }
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  // Every logical row from start in scan order as "uid:seq=value".
  std::vector<std::string> scan(uint64_t uid, uint64_t seq, bool backward) {
    std::vector<std::string> rows;
    MDB_txn* txn = begin(MDB_RDONLY);
    DupCursor cur(txn, dbis(Table::Inbox), Table::Inbox);
    for (int rc = cur.seek(keys::make(uid, seq).span(), backward); rc == 0;
         rc = cur.step(backward)) {
      rows.push_back(std::to_string(keys::get_be64(cur.key().data())) + ":" +
                     std::to_string(keys::get_be64(cur.key().data() + 8)) + "=" +
                     string_of(cur.value()));
    }
    mdb_txn_abort(txn);
    return rows;
  }
  std::optional<std::string> find(uint64_t uid, uint64_t seq) {
    MDB_txn* txn = begin(MDB_RDONLY);
    DupCursor cur(txn, dbis(Table::Inbox), Table::Inbox);
    std::optional<std::string> v;
    if (cur.find(keys::make(uid, seq).span()) == 0) v = string_of(cur.value());
    mdb_txn_abort(txn);
    return v;
  }
  MDB_stat stat(MDB_dbi dbi) {
    MDB_txn* txn = begin(MDB_RDONLY);
    MDB_stat st{};
    mdb_stat(txn, dbi, &st);
    mdb_txn_abort(txn);
    return st;
  }

  TempDir dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi tables_[2] = {};
  MDB_dbi large_ = 0;
};

TEST_F(DupLayout, ScansWalkLogicalKeysInOrderAcrossOwners) {
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    for (uint64_t uid : {7u, 2u, 5u}) put_inbox(uid, seq, "v" + std::to_string(uid * 10 + seq));
  }
  EXPECT_EQ(scan(5, 2, false),
            (std::vector<std::string>{"5:2=v52", "5:3=v53", "7:1=v71", "7:2=v72", "7:3=v73"}));
  // A start between owners or past an owner's last seq goes on with the next owner.
  EXPECT_EQ(scan(3, 0, false).front(), "5:1=v51");
  EXPECT_EQ(scan(2, 9, false).front(), "5:1=v51");
  EXPECT_TRUE(scan(7, 4, false).empty());
  // Backward: an exact key is included, otherwise the last key below start.
  EXPECT_EQ(scan(5, 2, true),
            (std::vector<std::string>{"5:2=v52", "5:1=v51", "2:3=v23", "2:2=v22", "2:1=v21"}));
  EXPECT_EQ(scan(5, 9, true).front(), "5:3=v53");
  EXPECT_EQ(scan(6, 0, true).front(), "5:3=v53");
  EXPECT_EQ(scan(9, 0, true).front(), "7:3=v73");
  EXPECT_TRUE(scan(2, 0, true).empty());
  EXPECT_EQ(find(7, 2), "v72");
  EXPECT_FALSE(find(7, 4));
  EXPECT_FALSE(find(4, 1));
}

TEST_F(DupLayout, PutReplacesTheRowOfTheSameKeyWhereverItIs) {
  for (uint64_t seq = 1; seq <= 5; ++seq) put_inbox(1, seq, "a" + std::to_string(seq));
  put_inbox(1, 5, "a5");       // a replayed record: unchanged
  put_inbox(1, 3, "rewrite");  // a rewritten row below the end
  put_inbox(1, 5, "last");     // a rewritten last row
  put_inbox(2, 4, "b4");
  put_inbox(2, 2, "b2");  // an insert below the end
  EXPECT_EQ(scan(1, 0, false),
            (std::vector<std::string>{"1:1=a1", "1:2=a2", "1:3=rewrite", "1:4=a4", "1:5=last",
                                      "2:2=b2", "2:4=b4"}));
  EXPECT_EQ(stat(tables_[1]).ms_entries, 7u);
}

// Inbox values are stored with a format byte (storage/entry_codec.h: these test strings are
// not entries, so they are stored as given after it): kMaxInlineValue - 1 is the longest that
// stays in the item.
TEST_F(DupLayout, LongValuesLiveInLargeValuesAndFollowRewrites) {
  const std::string big(3000, 'x');
  const std::string longest(kMaxInlineValue - 1, 'y');
  put_inbox(1, 1, "small");
  put_inbox(1, 2, big);
  put_inbox(1, 3, "");
  put_inbox(1, 4, longest);
  put_inbox(1, 5, longest + "y");
  EXPECT_EQ(find(1, 2), big);
  EXPECT_EQ(find(1, 3), "");
  EXPECT_EQ(find(1, 4), longest);
  EXPECT_EQ(find(1, 5), longest + "y");
  EXPECT_EQ(stat(large_).ms_entries, 2u);
  put_inbox(1, 2, "now small");  // large -> inline drops the large row
  put_inbox(1, 1, big + "z");    // inline -> large
  put_inbox(1, 1, big + "zz");   // large -> large
  EXPECT_EQ(find(1, 1), big + "zz");
  EXPECT_EQ(find(1, 2), "now small");
  EXPECT_EQ(stat(large_).ms_entries, 2u);
  EXPECT_EQ(scan(1, 0, false).size(), 5u);
}

TEST_F(DupLayout, ConvIndexItemsHaveOneFixedSize) {
  MDB_txn* txn = begin();
  const uint8_t incoming = 1;
  const uint8_t two[2] = {1, 1};
  auto key = keys::make(3, 4, 5);
  EXPECT_EQ(put(txn, dbis(Table::ConvIndex), Table::ConvIndex, key.span(), {&incoming, 1}), 0);
  EXPECT_EQ(put(txn, dbis(Table::ConvIndex), Table::ConvIndex, key.span(), {two, 2}), EINVAL);
  EXPECT_EQ(
      put(txn, dbis(Table::ConvIndex), Table::ConvIndex, keys::make(3).span(), {&incoming, 1}),
      EINVAL);  // no seq
  const uint8_t outgoing = 0;
  EXPECT_EQ(put(txn, dbis(Table::ConvIndex), Table::ConvIndex, key.span(), {&outgoing, 1}), 0);
  [&] {  // a write transaction frees its cursors when it ends: close this one first
    DupCursor cur(txn, dbis(Table::ConvIndex), Table::ConvIndex);
    EXPECT_EQ(cur.find(key.span()), 0);
    ASSERT_EQ(cur.value().size(), 1u);
    EXPECT_EQ(cur.value()[0], 0);
    EXPECT_EQ(cur.step(false), MDB_NOTFOUND);
  }();
  mdb_txn_abort(txn);
}

// The reason for the layout: 13 owners appending in turn, as in a busy shard. A plain table
// leaves their pages ~55-65% full; the dup sets fill theirs.
TEST_F(DupLayout, InterleavedAppendsFillPages) {
  const std::string value(150, 'e');
  const uint64_t owners = 13;
  const uint64_t per_owner = 2000;
  for (uint64_t seq = 1; seq <= per_owner; seq += 50) {
    MDB_txn* txn = begin();
    [&] {  // one cursor for many owners' puts, closed before the commit
      PutCursors cursors(txn);
      for (uint64_t s = seq; s < seq + 50; ++s) {
        for (uint64_t uid = 1; uid <= owners; ++uid) {
          ASSERT_EQ(put(txn, dbis(Table::Inbox), Table::Inbox, keys::make(uid, s).span(),
                        bytes_of(value), &cursors),
                    0);
        }
      }
    }();
    ASSERT_EQ(mdb_txn_commit(txn), 0);
  }
  MDB_stat st = stat(tables_[1]);
  EXPECT_EQ(st.ms_entries, owners * per_owner);
  // Each item: node header 8 + seq 8 + format byte + value, and a 2-byte slot; a page holds
  // 4096 - 16.
  const double item_bytes = 8 + 8 + 1 + 150 + 2;
  const double fill = owners * per_owner * item_bytes / (double(st.ms_leaf_pages) * 4080);
  EXPECT_GT(fill, 0.85) << st.ms_leaf_pages << " leaf pages";
}

TEST_F(DupLayout, LegacyPlainTableConvertsInStepsKeepingEveryRow) {
  MDB_dbi legacy = 0;
  MDB_txn* txn = begin();
  ASSERT_EQ(mdb_dbi_open(txn, "legacy_inbox", MDB_CREATE, &legacy), 0);
  const std::string big(1000, 'b');
  for (uint64_t uid = 1; uid <= 4; ++uid) {
    for (uint64_t seq = 1; seq <= 25; ++seq) {
      auto key = keys::make(uid, seq);
      std::string value = seq == 7 ? big : "r" + std::to_string(uid) + "." + std::to_string(seq);
      MDB_val k{key.bytes.size(), key.bytes.data()};
      MDB_val v{value.size(), value.data()};
      ASSERT_EQ(mdb_put(txn, legacy, &k, &v, 0), 0);
    }
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  ASSERT_EQ(migrate_legacy_table(env_, legacy, dbis(Table::Inbox), Table::Inbox, 7), 0);
  auto rows = scan(1, 0, false);
  ASSERT_EQ(rows.size(), 100u);
  EXPECT_EQ(rows.front(), "1:1=r1.1");
  EXPECT_EQ(rows.back(), "4:25=r4.25");
  EXPECT_EQ(find(3, 7), big);
  // The legacy table is gone.
  txn = begin(MDB_RDONLY);
  MDB_dbi again = 0;
  EXPECT_EQ(mdb_dbi_open(txn, "legacy_inbox", 0, &again), MDB_NOTFOUND);
  mdb_txn_abort(txn);
}

}  // namespace
}  // namespace im::storage::dup_layout
