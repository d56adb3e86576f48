// content_copy.h - deep copies of a message's Content union value between builders, and
// the text size of a content value. The server uses them to turn a verified Send into a
// stored Message without knowing every content kind at the call site. Pure, any thread.
// Inputs must come from a verified frame: the copy trusts the source's offsets.
#pragma once

#include <cstddef>

#include "protocol/im_generated.h"

namespace im::protocol {

// Copies the union value `table` of kind `type` into `b`. Returns its offset, to be passed
// with the same `type` to the new table; 0 for Content::NONE, an unknown kind (from a newer
// client) or a null table.
flatbuffers::Offset<void> copy_content(flatbuffers::FlatBufferBuilder& b, im::proto::Content type,
                                       const void* table);

// Bytes of user text in the value (what max_text_bytes bounds); 0 when it has none.
size_t content_text_bytes(im::proto::Content type, const void* table);

}  // namespace im::protocol
