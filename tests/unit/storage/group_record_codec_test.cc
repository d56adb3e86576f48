// Round-trips of the group rows (storage/group_records.h) and strict rejection of truncated,
// over-long, wrong-version, out-of-range or random values.
#include <gtest/gtest.h>

#include <vector>

#include "storage/record_codec.h"

namespace im::storage {
namespace {

GroupRecord sample_group() {
  GroupRecord g;
  g.gid = 0x0102030405060708;
  g.name = "climbers";
  g.owner_uid = 42;
  g.announcement = "meet at 9";
  g.last_group_seq = UINT64_MAX - 1;
  g.member_count = 500;
  g.dismissed = true;
  g.created_ms = -7;
  g.updated_ms = 1735689600001;
  return g;
}

MemberRecord sample_member() {
  return MemberRecord{.role = GroupRole::Owner,
                      .join_seq = 3,
                      .leave_seq = 9,
                      .read_seq = 8,
                      .mention_seq = 7,
                      .muted = true,
                      .do_not_disturb = true,
                      .joined_ms = 123};
}

std::vector<uint8_t> encoded(const GroupRecord& g) {
  std::vector<uint8_t> out(group_record_bytes(g));
  encode_group(g, out.data());
  return out;
}

std::vector<uint8_t> encoded(const MemberRecord& m) {
  std::vector<uint8_t> out(kMemberRecordBytes);
  encode_member(m, out.data());
  return out;
}

std::vector<uint8_t> encoded(const UserGroupRecord& r) {
  std::vector<uint8_t> out(kUserGroupRecordBytes);
  encode_user_group(r, out.data());
  return out;
}

TEST(GroupRecordCodec, GroupRoundTrips) {
  auto back = decode_group(encoded(sample_group()));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->gid, 0x0102030405060708u);
  EXPECT_EQ(back->name, "climbers");
  EXPECT_EQ(back->owner_uid, 42u);
  EXPECT_EQ(back->announcement, "meet at 9");
  EXPECT_EQ(back->last_group_seq, UINT64_MAX - 1);
  EXPECT_EQ(back->member_count, 500u);
  EXPECT_TRUE(back->dismissed);
  EXPECT_EQ(back->created_ms, -7);
  EXPECT_EQ(back->updated_ms, 1735689600001);

  GroupRecord bare;
  bare.gid = 5;
  auto empty = decode_group(encoded(bare));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->gid, 5u);
  EXPECT_TRUE(empty->name.empty());
  EXPECT_TRUE(empty->announcement.empty());
  EXPECT_FALSE(empty->dismissed);
}

TEST(GroupRecordCodec, MemberAndUserGroupRoundTrip) {
  auto m = decode_member(encoded(sample_member()));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, GroupRole::Owner);
  EXPECT_EQ(m->join_seq, 3u);
  EXPECT_EQ(m->leave_seq, 9u);
  EXPECT_EQ(m->read_seq, 8u);
  EXPECT_EQ(m->mention_seq, 7u);
  EXPECT_TRUE(m->muted);
  EXPECT_TRUE(m->do_not_disturb);
  EXPECT_EQ(m->joined_ms, 123);
  auto plain = decode_member(encoded(MemberRecord{.role = GroupRole::Admin}));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->role, GroupRole::Admin);
  EXPECT_FALSE(plain->muted);
  EXPECT_FALSE(plain->do_not_disturb);

  auto ug = decode_user_group(encoded(UserGroupRecord{.member = false, .join_seq = 1ull << 63}));
  ASSERT_TRUE(ug);
  EXPECT_FALSE(ug->member);
  EXPECT_EQ(ug->join_seq, 1ull << 63);
  EXPECT_TRUE(decode_user_group(encoded(UserGroupRecord{}))->member);
}

TEST(GroupRecordCodec, EveryTruncationAndTrailingByteIsRejected) {
  auto g = encoded(sample_group());
  for (size_t n = 0; n < g.size(); ++n) EXPECT_FALSE(decode_group({g.data(), n})) << n;
  auto m = encoded(sample_member());
  for (size_t n = 0; n < m.size(); ++n) EXPECT_FALSE(decode_member({m.data(), n})) << n;
  auto u = encoded(UserGroupRecord{.member = true, .join_seq = 4});
  for (size_t n = 0; n < u.size(); ++n) EXPECT_FALSE(decode_user_group({u.data(), n})) << n;

  g.push_back(0);
  EXPECT_FALSE(decode_group(g));
  m.push_back(0);
  EXPECT_FALSE(decode_member(m));
  u.push_back(0);
  EXPECT_FALSE(decode_user_group(u));
}

TEST(GroupRecordCodec, WrongVersionBadEnumsAndBadFlagsAreRejected) {
  auto g = encoded(sample_group());
  g[0] = kRecordVersion + 1;
  EXPECT_FALSE(decode_group(g));
  g = encoded(sample_group());
  g[1 + 8 + 8 + 8 + 4] = 2;  // dismissed must be 0 or 1
  EXPECT_FALSE(decode_group(g));
  g = encoded(sample_group());
  for (int i = 0; i < 4; ++i) g[1 + 8 + 8 + 8 + 4 + 1 + 8 + 8 + i] = 0xff;  // name length
  EXPECT_FALSE(decode_group(g));

  auto m = encoded(sample_member());
  m[0] = 0;
  EXPECT_FALSE(decode_member(m));
  m = encoded(sample_member());
  m[1] = 3;  // role past Owner
  EXPECT_FALSE(decode_member(m));
  m = encoded(sample_member());
  m[1 + 1 + 32] = 2;  // muted
  EXPECT_FALSE(decode_member(m));
  m = encoded(sample_member());
  m[1 + 1 + 32 + 1] = 2;  // do_not_disturb
  EXPECT_FALSE(decode_member(m));

  auto u = encoded(UserGroupRecord{});
  u[1] = 2;  // member flag
  EXPECT_FALSE(decode_user_group(u));
  u = encoded(UserGroupRecord{});
  u[0] = 9;
  EXPECT_FALSE(decode_user_group(u));
}

TEST(GroupRecordCodec, RandomGarbageNeverCrashes) {
  uint32_t x = 777;
  std::vector<uint8_t> buf;
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    x = x * 1664525 + 1013904223;
    buf.resize(x % 80);
    for (auto& b : buf) {
      x = x * 1664525 + 1013904223;
      b = static_cast<uint8_t>(x >> 24);
    }
    if (!buf.empty() && round % 2 == 0) buf[0] = kRecordVersion;
    decoded += decode_group(buf).has_value();
    decoded += decode_member(buf).has_value();
    decoded += decode_user_group(buf).has_value();
  }
  EXPECT_LT(decoded, 200);  // garbage almost never has the exact shape of a row
}

}  // namespace
}  // namespace im::storage
