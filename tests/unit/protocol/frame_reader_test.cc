// frame_reader_test.cc - FrameReader splits a byte stream into length-prefixed frames
// however the stream is chunked, and refuses bad lengths before buffering anything.
#include "protocol/frame_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace im::protocol {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes payload(size_t size, uint8_t seed) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

Bytes stream_of(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const auto& f : frames) append_frame(out, f);
  return out;
}

// Feeds `stream` in chunks cut at `cuts` and collects every frame handed out.
struct Collector {
  std::vector<Bytes> frames;
  bool operator()(std::span<const uint8_t> frame) {
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  }
};

TEST(FrameReader, OneFrame) {
  FrameReader reader(1024);
  Bytes stream = stream_of({payload(10, 1)});
  Collector got;
  EXPECT_EQ(reader.feed(stream, got), ReadStatus::Ok);
  ASSERT_EQ(got.frames.size(), 1u);
  EXPECT_EQ(got.frames[0], payload(10, 1));
  EXPECT_FALSE(reader.has_partial());
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, ManyFramesInOneChunkAreViewsIntoTheChunk) {
  FrameReader reader(1024);
  std::vector<Bytes> frames = {payload(1, 1), payload(100, 2), payload(1024, 3), payload(3, 4)};
  Bytes stream = stream_of(frames);
  std::vector<const uint8_t*> starts;
  Collector got;
  auto status = reader.feed(stream, [&](std::span<const uint8_t> f) {
    starts.push_back(f.data());
    return got(f);
  });
  EXPECT_EQ(status, ReadStatus::Ok);
  EXPECT_EQ(got.frames, frames);
  for (const uint8_t* p : starts) {
    EXPECT_GE(p, stream.data());
    EXPECT_LT(p, stream.data() + stream.size());
  }
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, SplitAtEveryByteBoundary) {
  std::vector<Bytes> frames = {payload(5, 1), payload(1, 2), payload(300, 3), payload(2, 4)};
  Bytes stream = stream_of(frames);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameReader reader(512);
    Collector got;
    std::span<const uint8_t> all(stream);
    ASSERT_EQ(reader.feed(all.first(cut), got), ReadStatus::Ok) << "cut " << cut;
    ASSERT_EQ(reader.feed(all.subspan(cut), got), ReadStatus::Ok) << "cut " << cut;
    EXPECT_EQ(got.frames, frames) << "cut " << cut;
    EXPECT_EQ(reader.buffered_bytes(), 0u) << "cut " << cut;
  }
}

TEST(FrameReader, OneByteAtATime) {
  std::vector<Bytes> frames = {payload(5, 1), payload(1, 2), payload(300, 3)};
  Bytes stream = stream_of(frames);
  FrameReader reader(512);
  Collector got;
  for (size_t i = 0; i < stream.size(); ++i) {
    size_t frames_before = got.frames.size();
    ASSERT_EQ(reader.feed(std::span<const uint8_t>(&stream[i], 1), got), ReadStatus::Ok);
    // A frame that just completed releases the assembly buffer.
    if (got.frames.size() > frames_before) {
      EXPECT_FALSE(reader.has_partial());
    } else {
      EXPECT_TRUE(reader.has_partial());
    }
  }
  EXPECT_EQ(got.frames, frames);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, SplitAtEveryPairOfBoundaries) {
  std::vector<Bytes> frames = {payload(3, 1), payload(9, 2), payload(1, 3)};
  Bytes stream = stream_of(frames);
  std::span<const uint8_t> all(stream);
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      FrameReader reader(64);
      Collector got;
      ASSERT_EQ(reader.feed(all.subspan(0, a), got), ReadStatus::Ok);
      ASSERT_EQ(reader.feed(all.subspan(a, b - a), got), ReadStatus::Ok);
      ASSERT_EQ(reader.feed(all.subspan(b), got), ReadStatus::Ok);
      ASSERT_EQ(got.frames, frames) << a << "," << b;
    }
  }
}

TEST(FrameReader, FrameOfExactlyMaxBytesIsAccepted) {
  FrameReader reader(256);
  Bytes stream = stream_of({payload(256, 9)});
  Collector got;
  EXPECT_EQ(reader.feed(stream, got), ReadStatus::Ok);
  ASSERT_EQ(got.frames.size(), 1u);
}

TEST(FrameReader, OversizedLengthRefusedBeforeBuffering) {
  FrameReader reader(1024);
  Bytes prefix(4);
  write_le32(prefix.data(), 1025);
  Collector got;
  EXPECT_EQ(reader.feed(prefix, got), ReadStatus::TooLarge);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  EXPECT_TRUE(got.frames.empty());
}

TEST(FrameReader, HugeLengthSplitInsidePrefixRefusedWithoutAllocation) {
  for (size_t cut = 1; cut < 4; ++cut) {
    FrameReader reader(1024);
    Bytes prefix(4);
    write_le32(prefix.data(), 0xFFFFFFFFu);
    std::span<const uint8_t> all(prefix);
    Collector got;
    EXPECT_EQ(reader.feed(all.first(cut), got), ReadStatus::Ok);
    EXPECT_EQ(reader.buffered_bytes(), cut);
    EXPECT_EQ(reader.feed(all.subspan(cut), got), ReadStatus::TooLarge);
    EXPECT_EQ(reader.buffered_bytes(), 0u);
    EXPECT_FALSE(reader.has_partial());
  }
}

TEST(FrameReader, OversizedAfterGoodFramesDeliversTheGoodOnes) {
  FrameReader reader(16);
  Bytes stream = stream_of({payload(4, 1)});
  Bytes bad(4);
  write_le32(bad.data(), 17);
  stream.insert(stream.end(), bad.begin(), bad.end());
  Collector got;
  EXPECT_EQ(reader.feed(stream, got), ReadStatus::TooLarge);
  EXPECT_EQ(got.frames.size(), 1u);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, ZeroLengthRefused) {
  FrameReader reader(1024);
  Bytes zero(4, 0);
  Collector got;
  EXPECT_EQ(reader.feed(zero, got), ReadStatus::Empty);
  EXPECT_TRUE(got.frames.empty());
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, ZeroLengthSplitInsidePrefixRefused) {
  FrameReader reader(1024);
  Bytes zero(4, 0);
  std::span<const uint8_t> all(zero);
  Collector got;
  EXPECT_EQ(reader.feed(all.first(2), got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed(all.subspan(2), got), ReadStatus::Empty);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, ErrorsAreFinal) {
  FrameReader reader(8);
  Bytes bad(4);
  write_le32(bad.data(), 9);
  Collector got;
  EXPECT_EQ(reader.feed(bad, got), ReadStatus::TooLarge);
  Bytes good = stream_of({payload(2, 1)});
  EXPECT_EQ(reader.feed(good, got), ReadStatus::TooLarge);
  EXPECT_TRUE(got.frames.empty());
}

TEST(FrameReader, StoppedLeavesTheRestUnread) {
  FrameReader reader(64);
  Bytes stream = stream_of({payload(3, 1), payload(4, 2), payload(5, 3)});
  int calls = 0;
  auto stop_after_first = [&](std::span<const uint8_t>) { return ++calls < 1; };
  EXPECT_EQ(reader.feed(stream, stop_after_first), ReadStatus::Stopped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  // The stream position is lost, so the reader stays stopped.
  Collector got;
  EXPECT_EQ(reader.feed(stream, got), ReadStatus::Stopped);
  EXPECT_TRUE(got.frames.empty());
}

TEST(FrameReader, StoppedOnAFrameAssembledAcrossChunks) {
  FrameReader reader(64);
  Bytes stream = stream_of({payload(10, 1), payload(4, 2)});
  std::span<const uint8_t> all(stream);
  int calls = 0;
  auto stop = [&](std::span<const uint8_t>) {
    ++calls;
    return false;
  };
  EXPECT_EQ(reader.feed(all.first(6), stop), ReadStatus::Ok);
  EXPECT_GT(reader.buffered_bytes(), 0u);
  EXPECT_EQ(reader.feed(all.subspan(6), stop), ReadStatus::Stopped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(FrameReader, EmptyChunksAreHarmless) {
  FrameReader reader(64);
  Bytes stream = stream_of({payload(10, 1)});
  std::span<const uint8_t> all(stream);
  Collector got;
  EXPECT_EQ(reader.feed({}, got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed(all.first(2), got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed({}, got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed(all.subspan(2, 5), got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed({}, got), ReadStatus::Ok);
  EXPECT_EQ(reader.feed(all.subspan(7), got), ReadStatus::Ok);
  ASSERT_EQ(got.frames.size(), 1u);
  EXPECT_EQ(got.frames[0], payload(10, 1));
}

TEST(FrameReader, LengthIsLittleEndian) {
  Bytes out;
  Bytes frame = payload(0x0102, 5);
  append_frame(out, frame);
  ASSERT_EQ(out.size(), 4u + 0x0102);
  EXPECT_EQ(out[0], 0x02);
  EXPECT_EQ(out[1], 0x01);
  EXPECT_EQ(out[2], 0x00);
  EXPECT_EQ(out[3], 0x00);
  EXPECT_EQ(read_le32(out.data()), 0x0102u);
}

}  // namespace
}  // namespace im::protocol
