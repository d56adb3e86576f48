// frame_verify.cc - turns received bytes into a Frame only after the FlatBuffers Verifier
// accepted them under our limits. Pure function, any thread; never reads past `bytes`.
// Nested InboxEntry blobs are verified too (the library re-verifies each nested buffer
// with its own default limits; InboxEntry is shallow and acyclic, so that stays bounded).
#include "protocol/frame_verify.h"

namespace im::protocol {

const im::proto::Frame* verify_frame(std::span<const uint8_t> bytes, const VerifyLimits& limits) {
  // Root offset + file identifier: anything shorter cannot be a frame, and reading the
  // identifier of a shorter buffer would read past its end.
  if (bytes.size() < 2 * sizeof(flatbuffers::uoffset_t)) return nullptr;
  if (bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) return nullptr;
  if (!im::proto::FrameBufferHasIdentifier(bytes.data())) return nullptr;

  flatbuffers::Verifier::Options options;
  options.max_depth = limits.max_depth;
  options.max_tables = limits.max_tables;
  options.check_alignment = true;
  options.check_nested_flatbuffers = true;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!im::proto::VerifyFrameBuffer(verifier)) return nullptr;
  return im::proto::GetFrame(bytes.data());
}

}  // namespace im::protocol
