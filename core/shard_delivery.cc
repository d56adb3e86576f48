// shard_delivery.cc - where a push leaves for a device. Each online device session has a
// cursor (sent_up_to) and the device's cumulative ack; pump() sends committed inbox
// entries after the cursor in pages, never more than max_unacked_entries ahead of the ack.
// The same path serves catch-up after login and live delivery, so a device always sees
// its inbox in inbox_seq order. Acks are kept in memory and written to the devices table
// with the next batch.
#include <algorithm>

#include "core/clock.h"
#include "core/shard_state.h"
#include "core/worker.h"

namespace im::core {

namespace {
constexpr size_t kMaxPagesPerPump = 64;
}

void ShardState::pump(UserMem& u) {
  uint64_t sent_to_all = UINT64_MAX;
  for (auto& d : u.devices) {
    pump_device(u, d);
    sent_to_all = std::min(sent_to_all, d.sent_up_to);
  }
  if (u.devices.empty()) {
    u.recent.clear();
  } else {
    u.recent.forget_through(sent_to_all);
  }
}

void ShardState::pump_device(UserMem& u, DeviceSession& d) {
  const Config& cfg = worker_->config();
  // Reused per thread: a push allocates nothing once the page has grown to its size.
  thread_local EntryPage page(0);
  page.reset(cfg.max_frame_bytes - 512);
  Bytes out;
  for (size_t pages = 0; pages < kMaxPagesPerPump; pages++) {
    uint64_t window_end = d.acked + cfg.max_unacked_entries;
    uint64_t end = std::min(u.durable_seq, window_end);
    if (d.sent_up_to >= end || d.unacked_bytes >= cfg.max_unacked_bytes) break;
    page.clear();
    uint64_t last = d.sent_up_to;
    size_t want = std::min<uint64_t>(end - d.sent_up_to, cfg.max_page_entries);
    bool full = false;
    auto take = [&](uint64_t seq, std::span<const uint8_t> bytes) {
      if (full || seq > end) return;
      if (!page.add(bytes)) {
        full = true;
        return;
      }
      last = seq;
    };
    // Live delivery: the entries just committed are usually still in memory.
    if (!u.recent.read(d.sent_up_to, end, want, take)) {
      shard_->read_inbox(u.uid, d.sent_up_to, want,
                         [&](const storage::InboxItem& item) { take(item.inbox_seq, item.bytes); });
    }
    if (page.count() == 0) break;  // nothing readable (cannot happen for durable seqs)
    size_t before = out.size();
    page.append_push(out);
    if (d.unacked_frames.empty()) d.ack_wait_since_ms = mono_ms();
    d.unacked_frames.emplace_back(last, uint32_t(out.size() - before));
    d.unacked_bytes += uint32_t(out.size() - before);
    d.sent_up_to = last;
  }
  if (!out.empty()) worker_->send_frames(d.conn, std::move(out));
}

void ShardState::on_ack(EnvelopePtr e) {
  auto it = users_.find(e->uid);
  if (it == users_.end()) return;
  UserMem& u = it->second;
  for (auto& d : u.devices) {
    if (!(d.conn == e->conn)) continue;
    uint64_t seq = std::min(e->a, d.sent_up_to);
    if (seq > d.acked) {
      d.acked = seq;
      size_t done = 0;
      while (done < d.unacked_frames.size() && d.unacked_frames[done].first <= seq) {
        d.unacked_bytes -= d.unacked_frames[done].second;
        done++;
      }
      d.unacked_frames.erase(d.unacked_frames.begin(), d.unacked_frames.begin() + done);
      d.ack_wait_since_ms = mono_ms();
      if (!d.ack_dirty) {
        d.ack_dirty = true;
        ack_dirty_uids_.push_back(u.uid);
      }
    }
    pump_device(u, d);
    return;
  }
}

void ShardState::write_dirty_acks() {
  if (ack_dirty_uids_.empty() || failed_) return;
  int64_t now = wall_ms();
  for (uint64_t uid : ack_dirty_uids_) {
    auto it = users_.find(uid);
    if (it == users_.end()) continue;
    for (auto& d : it->second.devices) {
      if (!d.ack_dirty) continue;
      d.ack_dirty = false;
      d.seen_written_s = uint32_t(now / 1000);
      building().writes.put_device(uid, d.device_id, {d.acked, now, d.platform});
    }
  }
  ack_dirty_uids_.clear();
}

}  // namespace im::core

namespace im::core {

// A device that holds unacked pushes and has not acked anything for ack_timeout_ms does
// not read (or is stuck): disconnect it. It loses nothing: it resumes from its cursor.
void ShardState::check_ack_timeouts(int64_t now_ms) {
  int64_t timeout = worker_->config().ack_timeout_ms;
  for (auto& [uid, u] : users_) {
    for (auto& d : u.devices) {
      if (d.unacked_frames.empty() || now_ms - d.ack_wait_since_ms <= timeout) continue;
      worker_->kick(d.conn, Code::SlowConsumer,
                    "pushes not acknowledged within ack_timeout_ms; reconnect and resync");
      d.ack_wait_since_ms = now_ms;  // kick once per timeout
    }
  }
}

}  // namespace im::core
