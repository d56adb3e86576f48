// sent_ids.h - the client_msg_ids this Client sent recently, so the copy of its own
// message that the server pushes back (the sender's inbox) is recognised as "from this
// device". A fixed-size ring plus a set: bounded, oldest forgotten first. Guarded by the
// Client's mutex.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

namespace im::client {

class SentIds {
 public:
  explicit SentIds(size_t capacity) : ring_(capacity ? capacity : 1, 0) {}

  void add(uint64_t client_msg_id) {
    if (set_.contains(client_msg_id)) return;
    uint64_t& slot = ring_[next_];
    if (slot != 0) set_.erase(slot);
    slot = client_msg_id;
    set_.insert(client_msg_id);
    next_ = (next_ + 1) % ring_.size();
  }
  bool contains(uint64_t client_msg_id) const { return set_.contains(client_msg_id); }

 private:
  std::vector<uint64_t> ring_;
  size_t next_ = 0;
  std::unordered_set<uint64_t> set_;
};

}  // namespace im::client
