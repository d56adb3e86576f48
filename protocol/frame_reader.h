// frame_reader.h - splits a TCP byte stream into frames: [u32 little-endian length][bytes].
// Owned by one connection (one thread). Complete frames inside one chunk are handed out as
// views into that chunk without copying; only a frame split across chunks is assembled in
// a private buffer, which is released once empty. A length over max_frame_bytes (or zero)
// is refused before anything is allocated.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace im::protocol {

constexpr size_t kLengthPrefixBytes = 4;

enum class ReadStatus : uint8_t {
  Ok,        // all input consumed (a partial frame may be buffered)
  TooLarge,  // a length prefix over the limit: close the connection
  Empty,     // a zero length prefix: close the connection
  Stopped,   // on_frame returned false: the rest of the input was not read
};
// Every status but Ok is final: the reader does not know where the next frame would start,
// so later calls to feed() return the same status without reading (close the connection).

class FrameReader {
 public:
  explicit FrameReader(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Calls on_frame(std::span<const uint8_t>) -> bool for every complete frame, in order.
  // The span is valid only during the call (it may point into `data` or into the reader).
  template <typename OnFrame>
  ReadStatus feed(std::span<const uint8_t> data, OnFrame&& on_frame);

  bool has_partial() const { return !partial_.empty(); }
  size_t buffered_bytes() const { return partial_.size(); }

 private:
  ReadStatus fail(ReadStatus status) {
    std::vector<uint8_t>().swap(partial_);
    status_ = status;
    return status;
  }

  uint32_t max_frame_bytes_;
  ReadStatus status_ = ReadStatus::Ok;  // once not Ok, the stream is dead: feed returns it
  std::vector<uint8_t> partial_;        // prefix + body of an incomplete frame
};

inline uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

inline void write_le32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}

// Appends [length][bytes] to out.
inline void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> frame) {
  size_t at = out.size();
  out.resize(at + kLengthPrefixBytes + frame.size());
  write_le32(out.data() + at, static_cast<uint32_t>(frame.size()));
  if (!frame.empty()) std::memcpy(out.data() + at + kLengthPrefixBytes, frame.data(), frame.size());
}

template <typename OnFrame>
ReadStatus FrameReader::feed(std::span<const uint8_t> data, OnFrame&& on_frame) {
  if (status_ != ReadStatus::Ok) return status_;
  // Finish a frame started in an earlier chunk.
  if (!partial_.empty()) {
    if (partial_.size() < kLengthPrefixBytes) {
      size_t need = kLengthPrefixBytes - partial_.size();
      size_t n = need < data.size() ? need : data.size();
      partial_.insert(partial_.end(), data.begin(), data.begin() + n);
      data = data.subspan(n);
      if (partial_.size() < kLengthPrefixBytes) return ReadStatus::Ok;
      uint32_t length = read_le32(partial_.data());
      if (length == 0) return fail(ReadStatus::Empty);
      if (length > max_frame_bytes_) return fail(ReadStatus::TooLarge);
      partial_.reserve(kLengthPrefixBytes + length);
    }
    uint32_t length = read_le32(partial_.data());
    size_t have = partial_.size() - kLengthPrefixBytes;
    size_t n = length - have < data.size() ? length - have : data.size();
    partial_.insert(partial_.end(), data.begin(), data.begin() + n);
    data = data.subspan(n);
    if (partial_.size() - kLengthPrefixBytes < length) return ReadStatus::Ok;
    bool go_on = on_frame(std::span<const uint8_t>(partial_.data() + kLengthPrefixBytes, length));
    std::vector<uint8_t>().swap(partial_);
    if (!go_on) return fail(ReadStatus::Stopped);
  }
  // Whole frames straight from the chunk.
  while (data.size() >= kLengthPrefixBytes) {
    uint32_t length = read_le32(data.data());
    if (length == 0) return fail(ReadStatus::Empty);
    if (length > max_frame_bytes_) return fail(ReadStatus::TooLarge);
    if (data.size() - kLengthPrefixBytes < length) break;
    if (!on_frame(data.subspan(kLengthPrefixBytes, length))) return fail(ReadStatus::Stopped);
    data = data.subspan(kLengthPrefixBytes + length);
  }
  // The start of a frame whose rest comes in a later chunk (its length, if complete, was
  // checked above).
  if (!data.empty()) {
    if (data.size() >= kLengthPrefixBytes) {
      partial_.reserve(kLengthPrefixBytes + read_le32(data.data()));
    }
    partial_.insert(partial_.end(), data.begin(), data.end());
  }
  return ReadStatus::Ok;
}

}  // namespace im::protocol
