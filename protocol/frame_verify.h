// frame_verify.h - the only way received bytes become a Frame: the FlatBuffers Verifier
// with limits sized for our schema (not the library's loose defaults), plus the file
// identifier check. Pure function, any thread.
#pragma once

#include <cstdint>
#include <span>

#include "protocol/im_generated.h"

namespace im::protocol {

struct VerifyLimits {
  uint32_t max_depth = 16;      // Frame > Result > data > Conversation > last > nested entry ...
  uint32_t max_tables = 20000;  // a full page of entries nests a few tables per entry
};

// Returns the frame, or nullptr when the bytes are not a valid Frame.
const im::proto::Frame* verify_frame(std::span<const uint8_t> bytes,
                                     const VerifyLimits& limits = {});

}  // namespace im::protocol
