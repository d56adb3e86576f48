// Round-trips of every row type and strict rejection of truncated or garbage values.
#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <vector>

namespace im::storage {
namespace {

UserRecord sample_user() {
  UserRecord u;
  u.uid = 0x0102030405060708;
  u.username = "alice";
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$salt$hash";
  u.status = UserStatus::Banned;
  u.created_ms = -5;
  return u;
}

std::vector<uint8_t> encoded(const UserRecord& u) {
  std::vector<uint8_t> out(user_record_bytes(u));
  encode_user(u, out.data());
  return out;
}

TEST(RecordCodec, UserRoundTrips) {
  auto bytes = encoded(sample_user());
  auto back = decode_user(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->uid, 0x0102030405060708u);
  EXPECT_EQ(back->username, "alice");
  EXPECT_EQ(back->password_hash, sample_user().password_hash);
  EXPECT_EQ(back->status, UserStatus::Banned);
  EXPECT_EQ(back->created_ms, -5);
}

TEST(RecordCodec, UserWithEmptyStringsRoundTrips) {
  UserRecord u;
  u.uid = 7;
  auto back = decode_user(encoded(u));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->uid, 7u);
  EXPECT_TRUE(back->username.empty());
  EXPECT_TRUE(back->password_hash.empty());
}

TEST(RecordCodec, DeviceConvDedupRoundTrip) {
  DeviceRecord d{.acked_inbox_seq = UINT64_MAX, .last_seen_ms = 1234567890123, .platform = 3};
  uint8_t db[kDeviceRecordBytes];
  encode_device(d, db);
  auto d2 = decode_device(db);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->acked_inbox_seq, UINT64_MAX);
  EXPECT_EQ(d2->last_seen_ms, 1234567890123);
  EXPECT_EQ(d2->platform, 3);

  ConvRecord c{
      .last_inbox_seq = 9, .read_inbox_seq = 4, .unread = 5, .muted = true, .updated_ms = 42};
  uint8_t cb[kConvRecordBytes];
  encode_conv(c, cb);
  auto c2 = decode_conv(cb);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->last_inbox_seq, 9u);
  EXPECT_EQ(c2->read_inbox_seq, 4u);
  EXPECT_EQ(c2->unread, 5u);
  EXPECT_TRUE(c2->muted);
  EXPECT_EQ(c2->updated_ms, 42);

  DedupRecord r{.msg_id = 1ull << 63, .inbox_seq = 77, .server_time_ms = 1735689600001};
  uint8_t rb[kDedupRecordBytes];
  encode_dedup(r, rb);
  auto r2 = decode_dedup(rb);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->msg_id, 1ull << 63);
  EXPECT_EQ(r2->inbox_seq, 77u);
  EXPECT_EQ(r2->server_time_ms, 1735689600001);
}

TEST(RecordCodec, FieldsAreLittleEndianAfterVersionByte) {
  DedupRecord r{.msg_id = 0x0102, .inbox_seq = 0, .server_time_ms = 0};
  uint8_t b[kDedupRecordBytes];
  encode_dedup(r, b);
  EXPECT_EQ(b[0], kRecordVersion);
  EXPECT_EQ(b[1], 0x02);
  EXPECT_EQ(b[2], 0x01);
}

TEST(RecordCodec, EveryTruncationIsRejected) {
  auto user = encoded(sample_user());
  for (size_t n = 0; n < user.size(); ++n) {
    EXPECT_FALSE(decode_user({user.data(), n})) << n;
  }
  uint8_t c[kConvRecordBytes];
  encode_conv(ConvRecord{}, c);
  for (size_t n = 0; n < sizeof(c); ++n) EXPECT_FALSE(decode_conv({c, n})) << n;
  uint8_t d[kDeviceRecordBytes];
  encode_device(DeviceRecord{}, d);
  for (size_t n = 0; n < sizeof(d); ++n) EXPECT_FALSE(decode_device({d, n})) << n;
  uint8_t r[kDedupRecordBytes];
  encode_dedup(DedupRecord{}, r);
  for (size_t n = 0; n < sizeof(r); ++n) EXPECT_FALSE(decode_dedup({r, n})) << n;
}

TEST(RecordCodec, TrailingBytesWrongVersionAndBadEnumsAreRejected) {
  auto user = encoded(sample_user());
  user.push_back(0);
  EXPECT_FALSE(decode_user(user));

  auto bad_version = encoded(sample_user());
  bad_version[0] = 2;
  EXPECT_FALSE(decode_user(bad_version));

  auto bad_status = encoded(sample_user());
  bad_status[1 + 8] = 3;  // status byte after version and uid
  EXPECT_FALSE(decode_user(bad_status));

  uint8_t c[kConvRecordBytes];
  encode_conv(ConvRecord{}, c);
  c[1 + 8 + 8 + 4] = 2;  // muted must be 0 or 1
  EXPECT_FALSE(decode_conv(c));
}

TEST(RecordCodec, HugeStringLengthDoesNotCrash) {
  auto user = encoded(sample_user());
  // username length field: after version(1) uid(8) status(1) created(8)
  for (int i = 0; i < 4; ++i) user[18 + i] = 0xff;
  EXPECT_FALSE(decode_user(user));
}

TEST(RecordCodec, RandomGarbageNeverCrashes) {
  uint32_t x = 12345;
  std::vector<uint8_t> buf;
  for (int round = 0; round < 20000; ++round) {
    x = x * 1664525 + 1013904223;
    buf.resize(x % 64);
    for (auto& b : buf) {
      x = x * 1664525 + 1013904223;
      b = static_cast<uint8_t>(x >> 24);
    }
    if (!buf.empty() && round % 2 == 0) buf[0] = kRecordVersion;
    (void)decode_user(buf);
    (void)decode_device(buf);
    (void)decode_conv(buf);
    (void)decode_dedup(buf);
  }
}

}  // namespace
}  // namespace im::storage
