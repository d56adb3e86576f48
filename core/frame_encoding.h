// frame_encoding.h - the pieces every server-side frame builder shares (frames.cc,
// group_frames.cc): the thread's reused FlatBufferBuilder and finishing a Frame or an Ok
// Result into an already length-prefixed byte vector.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <vector>

#include "protocol/frame_reader.h"
#include "protocol/im_generated.h"

namespace im::core::encoding {

// Cleared and ready; one per thread, so steady-state encoding does not allocate.
inline flatbuffers::FlatBufferBuilder& builder() {
  thread_local flatbuffers::FlatBufferBuilder b(1024);
  b.Clear();
  return b;
}

inline void finish_frame(flatbuffers::FlatBufferBuilder& b, std::vector<uint8_t>& out,
                         uint64_t req_id, im::proto::Body type, flatbuffers::Offset<void> body) {
  auto frame = im::proto::CreateFrame(b, req_id, type, body);
  im::proto::FinishFrameBuffer(b, frame);
  protocol::append_frame(out, {b.GetBufferPointer(), b.GetSize()});
}

inline void finish_result(flatbuffers::FlatBufferBuilder& b, std::vector<uint8_t>& out,
                          uint64_t req_id, im::proto::ResultData type,
                          flatbuffers::Offset<void> data) {
  auto result = im::proto::CreateResult(b, im::proto::Code::Ok, 0, type, data);
  finish_frame(b, out, req_id, im::proto::Body::Result, result.Union());
}

}  // namespace im::core::encoding
