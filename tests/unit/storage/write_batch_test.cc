// WriteBatch: ops come back in order with their tables, clear() keeps the arena's capacity.
#include "storage/write_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/keys.h"

namespace im::storage {
namespace {

TEST(WriteBatch, OpsComeBackInOrderWithTablesKeysAndValues) {
  WriteBatch b;
  EXPECT_TRUE(b.empty());
  const uint8_t entry[] = {1, 2, 3};
  b.put_inbox(5, 9, entry);
  b.put_username("bob", 5);
  b.put_conv_index(5, 6, 9, true);
  b.put_meta_u64("last_msg_id", 0x0807060504030201);
  EXPECT_EQ(b.ops(), 4u);
  EXPECT_FALSE(b.empty());

  std::vector<Table> tables;
  std::vector<std::string> keys_seen;
  std::vector<std::string> values;
  b.view().for_each_put([&](Table t, std::span<const uint8_t> k, std::span<const uint8_t> v) {
    tables.push_back(t);
    keys_seen.emplace_back(k.begin(), k.end());
    values.emplace_back(v.begin(), v.end());
  });
  ASSERT_EQ(tables.size(), 4u);
  EXPECT_EQ(tables[0], Table::Inbox);
  EXPECT_EQ(tables[1], Table::UsersByName);
  EXPECT_EQ(tables[2], Table::ConvIndex);
  EXPECT_EQ(tables[3], Table::Meta);
  auto inbox_key = keys::make(5, 9);
  EXPECT_EQ(keys_seen[0], std::string(inbox_key.bytes.begin(), inbox_key.bytes.end()));
  EXPECT_EQ(values[0], std::string("\x01\x02\x03", 3));
  EXPECT_EQ(keys_seen[1], "bob");
  EXPECT_EQ(values[2], std::string("\x01", 1));
  EXPECT_EQ(keys_seen[3], "last_msg_id");
  EXPECT_EQ(values[3], std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
}

TEST(WriteBatch, ForEachPutStopsWhenCallbackReturnsFalse) {
  WriteBatch b;
  for (uint64_t i = 0; i < 10; ++i) b.put_meta_u64("k", i);
  int calls = 0;
  b.view().for_each_put(
      [&](Table, std::span<const uint8_t>, std::span<const uint8_t>) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
}

TEST(WriteBatch, KeysAreBigEndianSoTheySortNumerically) {
  auto a = keys::make(1, 0xff);
  auto b = keys::make(2, 0);
  EXPECT_LT(a.bytes, b.bytes);
  auto c = keys::make(0x100);
  auto d = keys::make(0xff);
  EXPECT_GT(c.bytes, d.bytes);
  EXPECT_EQ(keys::make(0x1122334455667788).field(0), 0x1122334455667788u);
}

TEST(WriteBatch, ClearKeepsCapacityAndResetsExpiry) {
  WriteBatch b;
  std::vector<uint8_t> entry(1000, 7);
  for (int i = 0; i < 100; ++i) b.put_inbox(1, i, entry);
  b.expire_dedup(1000, 50);
  EXPECT_EQ(b.expire_max_rows(), 50u);
  size_t bytes = b.bytes();
  EXPECT_GT(bytes, 100000u);
  const uint8_t* before = nullptr;
  b.view().for_each_put([&](Table, std::span<const uint8_t> k, std::span<const uint8_t>) {
    if (!before) before = k.data();
  });
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.ops(), 0u);
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_EQ(b.expire_max_rows(), 0u);
  // Refilling to the same size must reuse the same buffer (no reallocation).
  for (int i = 0; i < 100; ++i) b.put_inbox(1, i, entry);
  const uint8_t* after = nullptr;
  b.view().for_each_put([&](Table, std::span<const uint8_t> k, std::span<const uint8_t>) {
    if (!after) after = k.data();
  });
  EXPECT_EQ(before, after);
  EXPECT_EQ(b.bytes(), bytes);
}

TEST(WriteBatch, ExpiryAloneMakesTheBatchNonEmpty) {
  WriteBatch b;
  b.expire_dedup(1, 10);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.ops(), 0u);
}

}  // namespace
}  // namespace im::storage
