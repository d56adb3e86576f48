// status.cc - names of the SDK's local codes and the retry rule shared by all requests.
#include "client/status.h"

namespace im::client {

const char* status_name(Code code) {
  switch (static_cast<int>(code)) {
    case 900:
      return "NotConnected";
    case 901:
      return "Timeout";
    case 902:
      return "ConnectionLost";
    case 903:
      return "TooManyPending";
    case 904:
      return "BadResponse";
    case 905:
      return "WrongThread";
    case 906:
      return "Closed";
    default:
      return im::protocol::code_name(code);
  }
}

bool status_is_transport(Code code) {
  return code == kNotConnected || code == kTimeout || code == kConnectionLost;
}

bool status_is_retryable(Code code) {
  return status_is_transport(code) || im::protocol::code_is_retryable(code);
}

std::string Status::to_string() const {
  std::string out = status_name(code);
  out += " (" + std::to_string(static_cast<int>(code)) + ")";
  if (!reason.empty()) out += ": " + reason;
  return out;
}

}  // namespace im::client
