// status.h - how every SDK call reports its outcome: a Status (protocol Code + reason) and
// Result<T> (a Status plus a value when Ok). No exceptions for protocol or network errors.
// The SDK adds a few local codes (9xx) for failures that never reach the wire: no
// connection, a timeout, a lost connection. Plain values; any thread.
#pragma once

#include <string>
#include <utility>

#include "protocol/codes.h"

namespace im::client {

using Code = im::proto::Code;

// Local codes: produced by the SDK itself, never sent by a server. Numbers outside the
// protocol's list (docs/protocol.md), so they can share the Code type.
inline constexpr Code kNotConnected = static_cast<Code>(900);    // no connection / connect failed
inline constexpr Code kTimeout = static_cast<Code>(901);         // no Result within the timeout
inline constexpr Code kConnectionLost = static_cast<Code>(902);  // closed while waiting
inline constexpr Code kTooManyPending = static_cast<Code>(903);  // pending-request cap reached
inline constexpr Code kBadResponse = static_cast<Code>(904);     // Result without the expected data
inline constexpr Code kWrongThread = static_cast<Code>(905);     // blocking call from a callback
inline constexpr Code kClosed = static_cast<Code>(906);          // Client::close() was called

// "AuthFailed", "Timeout", ...: protocol names plus the local ones above.
const char* status_name(Code code);
// True when the same request may be sent again (5xx, and the local transport failures).
bool status_is_retryable(Code code);
// True for the local codes that mean "the transport failed" (900, 901, 902).
bool status_is_transport(Code code);

struct Status {
  Code code = Code::Ok;
  std::string reason;

  bool ok() const { return code == Code::Ok; }
  // "AuthFailed (202): wrong password"
  std::string to_string() const;
};

inline Status ok_status() {
  return {};
}
inline Status error_status(Code code, std::string reason) {
  return {code, std::move(reason)};
}

// A Status and, when ok(), a value. Accessing value() of a failed Result gives the
// default-constructed T (never undefined behaviour).
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  Code code() const { return status_.code; }
  const std::string& reason() const { return status_.reason; }
  const Status& status() const { return status_; }
  const T& value() const { return value_; }
  T& value() { return value_; }
  const T* operator->() const { return &value_; }
  T* operator->() { return &value_; }
  const T& operator*() const { return value_; }

 private:
  Status status_;
  T value_{};
};

}  // namespace im::client
