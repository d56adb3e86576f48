// Group tables on real LMDB files: every group table round-trips, member / user_groups / log
// scans stay inside their gid or uid and honour their bounds, group_dedup rows expire with the
// same per-commit bound as dedup, and a data dir made before the group tables still opens.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <string>
#include <vector>

#include "storage/keys.h"
#include "storage/record_codec.h"
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

std::string log_value(uint64_t gid, uint64_t seq) {
  return "g" + std::to_string(gid) + ":" + std::to_string(seq);
}

GroupRecord named_group(uint64_t gid, std::string name) {
  GroupRecord g;
  g.gid = gid;
  g.name = std::move(name);
  return g;
}

class GroupTables : public ::testing::Test {
 protected:
  void SetUp() override { shard_ = open_shard(path()); }
  std::string path() const { return dir_.path() + "/shard-000"; }
  void commit(const WriteBatch& b) { ASSERT_EQ(commit_visible(*shard_, b), CommitStatus::Ok); }
  void put_log(uint64_t gid, uint64_t seq) {
    WriteBatch b;
    b.put_group_log(gid, seq, bytes_of(log_value(gid, seq)));
    commit(b);
  }

  TempDir dir_;
  std::unique_ptr<Shard> shard_;
};

TEST_F(GroupTables, EveryGroupTableRoundTrips) {
  WriteBatch b;
  b.put_group(GroupRecord{.gid = 70,
                          .name = "hikers",
                          .owner_uid = 5,
                          .announcement = "boots",
                          .last_group_seq = 3,
                          .member_count = 2,
                          .created_ms = 11,
                          .updated_ms = 12});
  b.put_member(70, 5, MemberRecord{.role = GroupRole::Owner, .read_seq = 2, .joined_ms = 11});
  b.put_member(70, 6, MemberRecord{.join_seq = 1, .mention_seq = 3, .do_not_disturb = true});
  b.put_user_group(5, 70, UserGroupRecord{.member = true, .join_seq = 0});
  b.put_user_group(6, 70, UserGroupRecord{.member = false, .join_seq = 1});
  const uint8_t entry[] = {0, 1, 2, 0xff};
  b.put_group_log(70, 3, entry);
  b.put_group_dedup(70, 5, 1001, DedupRecord{.msg_id = 555, .inbox_seq = 3, .server_time_ms = 9});
  commit(b);

  auto group = shard_->get_group(70);
  ASSERT_TRUE(group);
  EXPECT_EQ(group->gid, 70u);
  EXPECT_EQ(group->name, "hikers");
  EXPECT_EQ(group->announcement, "boots");
  EXPECT_EQ(group->owner_uid, 5u);
  EXPECT_EQ(group->last_group_seq, 3u);
  EXPECT_EQ(group->member_count, 2u);
  EXPECT_EQ(group->updated_ms, 12);
  EXPECT_FALSE(shard_->get_group(71));

  auto owner = shard_->get_member(70, 5);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->role, GroupRole::Owner);
  EXPECT_EQ(owner->read_seq, 2u);
  auto member = shard_->get_member(70, 6);
  ASSERT_TRUE(member);
  EXPECT_EQ(member->role, GroupRole::Member);
  EXPECT_EQ(member->mention_seq, 3u);
  EXPECT_TRUE(member->do_not_disturb);
  EXPECT_FALSE(shard_->get_member(70, 7));
  EXPECT_FALSE(shard_->get_member(5, 70));  // members is keyed (gid, uid)

  auto mine = shard_->list_user_groups(6, 10);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].first, 70u);
  EXPECT_FALSE(mine[0].second.member);
  EXPECT_EQ(mine[0].second.join_seq, 1u);
  EXPECT_TRUE(shard_->list_user_groups(70, 10).empty());  // user_groups is keyed (uid, gid)

  std::vector<uint8_t> got;
  EXPECT_EQ(shard_->read_group_log(70, 0, 0, 0, UINT64_MAX, 10,
                                   [&](const InboxItem& it) {
                                     EXPECT_EQ(it.inbox_seq, 3u);
                                     got.assign(it.bytes.begin(), it.bytes.end());
                                   }),
            1u);
  EXPECT_EQ(got, std::vector<uint8_t>(entry, entry + 4));
  EXPECT_EQ(shard_->last_group_seq(70), 3u);
  EXPECT_EQ(shard_->last_inbox_seq(70), 0u);  // group_log is not the inbox

  auto dedup = shard_->get_group_dedup(70, 5, 1001);
  ASSERT_TRUE(dedup);
  EXPECT_EQ(dedup->msg_id, 555u);
  EXPECT_EQ(dedup->inbox_seq, 3u);
  EXPECT_FALSE(shard_->get_group_dedup(70, 6, 1001));
  EXPECT_FALSE(shard_->get_group_dedup(71, 5, 1001));
  EXPECT_FALSE(shard_->get_dedup(70, 1001));  // dedup and group_dedup are separate tables
  EXPECT_FALSE(shard_->get_rdedup(5, 1001));
}

TEST_F(GroupTables, LaterPutOfSameMemberWins) {
  WriteBatch b;
  b.put_member(1, 2, MemberRecord{.read_seq = 1});
  b.put_member(1, 2, MemberRecord{.read_seq = 2});
  commit(b);
  EXPECT_EQ(shard_->get_member(1, 2)->read_seq, 2u);
}

TEST_F(GroupTables, ListMembersPagesInUidOrderIncludingFormerMembers) {
  WriteBatch b;
  for (uint64_t uid = 25; uid >= 1; --uid) {
    // every third member has left; leave_seq records where
    b.put_member(7, uid, MemberRecord{.join_seq = uid, .leave_seq = uid % 3 == 0 ? uid + 1 : 0});
  }
  b.put_member(6, 100, MemberRecord{});  // neighbour gids must not leak in
  b.put_member(8, 0, MemberRecord{});
  commit(b);

  std::vector<uint64_t> uids;
  int former = 0;
  uint64_t after = 0;
  for (int page = 0; page < 10; ++page) {
    auto rows = shard_->list_members(7, after, 10);
    EXPECT_LE(rows.size(), 10u);
    for (auto& [uid, m] : rows) {
      EXPECT_EQ(m.join_seq, uid);
      former += m.leave_seq != 0;
      uids.push_back(uid);
    }
    if (rows.size() < 10) break;
    after = rows.back().first;
  }
  ASSERT_EQ(uids.size(), 25u);
  for (uint64_t i = 0; i < 25; ++i) EXPECT_EQ(uids[i], i + 1);
  EXPECT_EQ(former, 8);

  EXPECT_EQ(shard_->list_members(7, 24, 10).size(), 1u);
  EXPECT_TRUE(shard_->list_members(7, 25, 10).empty());
  EXPECT_TRUE(shard_->list_members(7, UINT64_MAX, 10).empty());
  EXPECT_TRUE(shard_->list_members(7, 0, 0).empty());
  EXPECT_TRUE(shard_->list_members(9, 0, 10).empty());
  auto six = shard_->list_members(6, 0, 10);
  ASSERT_EQ(six.size(), 1u);
  EXPECT_EQ(six[0].first, 100u);
}

TEST_F(GroupTables, ListMembersAfterUidIsExclusiveAtBothEnds) {
  WriteBatch b;
  b.put_member(3, 0, MemberRecord{});  // uid > after_uid: uid 0 is never listed
  b.put_member(3, 1, MemberRecord{});
  b.put_member(3, UINT64_MAX, MemberRecord{});
  commit(b);
  auto rows = shard_->list_members(3, 0, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, 1u);
  EXPECT_EQ(rows[1].first, UINT64_MAX);
  EXPECT_EQ(shard_->list_members(3, UINT64_MAX - 1, 10).size(), 1u);
  EXPECT_TRUE(shard_->get_member(3, 0));
}

TEST_F(GroupTables, ListUserGroupsDoesNotBleedIntoNeighbourUids) {
  WriteBatch b;
  for (uint64_t gid : {30, 10, 20}) b.put_user_group(5, gid, UserGroupRecord{.join_seq = gid});
  b.put_user_group(4, 1, UserGroupRecord{});
  b.put_user_group(4, UINT64_MAX, UserGroupRecord{});
  b.put_user_group(6, 0, UserGroupRecord{});
  b.put_user_group(6, 2, UserGroupRecord{.member = false});
  b.put_user_group(UINT64_MAX, 9, UserGroupRecord{});
  commit(b);

  auto rows = shard_->list_user_groups(5, 100);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].first, 10u);
  EXPECT_EQ(rows[1].first, 20u);
  EXPECT_EQ(rows[2].first, 30u);
  EXPECT_EQ(rows[2].second.join_seq, 30u);
  EXPECT_EQ(shard_->list_user_groups(5, 2).size(), 2u);
  EXPECT_TRUE(shard_->list_user_groups(5, 0).empty());
  auto six = shard_->list_user_groups(6, 100);
  ASSERT_EQ(six.size(), 2u);
  EXPECT_EQ(six[0].first, 0u);  // gid 0 is still inside uid 6's range
  EXPECT_FALSE(six[1].second.member);
  EXPECT_EQ(shard_->list_user_groups(4, 100).size(), 2u);
  EXPECT_EQ(shard_->list_user_groups(UINT64_MAX, 100).size(), 1u);
  EXPECT_TRUE(shard_->list_user_groups(0, 100).empty());
  EXPECT_TRUE(shard_->list_user_groups(7, 100).empty());
}

class GroupLog : public GroupTables {
 protected:
  void SetUp() override {
    GroupTables::SetUp();
    WriteBatch b;
    // gid 7: seqs 1..10. Neighbours gid 6 and gid 8 must not leak into its reads.
    for (uint64_t seq = 1; seq <= 10; ++seq) b.put_group_log(7, seq, bytes_of(log_value(7, seq)));
    b.put_group_log(6, 100, bytes_of(log_value(6, 100)));
    b.put_group_log(8, 1, bytes_of(log_value(8, 1)));
    b.put_group_log(8, 0, bytes_of(log_value(8, 0)));
    commit(b);
  }
  std::vector<uint64_t> read(uint64_t gid, uint64_t before, uint64_t after, uint64_t min_seq,
                             uint64_t max_seq, size_t limit) {
    std::vector<uint64_t> seqs;
    size_t n = shard_->read_group_log(
        gid, before, after, min_seq, max_seq, limit, [&](const InboxItem& it) {
          EXPECT_EQ(string_of(it.bytes), log_value(gid, it.inbox_seq));
          seqs.push_back(it.inbox_seq);
        });
    EXPECT_EQ(n, seqs.size());
    return seqs;
  }
  using Seqs = std::vector<uint64_t>;
};

TEST_F(GroupLog, ForwardFromAfterSeqOldestFirst) {
  EXPECT_EQ(read(7, 0, 0, 0, UINT64_MAX, 100), (Seqs{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(read(7, 0, 3, 0, UINT64_MAX, 100), (Seqs{4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(read(7, 0, 3, 0, UINT64_MAX, 2), (Seqs{4, 5}));
  EXPECT_EQ(read(7, 0, 10, 0, UINT64_MAX, 100), Seqs{});
  EXPECT_EQ(read(7, 0, UINT64_MAX, 0, UINT64_MAX, 100), Seqs{});
  EXPECT_EQ(read(7, 0, 0, 0, UINT64_MAX, 0), Seqs{});
  EXPECT_EQ(read(8, 0, 0, 0, UINT64_MAX, 100), Seqs{1});  // seq 0 is never in (min_seq, ..]
  EXPECT_EQ(read(9, 0, 0, 0, UINT64_MAX, 100), Seqs{});
}

TEST_F(GroupLog, ForwardIsClampedToMinAndMaxSeq) {
  EXPECT_EQ(read(7, 0, 0, 5, UINT64_MAX, 100), (Seqs{6, 7, 8, 9, 10}));  // min above after
  EXPECT_EQ(read(7, 0, 7, 5, UINT64_MAX, 100), (Seqs{8, 9, 10}));        // after above min
  EXPECT_EQ(read(7, 0, 3, 0, 6, 100), (Seqs{4, 5, 6}));                  // max is inclusive
  EXPECT_EQ(read(7, 0, 3, 5, 7, 100), (Seqs{6, 7}));
  EXPECT_EQ(read(7, 0, 3, 5, 8, 2), (Seqs{6, 7}));
  EXPECT_EQ(read(7, 0, 0, 5, 5, 100), Seqs{});  // empty window
  EXPECT_EQ(read(7, 0, 0, 6, 5, 100), Seqs{});  // inverted window
  EXPECT_EQ(read(7, 0, 0, 0, 0, 100), Seqs{});  // max_seq 0: nothing is visible
  EXPECT_EQ(read(7, 0, 6, 0, 6, 100), Seqs{});
}

TEST_F(GroupLog, BackwardFromBeforeSeqNewestFirst) {
  EXPECT_EQ(read(7, UINT64_MAX, 0, 0, UINT64_MAX, 100), (Seqs{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(read(7, UINT64_MAX, 0, 0, UINT64_MAX, 3), (Seqs{10, 9, 8}));
  EXPECT_EQ(read(7, 5, 0, 0, UINT64_MAX, 100), (Seqs{4, 3, 2, 1}));
  EXPECT_EQ(read(7, 5, 9, 0, UINT64_MAX, 100), (Seqs{4, 3, 2, 1}));  // after_seq is ignored
  EXPECT_EQ(read(7, 11, 0, 0, UINT64_MAX, 1), Seqs{10});
  EXPECT_EQ(read(7, 1, 0, 0, UINT64_MAX, 100), Seqs{});
  EXPECT_EQ(read(7, 5, 0, 0, UINT64_MAX, 0), Seqs{});
  EXPECT_EQ(read(6, 100, 0, 0, UINT64_MAX, 100), Seqs{});
  EXPECT_EQ(read(6, 101, 0, 0, UINT64_MAX, 100), Seqs{100});
  EXPECT_EQ(read(8, UINT64_MAX, 0, 0, UINT64_MAX, 100), Seqs{1});
  EXPECT_EQ(read(9, UINT64_MAX, 0, 0, UINT64_MAX, 100), Seqs{});  // past the last gid
  EXPECT_EQ(read(5, UINT64_MAX, 0, 0, UINT64_MAX, 100), Seqs{});  // before the first gid
}

TEST_F(GroupLog, BackwardIsClampedToMinAndMaxSeq) {
  EXPECT_EQ(read(7, UINT64_MAX, 0, 0, 6, 100), (Seqs{6, 5, 4, 3, 2, 1}));  // max below before
  EXPECT_EQ(read(7, 5, 0, 0, 8, 100), (Seqs{4, 3, 2, 1}));                 // before below max
  EXPECT_EQ(read(7, 9, 0, 3, UINT64_MAX, 100), (Seqs{8, 7, 6, 5, 4}));     // min is exclusive
  EXPECT_EQ(read(7, 9, 0, 3, 6, 100), (Seqs{6, 5, 4}));
  EXPECT_EQ(read(7, 9, 0, 3, 6, 2), (Seqs{6, 5}));
  EXPECT_EQ(read(7, 5, 0, 4, UINT64_MAX, 100), Seqs{});  // before - 1 == min
  EXPECT_EQ(read(7, 9, 0, 6, 6, 100), Seqs{});
  EXPECT_EQ(read(7, 9, 0, 0, 0, 100), Seqs{});
}

TEST_F(GroupTables, LastGroupSeqOfEmptyAndNeighbourGids) {
  EXPECT_EQ(shard_->last_group_seq(10), 0u);  // empty table
  put_log(10, 1);
  put_log(10, 7);
  put_log(12, 3);
  EXPECT_EQ(shard_->last_group_seq(10), 7u);
  EXPECT_EQ(shard_->last_group_seq(11), 0u);  // between two neighbours
  EXPECT_EQ(shard_->last_group_seq(12), 3u);  // last gid in the table
  EXPECT_EQ(shard_->last_group_seq(9), 0u);   // before the first gid
  EXPECT_EQ(shard_->last_group_seq(13), 0u);  // after the last gid
}

TEST_F(GroupTables, LastGroupSeqAtGidAndSeqExtremes) {
  EXPECT_EQ(shard_->last_group_seq(0), 0u);
  EXPECT_EQ(shard_->last_group_seq(UINT64_MAX), 0u);
  put_log(0, 4);
  put_log(UINT64_MAX, 2);
  put_log(5, UINT64_MAX);
  EXPECT_EQ(shard_->last_group_seq(0), 4u);
  EXPECT_EQ(shard_->last_group_seq(UINT64_MAX), 2u);
  EXPECT_EQ(shard_->last_group_seq(5), UINT64_MAX);
  EXPECT_EQ(shard_->last_group_seq(4), 0u);
  EXPECT_EQ(shard_->last_group_seq(6), 0u);
  EXPECT_EQ(shard_->last_group_seq(UINT64_MAX - 1), 0u);
}

TEST_F(GroupTables, GroupDedupExpiryDeletesOnlyOldRows) {
  WriteBatch b;
  for (uint64_t i = 0; i < 200; ++i) {
    int64_t t = i % 2 == 0 ? 100 : 5000;  // old and young rows interleaved
    b.put_group_dedup(i / 20, i / 10, i, DedupRecord{.msg_id = i, .server_time_ms = t});
    b.put_dedup(i / 10, i, DedupRecord{.msg_id = i, .server_time_ms = t});
  }
  commit(b);
  WriteBatch expire;
  expire.expire_dedup(1000, 1000);
  commit(expire);
  settle(*shard_);
  for (uint64_t i = 0; i < 200; ++i) {
    EXPECT_EQ(shard_->get_group_dedup(i / 20, i / 10, i).has_value(), i % 2 == 1) << i;
    EXPECT_EQ(shard_->get_dedup(i / 10, i).has_value(), i % 2 == 1) << i;
  }
}

TEST_F(GroupTables, GroupDedupExpiryIsBoundedPerCommitAndEventuallyReachesEveryRow) {
  WriteBatch b;
  for (uint64_t i = 0; i < 1000; ++i) {
    int64_t t = i < 500 ? 5000 : 100;  // young rows first, old rows at the end of the table
    b.put_group_dedup(1, 2, i, DedupRecord{.msg_id = i, .server_time_ms = t});
  }
  b.put_dedup(1, 1, DedupRecord{.server_time_ms = 100});  // a short table must not disturb it
  commit(b);
  auto count = [&] {
    int n = 0;
    for (uint64_t i = 0; i < 1000; ++i) n += shard_->get_group_dedup(1, 2, i).has_value();
    return n;
  };
  WriteBatch expire;
  expire.expire_dedup(1000, 10);  // deletes <= 10 rows, visits <= 40 per commit
  commit(expire);
  settle(*shard_);
  EXPECT_EQ(count(), 1000);  // the first 40 rows are young
  EXPECT_FALSE(shard_->get_dedup(1, 1));
  for (int i = 0; i < 30; ++i) {
    commit(expire);
    settle(*shard_);
  }
  const int mid = count();
  EXPECT_GE(mid, 1000 - 31 * 10);  // never more than 10 per commit
  EXPECT_LT(mid, 1000);
  for (int i = 0; i < 100; ++i) {
    commit(expire);
    settle(*shard_);
  }
  EXPECT_EQ(count(), 500);
  for (uint64_t i = 0; i < 500; ++i) EXPECT_TRUE(shard_->get_group_dedup(1, 2, i)) << i;
}

TEST_F(GroupTables, GroupRowsSurviveReopen) {
  WriteBatch b;
  b.put_group(named_group(9, "n"));
  b.put_member(9, 1, MemberRecord{.role = GroupRole::Admin});
  b.put_group_log(9, 1, bytes_of(log_value(9, 1)));
  commit(b);
  shard_.reset();
  shard_ = open_shard(path());
  ASSERT_TRUE(shard_);
  EXPECT_EQ(shard_->get_group(9)->name, "n");
  EXPECT_EQ(shard_->get_member(9, 1)->role, GroupRole::Admin);
  EXPECT_EQ(shard_->last_group_seq(9), 1u);
}

// Writes an environment the way the server did before the group tables existed: nine named
// databases (maxdbs 9), a meta row, an inbox row and a dedup and an rdedup row.
void make_pre_group_env(const std::string& dir) {
  std::filesystem::create_directories(dir);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 9), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, 1 << 20), 0);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbis[9];
  const char* names[9] = {"users",      "users_by_name", "devices", "inbox", "convs",
                          "conv_index", "dedup",         "rdedup",  "meta"};
  for (int i = 0; i < 9; ++i) ASSERT_EQ(mdb_dbi_open(txn, names[i], MDB_CREATE, &dbis[i]), 0);
  uint8_t meta_key[] = {'l', 'a', 's', 't'};
  uint8_t meta_value[8] = {42};  // little-endian 42
  MDB_val k{sizeof(meta_key), meta_key};
  MDB_val v{sizeof(meta_value), meta_value};
  ASSERT_EQ(mdb_put(txn, dbis[8], &k, &v, 0), 0);
  uint8_t inbox_key[16] = {};
  inbox_key[7] = 3;   // uid 3
  inbox_key[15] = 1;  // inbox_seq 1
  uint8_t entry[] = {'h', 'i'};
  k = MDB_val{sizeof(inbox_key), inbox_key};
  v = MDB_val{sizeof(entry), entry};
  ASSERT_EQ(mdb_put(txn, dbis[3], &k, &v, 0), 0);
  uint8_t dedup[kDedupRecordBytes];
  encode_dedup(DedupRecord{.msg_id = 77, .inbox_seq = 1, .server_time_ms = 5000}, dedup);
  auto dedup_key = keys::make(3, 0x5d1c9e2b77a04f11ull);  // (uid, client_msg_id)
  k = MDB_val{dedup_key.bytes.size(), dedup_key.bytes.data()};
  v = MDB_val{sizeof(dedup), dedup};
  ASSERT_EQ(mdb_put(txn, dbis[6], &k, &v, 0), 0);  // dedup
  ASSERT_EQ(mdb_put(txn, dbis[7], &k, &v, 0), 0);  // rdedup
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(GroupTablesUpgrade, DataDirWithoutGroupTablesOpensAndGainsThem) {
  TempDir dir;
  const std::string path = dir.path() + "/shard-000";
  make_pre_group_env(path);
  if (HasFatalFailure()) return;

  auto shard = open_shard(path);
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->get_meta_u64("last"), 42u);
  EXPECT_EQ(shard->last_inbox_seq(3), 1u);
  EXPECT_EQ(shard->get_dedup(3, 0x5d1c9e2b77a04f11ull)->msg_id, 77u);  // converted to dup sets
  EXPECT_EQ(shard->get_rdedup(3, 0x5d1c9e2b77a04f11ull)->server_time_ms, 5000);
  EXPECT_FALSE(shard->get_group(1));
  EXPECT_EQ(shard->last_group_seq(1), 0u);
  EXPECT_TRUE(shard->list_user_groups(3, 10).empty());

  WriteBatch b;
  b.put_group(named_group(1, "first"));
  b.put_user_group(3, 1, UserGroupRecord{});
  b.put_group_log(1, 1, bytes_of(log_value(1, 1)));
  b.put_group_dedup(1, 3, 5, DedupRecord{.msg_id = 8, .server_time_ms = 1});
  b.put_inbox(3, 2, bytes_of("again"));
  ASSERT_EQ(commit_visible(*shard, b), CommitStatus::Ok);
  shard.reset();

  shard = open_shard(path);
  ASSERT_TRUE(shard);
  EXPECT_EQ(shard->get_group(1)->name, "first");
  EXPECT_EQ(shard->list_user_groups(3, 10).size(), 1u);
  EXPECT_EQ(shard->last_group_seq(1), 1u);
  EXPECT_EQ(shard->get_group_dedup(1, 3, 5)->msg_id, 8u);
  EXPECT_EQ(shard->last_inbox_seq(3), 2u);
  EXPECT_EQ(shard->get_meta_u64("last"), 42u);
  WriteBatch expire;  // the expiry sweeps the new table too

  expire.expire_dedup(1000, 100);
  ASSERT_EQ(commit_visible(*shard, expire), CommitStatus::Ok);
  settle(*shard);
  EXPECT_FALSE(shard->get_group_dedup(1, 3, 5));
  EXPECT_EQ(shard->get_group(1)->name, "first");
}

}  // namespace
}  // namespace im::storage
