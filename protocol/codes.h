// codes.h - names and default reasons of the status codes in im.fbs (enum Code). The list
// is documented once, in docs/protocol.md; server, SDK, imcli and docs all use these.
#pragma once

#include "protocol/im_generated.h"

namespace im::protocol {

using Code = im::proto::Code;

// "AuthFailed", "StorageFull", ... ; "Unknown" for a number not in the list.
const char* code_name(Code code);
// A one-line human explanation, used as the reason when nothing more specific is known.
const char* code_description(Code code);
// True for 5xx codes: the same request (same client_msg_id) may be retried later.
bool code_is_retryable(Code code);

}  // namespace im::protocol
