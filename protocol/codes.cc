// codes.cc - the name and default reason of every status code in im.fbs (enum Code).
// The switches have no default case, so -Wswitch (an error here) flags a code added to the
// schema without a name and a reason. Pure functions, any thread.
#include "protocol/codes.h"

#include <cstdint>

namespace im::protocol {

const char* code_name(Code code) {
  switch (code) {
    case Code::Ok:
      return "Ok";
    case Code::BadFrame:
      return "BadFrame";
    case Code::FrameTooLarge:
      return "FrameTooLarge";
    case Code::UnknownType:
      return "UnknownType";
    case Code::ProtocolVersion:
      return "ProtocolVersion";
    case Code::NotLoggedIn:
      return "NotLoggedIn";
    case Code::AlreadyLoggedIn:
      return "AlreadyLoggedIn";
    case Code::AuthFailed:
      return "AuthFailed";
    case Code::TokenExpired:
      return "TokenExpired";
    case Code::Kicked:
      return "Kicked";
    case Code::IdleTimeout:
      return "IdleTimeout";
    case Code::SlowConsumer:
      return "SlowConsumer";
    case Code::ServerShutdown:
      return "ServerShutdown";
    case Code::UserDisabled:
      return "UserDisabled";
    case Code::BadRequest:
      return "BadRequest";
    case Code::InvalidUsername:
      return "InvalidUsername";
    case Code::WeakPassword:
      return "WeakPassword";
    case Code::UserExists:
      return "UserExists";
    case Code::UnknownUser:
      return "UnknownUser";
    case Code::Forbidden:
      return "Forbidden";
    case Code::TooManyRequests:
      return "TooManyRequests";
    case Code::UnknownGroup:
      return "UnknownGroup";
    case Code::NotMember:
      return "NotMember";
    case Code::GroupFull:
      return "GroupFull";
    case Code::GroupDismissed:
      return "GroupDismissed";
    case Code::MutedInGroup:
      return "MutedInGroup";
    case Code::NotAllowed:
      return "NotAllowed";
    case Code::StorageFull:
      return "StorageFull";
    case Code::StorageFailed:
      return "StorageFailed";
    case Code::Overloaded:
      return "Overloaded";
    case Code::Internal:
      return "Internal";
    case Code::ShuttingDown:
      return "ShuttingDown";
  }
  return "Unknown";
}

const char* code_description(Code code) {
  switch (code) {
    case Code::Ok:
      return "ok";
    case Code::BadFrame:
      return "the frame failed verification or the framing was broken";
    case Code::FrameTooLarge:
      return "the frame is larger than the server's max_frame_bytes";
    case Code::UnknownType:
      return "this server does not know the frame's body type";
    case Code::ProtocolVersion:
      return "this protocol version is not supported";
    case Code::NotLoggedIn:
      return "log in first: only Hello, Register and Ping are allowed";
    case Code::AlreadyLoggedIn:
      return "this connection is already logged in";
    case Code::AuthFailed:
      return "unknown user, wrong password or bad token";
    case Code::TokenExpired:
      return "the token has expired; log in with the password";
    case Code::Kicked:
      return "the same device logged in on another connection";
    case Code::IdleTimeout:
      return "no frame arrived within the idle timeout";
    case Code::SlowConsumer:
      return "the connection fell too far behind; reconnect and resync from your cursor";
    case Code::ServerShutdown:
      return "the server is stopping";
    case Code::UserDisabled:
      return "the account is banned or deleted";
    case Code::BadRequest:
      return "a field is missing or out of range";
    case Code::InvalidUsername:
      return "the username does not follow the rules";
    case Code::WeakPassword:
      return "the password must be 8 to 128 bytes long";
    case Code::UserExists:
      return "the username is already taken";
    case Code::UnknownUser:
      return "no such user";
    case Code::Forbidden:
      return "not allowed for this session";
    case Code::TooManyRequests:
      return "too many requests; slow down";
    case Code::UnknownGroup:
      return "no such group";
    case Code::NotMember:
      return "not a member of the group";
    case Code::GroupFull:
      return "the group is at its maximum size";
    case Code::GroupDismissed:
      return "the group was dismissed: its history can be read, nothing more";
    case Code::MutedInGroup:
      return "an admin muted you in this group";
    case Code::NotAllowed:
      return "your role in the group does not allow this";
    case Code::StorageFull:
      return "storage is full: writes are refused, reads and logins still work; retry later";
    case Code::StorageFailed:
      return "a storage shard stopped after an I/O error; retry later";
    case Code::Overloaded:
      return "the server is overloaded; retry later";
    case Code::Internal:
      return "internal server error; retry later";
    case Code::ShuttingDown:
      return "the server stopped taking writes; retry later";
  }
  return "unknown status code";
}

bool code_is_retryable(Code code) {
  auto value = static_cast<uint16_t>(code);
  return value >= 500 && value < 600;
}

}  // namespace im::protocol
