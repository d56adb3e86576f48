// group_fanout_thread.cc - the loop thread of group-fanout: logins, pings, sends, and the
// per-connection, per-group delivery check of every GroupPush entry.
#include "bench/imbench/group_fanout_thread.h"

#include <algorithm>
#include <cstdio>

#include "bench/imbench/clock.h"
#include "bench/imbench/payload_time.h"
#include "client/frame_builders.h"
#include "client/frame_decoders.h"

namespace im::bench {

namespace {
namespace proto = im::proto;
constexpr uint64_t kLoginReqId = uint64_t(1) << 62;
constexpr uint64_t kPingReqId = uint64_t(1) << 61;
constexpr uint32_t kMaxPendingLogins = 64;  // per thread: password logins (scrypt) in flight
constexpr int64_t kMaxPollNs = 2'000'000;
}  // namespace

void FanoutThread::run() {
  payload_.assign(s_.o.payload_bytes, 'x');
  int64_t now = now_ns();
  ping_start_ns_ = now;
  ping_interval_ns_ = s_.o.heartbeat_s * 1e9 / double(std::max<size_t>(1, devices.size()));
  launch_logins();
  while (s_.phase.load(std::memory_order_acquire) != int(FanoutPhase::Stop)) {
    int64_t timeout = kMaxPollNs;
    if (running_ && sched_k_ < sched_total_) {
      int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
      timeout = std::clamp<int64_t>(due - now_ns(), 0, kMaxPollNs);
    }
    loop_.poll(timeout);
    now = now_ns();
    int phase = s_.phase.load(std::memory_order_acquire);
    if (!armed_ && phase >= int(FanoutPhase::Arm)) arm();
    if (!running_ && phase == int(FanoutPhase::Run)) start_running();
    if (running_ && sched_total_ != 0) issue_due(now);
    ping_due(now);
    flush_acks();
    loop_.flush();
    activity.end_turn(now, c_);
  }
  for (auto& d : devices) d->conn.close();
}

void FanoutThread::launch_logins() {
  while (pending_logins_ < kMaxPendingLogins && next_login_ < devices.size()) {
    MemberConn& d = *devices[next_login_++];
    d.conn.user = &d;
    ++pending_logins_;
    if (!d.conn.connect(loop_, *this, s_.server, s_.sources.for_connection(d.index))) {
      --pending_logins_;
      d.dead = true;
      c_.failed.fetch_add(1, std::memory_order_release);
    }
  }
}

void FanoutThread::arm() {
  armed_ = true;
  for (auto& d : devices) d->checks.assign(s_.gids.size(), DeliveryCheck(s_.per_group()));
  s_.armed.fetch_add(1, std::memory_order_release);
}

void FanoutThread::start_running() {
  running_ = true;
  int64_t now = now_ns();
  if (s_.o.rate <= 0) {
    for (auto& d : devices)
      for (GroupSender* sender : d->senders)
        if (d->ready && !d->dead) fill_window(*d, *sender, now);
    return;
  }
  if (senders.empty()) return;
  double thread_rate = s_.o.rate * double(senders.size()) / double(s_.senders);
  sched_interval_ns_ = 1e9 / thread_rate;
  sched_total_ = uint64_t(senders.size()) * s_.o.messages;
  sched_start_ns_ = s_.start_ns.load();
}

void FanoutThread::send_one(MemberConn& d, GroupSender& sender, int64_t intended_ns) {
  uint32_t seq = sender.next_seq++;
  write_send_time(payload_.data(), intended_ns);
  uint64_t req_id = uint64_t(sender.id) << 32 | seq;
  uint64_t client_msg_id = s_.nonce << 32 | (uint64_t(sender.id) << 24 | seq);
  d.conn.write(im::client::build_group_send_text(fbb_, req_id, s_.gids[sender.group], client_msg_id,
                                                 payload_, {}, false));
  sender.send_ns[seq % sender.send_ns.size()] = intended_ns;
  ++sender.inflight;
  c_.sent.fetch_add(1, std::memory_order_relaxed);
}

void FanoutThread::fill_window(MemberConn& d, GroupSender& sender, int64_t now) {
  while (sender.inflight < s_.o.window && sender.next_seq <= s_.o.messages)
    send_one(d, sender, now);
}

void FanoutThread::issue_due(int64_t now) {
  size_t n = senders.size();
  while (sched_k_ < sched_total_) {
    int64_t due = sched_start_ns_ + int64_t(double(sched_k_) * sched_interval_ns_);
    if (due > now) break;
    GroupSender& sender = *senders[sched_k_ % n];
    MemberConn& d = *sender.conn;
    if (!d.dead && sender.inflight >= sender.send_ns.size()) break;  // stall: latency counts
    if (!d.dead) send_one(d, sender, due);
    ++sched_k_;
  }
}

void FanoutThread::ping_due(int64_t now) {
  size_t n = devices.size();
  while (n != 0) {
    int64_t due = ping_start_ns_ + int64_t(double(ping_k_) * ping_interval_ns_);
    if (due > now) break;
    MemberConn& d = *devices[ping_k_ % n];
    if (d.ready && !d.dead) d.conn.write(im::client::build_ping(fbb_, kPingReqId, now / 1000000));
    ++ping_k_;
  }
}

void FanoutThread::on_connected(Conn& conn) {
  MemberConn& d = *static_cast<MemberConn*>(conn.user);
  std::string device_id = "imbench-gf" + std::to_string(d.index / s_.users);
  im::client::HelloParams hello;
  if (!s_.tokens[d.user].empty()) {
    hello.token = s_.tokens[d.user];
  } else {
    hello.username = s_.names[d.user];
    hello.password = s_.o.password;
  }
  hello.device_id = device_id;
  hello.platform = proto::Platform::Bot;
  conn.write(im::client::build_hello(fbb_, kLoginReqId, hello));
}

void FanoutThread::on_frame(Conn& conn, const proto::Frame& frame) {
  MemberConn& d = *static_cast<MemberConn*>(conn.user);
  int64_t now = now_ns();
  switch (frame.body_type()) {
    case proto::Body::Result:
      return on_result(d, frame, now);
    case proto::Body::GroupPush:
      return on_group_push(d, *frame.body_as_GroupPush(), now);
    case proto::Body::Push:
      return on_push(d, *frame.body_as_Push());
    case proto::Body::Kick:
      ++kicks;
      c_.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    default:
      return;
  }
}

void FanoutThread::on_result(MemberConn& d, const proto::Frame& frame, int64_t now) {
  if (frame.req_id() == kLoginReqId) {
    --pending_logins_;
    launch_logins();
    auto login = im::client::decode_login_ok(frame);
    if (!login.ok()) {
      std::fprintf(stderr, "imbench: login of %s failed: %s\n", s_.names[d.user].c_str(),
                   login.status().to_string().c_str());
      d.dead = true;
      d.conn.close();
      c_.failed.fetch_add(1, std::memory_order_release);
      return;
    }
    if (d.index < s_.users) {  // the user's first device
      s_.uids[d.user] = login->uid;
      if (!login->token.empty()) s_.tokens[d.user] = login->token;
    }
    d.ready = true;
    c_.ready.fetch_add(1, std::memory_order_release);
    return;
  }
  uint32_t id = uint32_t(frame.req_id() >> 32), seq = uint32_t(frame.req_id());
  auto it = std::find_if(d.senders.begin(), d.senders.end(),
                         [id](const GroupSender* s) { return s->id == id; });
  if (it == d.senders.end() || seq == 0 || seq >= (*it)->next_seq || (*it)->inflight == 0) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);  // a result nobody asked for
    return;
  }
  GroupSender& sender = **it;
  uint64_t latency_us = uint64_t(now - sender.send_ns[seq % sender.send_ns.size()]) / 1000;
  result_hist.record(latency_us);
  activity.record(latency_us);
  --sender.inflight;
  ++sender.results;
  activity.progressed();
  const proto::Result* result = frame.body_as_Result();
  if (result->code() == proto::Code::Ok && result->data_as_SendResult() != nullptr) {
    ++sender.results_ok;
    c_.acked_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  c_.acked.fetch_add(1, std::memory_order_relaxed);
  if (s_.o.rate <= 0) fill_window(d, sender, now);
}

void FanoutThread::on_group_push(MemberConn& d, const proto::GroupPush& push, int64_t now) {
  if (push.entries() == nullptr || d.checks.empty()) return;  // before the run: setup events
  for (const proto::EntryBlob* blob : *push.entries()) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    const proto::InboxEntry* entry = blob->data_nested_root();
    auto g = std::find(s_.gids.begin(), s_.gids.end(), entry->gid());
    if (g == s_.gids.end()) {
      ++d.stray;
      continue;
    }
    size_t gi = size_t(g - s_.gids.begin());
    uint64_t seq = entry->group_seq();
    if (seq <= s_.base_seqs[gi]) continue;  // a setup event delivered late
    uint64_t rel = seq - s_.base_seqs[gi];
    auto outcome = rel > s_.per_group() ? DeliveryCheck::Outcome::OutOfRange
                                        : d.checks[gi].deliver(uint32_t(rel));
    if (outcome == DeliveryCheck::Outcome::OutOfRange) ++d.stray;
    if (outcome != DeliveryCheck::Outcome::New) continue;  // duplicates: counted by the check
    c_.delivered.fetch_add(1, std::memory_order_relaxed);
    activity.progressed();
    const proto::Message* m = entry->body_as_Message();
    if (m == nullptr || m->client_msg_id() >> 32 != s_.nonce) continue;
    const proto::TextContent* text = m->content_as_TextContent();
    if (text != nullptr && text->text() != nullptr && text->text()->size() >= kTimeHexChars) {
      int64_t sent = read_send_time(text->text()->data());
      deliver_hist.record(now > sent ? uint64_t(now - sent) / 1000 : 0);
    }
  }
}

// Inbox entries (not part of this workload) are acked so the server keeps pushing.
void FanoutThread::on_push(MemberConn& d, const proto::Push& push) {
  if (push.entries() == nullptr) return;
  for (const proto::EntryBlob* blob : *push.entries()) {
    if (blob->data() == nullptr || blob->data()->size() == 0) continue;
    d.last_inbox_seq = std::max(d.last_inbox_seq, blob->data_nested_root()->inbox_seq());
    d.ack_due = true;
  }
  if (d.ack_due) ack_list_.push_back(&d);
}

void FanoutThread::flush_acks() {
  for (MemberConn* d : ack_list_) {
    if (!d->ack_due) continue;  // listed twice this turn
    d->ack_due = false;
    d->conn.write(im::client::build_ack(fbb_, 0, d->last_inbox_seq));
  }
  ack_list_.clear();
}

void FanoutThread::on_closed(Conn& conn, const char* why) {
  MemberConn& d = *static_cast<MemberConn*>(conn.user);
  d.dead = true;
  if (!d.ready) {
    std::fprintf(stderr, "imbench: %s: %s\n", s_.names[d.user].c_str(), why);
    --pending_logins_;
    launch_logins();
    c_.failed.fetch_add(1, std::memory_order_release);
    return;
  }
  std::fprintf(stderr, "imbench: connection %u of %s lost: %s\n", d.index, s_.names[d.user].c_str(),
               why);
  c_.closed.fetch_add(1, std::memory_order_relaxed);
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  for (GroupSender* sender : d.senders)
    aborted_sends.fetch_add(s_.o.messages - sender->results, std::memory_order_relaxed);
}

}  // namespace im::bench
