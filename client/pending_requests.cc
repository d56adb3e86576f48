// pending_requests.cc - the bounded req_id -> waiter map.
#include "client/pending_requests.h"

namespace im::client {

bool PendingRequests::add(uint64_t req_id, const PendingRequest& request) {
  bool internal = request.internal != InternalRequest::None;
  if (internal && internal_count_ >= kMaxInternal) return false;
  if (!internal && map_.size() - internal_count_ >= max_requests_) return false;
  if (!map_.emplace(req_id, request).second) return false;
  if (internal) internal_count_++;
  return true;
}

std::optional<PendingRequest> PendingRequests::take(uint64_t req_id) {
  auto it = map_.find(req_id);
  if (it == map_.end()) return std::nullopt;
  PendingRequest request = it->second;
  map_.erase(it);
  if (request.internal != InternalRequest::None) internal_count_--;
  return request;
}

void PendingRequests::forget(uint64_t req_id, const Waiter* waiter) {
  auto it = map_.find(req_id);
  if (it != map_.end() && it->second.waiter == waiter) map_.erase(it);
}

std::vector<PendingRequest> PendingRequests::take_expired_internal(int64_t now_ms) {
  std::vector<PendingRequest> expired;
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.internal != InternalRequest::None && it->second.deadline_ms <= now_ms) {
      expired.push_back(it->second);
      it = map_.erase(it);
      internal_count_--;
    } else {
      ++it;
    }
  }
  return expired;
}

std::vector<PendingRequest> PendingRequests::take_all() {
  std::vector<PendingRequest> all;
  all.reserve(map_.size());
  for (auto& [req_id, request] : map_) all.push_back(request);
  map_.clear();
  internal_count_ = 0;
  return all;
}

int64_t PendingRequests::next_deadline_ms() const {
  int64_t next = 0;
  if (internal_count_ == 0) return next;
  for (const auto& [req_id, request] : map_) {
    if (request.internal == InternalRequest::None) continue;
    if (next == 0 || request.deadline_ms < next) next = request.deadline_ms;
  }
  return next;
}

bool PendingRequests::has_internal(InternalRequest kind) const {
  if (internal_count_ == 0) return false;
  for (const auto& [req_id, request] : map_) {
    if (request.internal == kind) return true;
  }
  return false;
}

}  // namespace im::client
