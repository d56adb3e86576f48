// temp_dir.h - a fresh directory per test (mkdtemp), removed with its contents afterwards,
// and small helpers shared by the storage tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "storage/shard.h"

namespace im::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "imstorage-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<Shard> open_shard(const std::string& dir, ShardOptions options = {}) {
  std::string error;
  auto shard = Shard::open(dir, 0, options, &error);
  EXPECT_NE(shard, nullptr) << error;
  return shard;
}

// Commits b the way the server does (writer, then the owner publishes) on one thread.
inline CommitStatus commit_visible(Shard& shard, const WriteBatch& b) {
  CommitStatus st = shard.commit(b);
  shard.publish_committed();
  return st;
}

// Waits until the checkpointer has applied everything to the tables and the overlay has let
// go of it: what a test of the tables themselves (expiry, map growth) needs first.
inline CommitStatus settle(Shard& shard) {
  CommitStatus st = shard.checkpoint();
  shard.publish_committed();
  return st;
}

inline std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string string_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace im::storage::testing
