// pending_requests.h - requests written to the server and still awaiting their Result,
// keyed by req_id. Either a caller thread blocked in Client::request() (a Waiter on its
// stack) or one of the reader thread's own requests (re-login, sync, heartbeat). Bounded:
// at most max_requests from callers plus a few internal ones. Guarded by the Client's
// mutex; not thread-safe on its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "client/frame_decoders.h"
#include "client/status.h"
#include "protocol/im_generated.h"

namespace im::client {

// Where a blocked caller receives its answer. done, status and frame are written under
// the Client's mutex, then cv is notified.
struct Waiter {
  std::condition_variable cv;
  bool done = false;
  Status status;        // transport failure, or Ok when frame holds the answer
  ReceivedFrame frame;  // the Result / Pong
};

enum class InternalRequest : uint8_t { None, Login, Sync, Ping, GroupList, GroupSync };

struct PendingRequest {
  im::proto::Body type = im::proto::Body::NONE;  // of the request
  Waiter* waiter = nullptr;                      // set for caller requests
  InternalRequest internal = InternalRequest::None;
  int64_t deadline_ms = 0;  // steady clock; enforced by the reader thread for internal ones
  uint64_t gid = 0;         // InternalRequest::GroupSync: the group
};

class PendingRequests {
 public:
  // Login, Sync, Ping, GroupList and up to kMaxGroupSyncs GroupSyncs, with room to spare.
  static constexpr size_t kMaxGroupSyncs = 4;
  static constexpr size_t kMaxInternal = 8 + kMaxGroupSyncs;

  explicit PendingRequests(size_t max_requests) : max_requests_(max_requests) {}

  // False when req_id is already pending or the cap for its kind is reached.
  bool add(uint64_t req_id, const PendingRequest& request);
  std::optional<PendingRequest> take(uint64_t req_id);
  // Removes req_id only if it still belongs to waiter (a caller giving up).
  void forget(uint64_t req_id, const Waiter* waiter);
  // Internal requests past their deadline, removed.
  std::vector<PendingRequest> take_expired_internal(int64_t now_ms);
  // Everything, removed (the connection is gone).
  std::vector<PendingRequest> take_all();
  // The earliest internal deadline, or 0 when there is none.
  int64_t next_deadline_ms() const;

  size_t size() const { return map_.size(); }
  bool has_internal(InternalRequest kind) const;

 private:
  size_t max_requests_;
  size_t internal_count_ = 0;
  std::unordered_map<uint64_t, PendingRequest> map_;
};

}  // namespace im::client
