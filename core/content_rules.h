// content_rules.h - what a message's content must satisfy before it is routed anywhere
// (1:1 Send and GroupSend alike): a known content type, text within max_text_bytes, a
// bounded number of mentions. Returns an empty string when fine, else the reason.
#pragma once

#include <string_view>

#include "protocol/content_copy.h"
#include "protocol/im_generated.h"

namespace im::core {

constexpr size_t kMaxMentions = 100;

inline std::string_view check_content(im::proto::Content type, const void* content,
                                      const flatbuffers::Vector<uint64_t>* mentions,
                                      uint32_t max_text_bytes) {
  if (type != im::proto::Content::TextContent) return "unsupported content type";
  size_t text = protocol::content_text_bytes(type, content);
  if (text == 0 || text > max_text_bytes) return "text must be 1..max_text_bytes bytes";
  if (mentions && mentions->size() > kMaxMentions) return "too many mentions";
  return {};
}

}  // namespace im::core
