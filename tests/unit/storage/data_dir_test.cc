// Data directory: manifest creation and strict parsing, shard naming, username routing, and
// atomic file writes that leave no temporary file behind.
#include "storage/data_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "temp_dir.h"

namespace im::storage {
namespace {

using testing::bytes_of;
using testing::TempDir;

bool write_text(const std::string& path, const std::string& text) {
  std::string error;
  return write_file_atomic(path, bytes_of(text), &error);
}

TEST(DataDir, CreatesDirectoryAndManifestThenReopensIt) {
  TempDir tmp;
  std::string data = tmp.path() + "/a/data";
  Manifest m;
  std::string error;
  ASSERT_TRUE(open_data_dir(data, 8, &m, &error)) << error;
  EXPECT_EQ(m.version, 3u);
  EXPECT_EQ(m.shards, 8u);
  EXPECT_GT(m.created_ms, 0);
  std::string text;
  ASSERT_TRUE(read_file(data + "/MANIFEST", &text));
  EXPECT_EQ(text, "imserver-data 3\nshards 8\ncreated_ms " + std::to_string(m.created_ms) + "\n");

  Manifest again;
  ASSERT_TRUE(open_data_dir(data, 32, &again, &error)) << error;  // shards_if_new is ignored
  EXPECT_EQ(again.shards, 8u);
  EXPECT_EQ(again.created_ms, m.created_ms);
}

// Versions 1 (plain inbox tables) and 2 (plain dedup tables) still open; once their shards
// have converted, the server marks the dir version 3, which builds that predate the conversion
// refuse.
TEST(DataDir, OlderVersionsOpenAndAreMarkedCurrent) {
  for (uint32_t old_version : {1u, 2u}) {
    TempDir tmp;
    const std::string head = "imserver-data " + std::to_string(old_version) + "\n";
    ASSERT_TRUE(write_text(tmp.path() + "/MANIFEST", head + "shards 4\ncreated_ms 7\n"));
    Manifest m;
    std::string error;
    ASSERT_TRUE(open_data_dir(tmp.path(), 16, &m, &error)) << error;
    EXPECT_EQ(m.version, old_version);
    EXPECT_EQ(m.shards, 4u);
    ASSERT_TRUE(mark_data_dir_current(tmp.path(), &m, &error)) << error;
    EXPECT_EQ(m.version, 3u);
    std::string text;
    ASSERT_TRUE(read_file(tmp.path() + "/MANIFEST", &text));
    EXPECT_EQ(text, "imserver-data 3\nshards 4\ncreated_ms 7\n");
    Manifest again;
    ASSERT_TRUE(open_data_dir(tmp.path(), 16, &again, &error)) << error;
    EXPECT_EQ(again.version, 3u);
    EXPECT_EQ(again.created_ms, 7);
  }
}

TEST(DataDir, CorruptOrUnknownManifestIsRejected) {
  const char* bad[] = {
      "",
      "imserver-data 4\nshards 8\ncreated_ms 1\n",
      "imserver-data 0\nshards 8\ncreated_ms 1\n",
      "imserver-data 1\nshards 0\ncreated_ms 1\n",
      "imserver-data 1\nshards 1025\ncreated_ms 1\n",
      "imserver-data 1\nshards -1\ncreated_ms 1\n",
      "imserver-data 1\nshards 8x\ncreated_ms 1\n",
      "imserver-data 1\nshards 8\n",
      "imserver-data 1\nshards 8\ncreated_ms 1",
      "imserver-data 1\nshards 8\ncreated_ms 1\nextra\n",
      "imserver-data 1\nshards 99999999999\ncreated_ms 1\n",
      "garbage\x01\x02",
  };
  for (const char* text : bad) {
    TempDir tmp;
    ASSERT_TRUE(write_text(tmp.path() + "/MANIFEST", text));
    Manifest m;
    std::string error;
    EXPECT_FALSE(open_data_dir(tmp.path(), 8, &m, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(DataDir, AcceptsMaxShardsAndRejectsBadNewShardCount) {
  TempDir tmp;
  ASSERT_TRUE(write_text(tmp.path() + "/MANIFEST", "imserver-data 1\nshards 1024\ncreated_ms 5\n"));
  Manifest m;
  std::string error;
  ASSERT_TRUE(open_data_dir(tmp.path(), 8, &m, &error)) << error;
  EXPECT_EQ(m.shards, 1024u);
  TempDir fresh;
  EXPECT_FALSE(open_data_dir(fresh.path(), 0, &m, &error));
  EXPECT_FALSE(open_data_dir(fresh.path(), 1025, &m, &error));
}

TEST(DataDir, ShardDirectoriesWithoutManifestAreRefused) {
  TempDir tmp;
  std::filesystem::create_directories(shard_dir(tmp.path(), 0));
  Manifest m;
  std::string error;
  EXPECT_FALSE(open_data_dir(tmp.path(), 8, &m, &error));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/MANIFEST"));
}

TEST(DataDir, ShardDirNamesArePadded) {
  EXPECT_EQ(shard_dir("/d", 0), "/d/shard-000");
  EXPECT_EQ(shard_dir("/d", 15), "/d/shard-015");
  EXPECT_EQ(shard_dir("/d", 1023), "/d/shard-1023");
}

TEST(DataDir, UsernameRoutingIsStableAndInRange) {
  EXPECT_EQ(shard_of_username("alice", 16), shard_of_username("alice", 16));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LT(shard_of_username("user" + std::to_string(i), 7), 7u);
  }
  EXPECT_EQ(shard_of_username("anything", 1), 0u);
  // XXH64 of the empty input with seed 0 is 0xEF46DB3751D8E999.
  EXPECT_EQ(shard_of_username("", 1000), 0xEF46DB3751D8E999ull % 1000);
  EXPECT_EQ(shard_of_uid(35, 16), 3u);
}

TEST(DataDir, WriteFileAtomicReplacesContentAndLeavesNoTempFile) {
  TempDir tmp;
  std::string path = tmp.path() + "/secret.key";
  ASSERT_TRUE(write_text(path, "first"));
  ASSERT_TRUE(write_text(path, "second"));
  std::string text;
  ASSERT_TRUE(read_file(path, &text));
  EXPECT_EQ(text, "second");
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(entry.path().filename(), "secret.key");
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(DataDir, WriteFileAtomicFailureReportsAndLeavesNoTempFile) {
  TempDir tmp;
  std::string error;
  std::filesystem::create_directories(tmp.path() + "/dir");
  // Renaming a file over a directory fails after the temp file was written.
  EXPECT_FALSE(write_file_atomic(tmp.path() + "/dir", bytes_of("x"), &error));
  EXPECT_FALSE(error.empty());
  int files = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator(tmp.path())) ++files;
  EXPECT_EQ(files, 1);  // only "dir"
  EXPECT_FALSE(read_file(tmp.path() + "/missing", &error));
}

}  // namespace
}  // namespace im::storage
