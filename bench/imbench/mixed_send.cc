// mixed_send.cc - the send side of a mixed loop thread: 1:1 and group messages issued by
// open-loop schedules (a user who is offline or reconnecting skips its turn), their
// results, and the resend of unanswered messages with their original client_msg_id after a
// reconnect (the server must store each once). client_msg_id = nonce << 32 | stream << 24 |
// seq, where stream is the Sender's index in its user (0 for a chatter's 1:1 messages), so
// ids are unique per sending user across its conversations, as docs/protocol.md asks.
#include <algorithm>
#include <cstdio>

#include "bench/imbench/mixed_thread.h"
#include "bench/imbench/payload_time.h"
#include "client/frame_builders.h"

namespace im::bench {

namespace proto = im::proto;

void MixedThread::send_due(RateSchedule& schedule, std::vector<Sender*>& senders, int64_t now) {
  uint64_t k;
  int64_t due;
  while (!senders.empty() && schedule.take(now, &k, &due)) {
    Sender& sender = *senders[k % senders.size()];
    ActiveUser& u = *sender.owner;
    if (!u.ready || sender.next_seq > sender.max_seq ||
        sender.pending.size() >= Sender::kMaxPending) {
      ++sender.skipped;
      continue;
    }
    sender.pending.push_back(PendingSend{sender.next_seq++, false, due});
    write_send(u, sender, sender.pending.back());
    (sender.group ? m_.group_sent : m_.chat_sent).fetch_add(1, std::memory_order_relaxed);
  }
}

void MixedThread::write_send(ActiveUser& u, Sender& sender, const PendingSend& p) {
  write_send_time(payload_.data(), p.due_ns);
  uint32_t index = uint32_t(&sender - u.senders.data());
  uint64_t client_msg_id = s_.nonce << 32 | uint64_t(index) << 24 | p.seq;
  if (!sender.group) {
    uint64_t req_id = mixed_req_id(MixedReq::ChatSend, index, p.seq);
    u.conn.write(im::client::build_send_text(fbb_, req_id, u.partner_uid, client_msg_id, payload_));
    return;
  }
  uint64_t gid = s_.gids[u.memberships[sender.membership].group];
  uint64_t req_id = mixed_req_id(MixedReq::GroupSend, index, p.seq);
  u.conn.write(
      im::client::build_group_send_text(fbb_, req_id, gid, client_msg_id, payload_, {}, false));
}

void MixedThread::resend_pending(ActiveUser& u) {
  for (Sender& sender : u.senders) {
    for (PendingSend& p : sender.pending) {
      p.resent = true;
      write_send(u, sender, p);
      ++u.resent;
    }
  }
}

void MixedThread::on_send_result(ActiveUser& u, const proto::Frame& frame, int64_t now) {
  uint32_t index = mixed_req_aux(frame.req_id()), seq = uint32_t(frame.req_id());
  Sender* sender = index < u.senders.size() ? &u.senders[index] : nullptr;
  auto it = sender ? std::find_if(sender->pending.begin(), sender->pending.end(),
                                  [seq](const PendingSend& p) { return p.seq == seq; })
                   : std::vector<PendingSend>::iterator();
  if (sender == nullptr || it == sender->pending.end()) {
    c_.errors.fetch_add(1, std::memory_order_relaxed);  // a result nobody asked for
    return;
  }
  PendingSend p = *it;
  sender->pending.erase(it);
  ++sender->results;
  activity.progressed();
  const proto::Result* result = frame.body_as_Result();
  const proto::SendResult* ok =
      result->code() == proto::Code::Ok ? result->data_as_SendResult() : nullptr;
  if (ok != nullptr) {
    ++sender->results_ok;
    if (ok->duplicate()) ++u.resent_dup;
    (sender->group ? m_.group_ok : m_.chat_ok).fetch_add(1, std::memory_order_relaxed);
  } else {
    std::fprintf(stderr, "imbench: send failed: %s\n", proto::EnumNameCode(result->code()));
    c_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  (sender->group ? m_.group_answered : m_.chat_answered).fetch_add(1, std::memory_order_relaxed);
  if (p.resent) return;  // its latency would be the time the user was away
  uint64_t latency_us = now > p.due_ns ? uint64_t(now - p.due_ns) / 1000 : 0;
  (sender->group ? group_result_hist : chat_result_hist).record(latency_us);
  activity.record(latency_us);
}

void MixedThread::lose_user(ActiveUser& u) {
  for (Sender& sender : u.senders) {
    m_.aborted.fetch_add(sender.pending.size(), std::memory_order_relaxed);
    sender.pending.clear();
  }
  if (u.catching_up) m_.reconnects_lost.fetch_add(1, std::memory_order_relaxed);
  u.catching_up = false;
}

}  // namespace im::bench
