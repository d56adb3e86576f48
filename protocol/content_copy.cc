// content_copy.cc - one case per Content member: adding a member to the union in im.fbs
// means adding one case to each switch here (-Wswitch flags a missing one).
#include "protocol/content_copy.h"

namespace im::protocol {

namespace {

flatbuffers::Offset<flatbuffers::String> copy_string(flatbuffers::FlatBufferBuilder& b,
                                                     const flatbuffers::String* s) {
  if (s == nullptr) return 0;
  return b.CreateString(s);
}

flatbuffers::Offset<void> copy_text(flatbuffers::FlatBufferBuilder& b,
                                    const im::proto::TextContent& src) {
  auto text = copy_string(b, src.text());
  return im::proto::CreateTextContent(b, text).Union();
}

}  // namespace

flatbuffers::Offset<void> copy_content(flatbuffers::FlatBufferBuilder& b, im::proto::Content type,
                                       const void* table) {
  if (table == nullptr) return 0;
  switch (type) {
    case im::proto::Content::NONE:
      return 0;
    case im::proto::Content::TextContent:
      return copy_text(b, *static_cast<const im::proto::TextContent*>(table));
  }
  return 0;  // a member this build does not know
}

size_t content_text_bytes(im::proto::Content type, const void* table) {
  if (table == nullptr) return 0;
  switch (type) {
    case im::proto::Content::NONE:
      return 0;
    case im::proto::Content::TextContent: {
      auto text = static_cast<const im::proto::TextContent*>(table)->text();
      return text == nullptr ? 0 : text->size();
    }
  }
  return 0;
}

}  // namespace im::protocol
