// mixed_thread.cc - the lifecycle side of a mixed loop thread: logins (a bounded number in
// flight; an idle account's other devices log in with the token of its first), heartbeats,
// the phases, and the disconnect -> offline -> reconnect cycle of active users.
#include "bench/imbench/mixed_thread.h"

#include <algorithm>
#include <cstdio>

#include "bench/imbench/clock.h"
#include "client/frame_builders.h"

namespace im::bench {

namespace {
namespace proto = im::proto;
constexpr uint32_t kMaxPendingLogins = 64;  // per thread: logins in flight (scrypt on the server)
constexpr int64_t kMaxPollNs = 2'000'000;
constexpr int kMaxReconnectPicks = 8;  // tries to find a user that is online

// splitmix64. The reconnect schedule picks users at random: in round robin it could lock
// into step with a send schedule of the same rate and close each sender right after a send.
uint64_t next_random(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

void MixedThread::run() {
  payload_.assign(s_.o.payload_bytes, 'x');
  const uint32_t active = s_.plan.active;
  for (auto& u : users) {
    login_queue_.push_back(u.get());
    all_.push_back(u.get());
  }
  for (auto& d : idle) {
    all_.push_back(d.get());
    if (d->local >= idle_by_account_.size()) idle_by_account_.resize(d->local + 1);
    idle_by_account_[d->local].push_back(d.get());
    if (!s_.tokens[active + d->account].empty())
      token_queue_.push_back(d.get());  // --token-file
    else if (d->device == 0)
      login_queue_.push_back(d.get());
  }
  int64_t now = now_ns();
  ping_schedule_.start(now, double(all_.size()) / s_.o.heartbeat_s, RateSchedule::kNever);
  launch_logins();
  while (s_.phase.load(std::memory_order_acquire) != int(MixedPhase::Stop)) {
    int64_t due = std::min({chat_schedule_.next_due_ns(), group_schedule_.next_due_ns(),
                            reconnect_schedule_.next_due_ns(), ping_schedule_.next_due_ns()});
    loop_.poll(std::clamp<int64_t>(due - now_ns(), 0, kMaxPollNs));
    turn(now_ns());
  }
  for (MixedConn* c : all_) c->conn.close();
}

void MixedThread::turn(int64_t now) {
  int phase = s_.phase.load(std::memory_order_acquire);
  if (!armed_ && phase >= int(MixedPhase::Arm)) arm();
  if (!running_ && phase >= int(MixedPhase::Run)) start_running(now);
  if (running_ && !draining_ && phase >= int(MixedPhase::Drain)) {
    draining_ = true;
    chat_schedule_.stop();
    group_schedule_.stop();
    reconnect_schedule_.stop();
  }
  send_due(chat_schedule_, chat_senders_, now);
  send_due(group_schedule_, group_senders_, now);
  reconnect_due(now);
  ping_due(now);
  flush_acks();
  loop_.flush();
  // Closed after the flush, so nothing written this turn is dropped with the connection.
  for (ActiveUser* u : to_close_) disconnect(*u, now);
  to_close_.clear();
  activity.end_turn(now, c_);
}

void MixedThread::connect(MixedConn& c, uint64_t source_index) {
  c.conn.user = &c;
  if (c.conn.connect(loop_, *this, s_.server, s_.sources.for_connection(source_index))) return;
  std::fprintf(stderr, "imbench: connect failed\n");
  c.dead = true;
  if (c.launched) {
    c.launched = false;
    --pending_logins_;
    return login_failed(c);
  }
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  if (c.active) lose_user(static_cast<ActiveUser&>(c));
}

// A first login failed; an idle account's first device takes its account's others with it.
void MixedThread::login_failed(MixedConn& c) {
  c.dead = true;
  if (!c.active) return on_idle_login(static_cast<IdleConn&>(c), false, "");
  c_.failed.fetch_add(1, std::memory_order_release);
}

void MixedThread::launch_logins() {
  while (pending_logins_ < kMaxPendingLogins) {
    MixedConn* c = nullptr;
    if (next_token_login_ < token_queue_.size())
      c = token_queue_[next_token_login_++];
    else if (next_login_ < login_queue_.size())
      c = login_queue_[next_login_++];
    else
      return;
    c->launched = true;
    ++pending_logins_;
    connect(*c, c->active ? static_cast<ActiveUser*>(c)->index
                          : s_.plan.active + static_cast<IdleConn*>(c)->account);
  }
}

void MixedThread::on_connected(Conn& conn) {
  MixedConn& c = *static_cast<MixedConn*>(conn.user);
  im::client::HelloParams hello;
  hello.platform = proto::Platform::Bot;
  std::string device_id;
  const std::string* token;
  const std::string* name;
  if (c.active) {
    ActiveUser& u = static_cast<ActiveUser&>(c);
    device_id = "imbench-mx";
    token = u.token.empty() ? &s_.tokens[u.index] : &u.token;
    name = &s_.plan.active_names[u.index];
    hello.ack_inbox_seq = u.inbox.known() ? u.inbox.cursor() : 0;
  } else {
    IdleConn& d = static_cast<IdleConn&>(c);
    device_id = "imbench-mi" + std::to_string(d.device);
    token = &s_.tokens[s_.plan.active + d.account];
    name = &s_.plan.idle_names[d.account];
  }
  if (!token->empty()) {
    hello.token = *token;
  } else {
    hello.username = *name;
    hello.password = s_.o.password;
  }
  hello.device_id = device_id;
  conn.write(im::client::build_hello(fbb_, mixed_req_id(MixedReq::Login, 0, 0), hello));
}

void MixedThread::on_frame(Conn& conn, const proto::Frame& frame) {
  MixedConn& c = *static_cast<MixedConn*>(conn.user);
  ActiveUser* u = c.active ? static_cast<ActiveUser*>(&c) : nullptr;
  int64_t now = now_ns();
  switch (frame.body_type()) {
    case proto::Body::Result: {
      MixedReq kind = mixed_req_kind(frame.req_id());
      if (kind == MixedReq::Login) return on_login(c, frame);
      if (u == nullptr) return;
      if (kind == MixedReq::Sync) return on_sync_page(*u, frame, now);
      if (kind == MixedReq::GroupSync) return on_group_sync_page(*u, frame, now);
      return on_send_result(*u, frame, now);
    }
    case proto::Body::Push: {
      const proto::Push* push = frame.body_as_Push();
      if (u != nullptr) return receive(*u, push->entries(), false, now);
      // Idle accounts get no messages; ack whatever arrives so the server keeps going.
      auto* entries = push->entries();
      size_t n = entries ? entries->size() : 0;
      if (n > 0 && entries->Get(n - 1)->data() && entries->Get(n - 1)->data()->size() > 0)
        conn.write(
            im::client::build_ack(fbb_, 0, entries->Get(n - 1)->data_nested_root()->inbox_seq()));
      return;
    }
    case proto::Body::GroupPush:
      if (u != nullptr) receive(*u, frame.body_as_GroupPush()->entries(), false, now);
      return;
    case proto::Body::Pong:
      m_.pongs.fetch_add(1, std::memory_order_relaxed);
      return;
    case proto::Body::Kick: {
      ++kicks;
      c_.errors.fetch_add(1, std::memory_order_relaxed);
      const proto::Kick* kick = frame.body_as_Kick();
      std::fprintf(stderr, "imbench: kicked: %s (%s)\n", proto::EnumNameCode(kick->code()),
                   kick->reason() ? kick->reason()->c_str() : "");
      return;
    }
    default:
      return;
  }
}

void MixedThread::on_login(MixedConn& c, const proto::Frame& frame) {
  if (c.launched) {
    c.launched = false;
    --pending_logins_;
    launch_logins();
  }
  if (c.active) return on_active_login(static_cast<ActiveUser&>(c), frame);
  auto login = im::client::decode_login_ok(frame);
  if (!login.ok())
    std::fprintf(stderr, "imbench: login of an idle device failed: %s\n",
                 login.status().to_string().c_str());
  on_idle_login(static_cast<IdleConn&>(c), login.ok(), login.ok() ? login->token : "");
}

void MixedThread::on_idle_login(IdleConn& d, bool ok, const std::string& token) {
  std::string& account_token = s_.tokens[s_.plan.active + d.account];
  bool first = account_token.empty();
  std::vector<IdleConn*>& devices = idle_by_account_[d.local];
  if (!ok) {
    d.dead = true;
    d.conn.close();
    // Without the first device's token its account's other devices cannot log in.
    uint64_t failed = first ? devices.size() : 1;
    c_.failed.fetch_add(failed, std::memory_order_release);
    return;
  }
  d.ready = true;
  c_.ready.fetch_add(1, std::memory_order_release);
  if (!first || token.empty()) return;
  account_token = token;
  for (IdleConn* other : devices)
    if (other != &d) token_queue_.push_back(other);
  launch_logins();
}

void MixedThread::on_active_login(ActiveUser& u, const proto::Frame& frame) {
  auto login = im::client::decode_login_ok(frame);
  bool reconnect = u.catching_up;
  if (!login.ok()) {
    std::fprintf(stderr, "imbench: login of %s failed: %s\n", s_.plan.active_names[u.index].c_str(),
                 login.status().to_string().c_str());
    u.dead = true;
    u.conn.close();
    if (!reconnect) return login_failed(u);
    c_.errors.fetch_add(1, std::memory_order_relaxed);
    return lose_user(u);
  }
  if (!login->token.empty()) u.token = login->token;
  u.ready = true;
  if (reconnect) {
    u.login_head = login->inbox_head_seq;
    u.inbox.on_login();
    resend_pending(u);
    return start_catch_up(u);
  }
  // First login: everything in the inbox predates the run, so the cursor starts at the head
  // (acked at once, so a backlog left by an earlier run is not pushed again).
  u.uid = login->uid;
  u.inbox = im::client::InboxTracker(login->inbox_head_seq);
  if (login->inbox_head_seq > 0)
    u.conn.write(im::client::build_ack(fbb_, 0, login->inbox_head_seq));
  s_.uids[u.index] = u.uid;
  s_.tokens[u.index] = u.token;
  c_.ready.fetch_add(1, std::memory_order_release);
}

void MixedThread::on_closed(Conn& conn, const char* why) {
  MixedConn& c = *static_cast<MixedConn*>(conn.user);
  c.dead = true;
  bool was_ready = c.ready;
  c.ready = false;
  if (c.launched) {  // its first login: it never got in
    c.launched = false;
    --pending_logins_;
    std::fprintf(stderr, "imbench: login connection: %s\n", why);
    login_failed(c);
    return launch_logins();
  }
  std::fprintf(stderr, "imbench: connection lost: %s\n", why);
  c_.errors.fetch_add(1, std::memory_order_relaxed);
  c_.closed.fetch_add(1, std::memory_order_relaxed);
  if (c.active) return lose_user(static_cast<ActiveUser&>(c));
  if (was_ready) ++idle_dropped;
}

void MixedThread::arm() {
  armed_ = true;
  for (auto& u : users) {
    if (u->partner != kNoPartner) u->partner_uid = s_.uids[u->partner];
    u->groups = im::client::GroupTracker(std::max<size_t>(1, u->memberships.size()));
    for (Membership& m : u->memberships) {
      u->groups.set_cursor(s_.gids[m.group], s_.base_seqs[m.group]);
      m.checks.assign(s_.o.senders, DeliveryCheck(s_.plan.group_max_seq));
    }
  }
  s_.armed.fetch_add(1, std::memory_order_release);
}

void MixedThread::start_running(int64_t now) {
  running_ = true;
  for (auto& u : users) {
    for (Sender& sender : u->senders) {
      sender.owner = u.get();
      (sender.group ? group_senders_ : chat_senders_).push_back(&sender);
    }
  }
  int64_t start = std::min(now, s_.start_ns.load(std::memory_order_acquire));
  int64_t end = start + int64_t(s_.o.duration_s * 1e9);
  const MixedPlan& p = s_.plan;
  chat_schedule_.start(start, p.chat_rate_per_sender * double(chat_senders_.size()), end);
  group_schedule_.start(start, p.group_rate_per_sender * double(group_senders_.size()), end);
  // At a random phase too, so disconnects do not fall on the turns where sends are due.
  double rate = s_.o.reconnect_rate * double(users.size()) / double(p.active);
  random_ = s_.nonce ^ uint64_t(reinterpret_cast<uintptr_t>(this));
  double phase = rate > 0 ? double(next_random(&random_) % 1000) / 1000.0 * 1e9 / rate : 0;
  reconnect_schedule_.start(start + int64_t(phase), rate, end);
}

void MixedThread::ping_due(int64_t now) {
  uint64_t k;
  int64_t due;
  while (!all_.empty() && ping_schedule_.take(now, &k, &due)) {
    MixedConn& c = *all_[k % all_.size()];
    if (!c.ready) continue;
    c.conn.write(im::client::build_ping(fbb_, mixed_req_id(MixedReq::Ping, 0, 0), now / 1000000));
    ++pings;
  }
}

// Picks the users to disconnect (at random among those online; closed after this turn's
// flush) and reconnects those whose time offline is over.
void MixedThread::reconnect_due(int64_t now) {
  uint64_t k;
  int64_t due;
  while (!users.empty() && reconnect_schedule_.take(now, &k, &due)) {
    for (int tries = 0; tries < kMaxReconnectPicks; ++tries) {
      ActiveUser& u = *users[next_random(&random_) % users.size()];
      bool picked = std::find(to_close_.begin(), to_close_.end(), &u) != to_close_.end();
      if (!u.ready || u.catching_up || picked) continue;
      to_close_.push_back(&u);
      break;
    }
  }
  auto back = std::remove_if(offline_.begin(), offline_.end(), [&](ActiveUser* u) {
    if (now < u->offline_until_ns) return false;
    u->offline = false;
    u->catching_up = true;
    u->reconnect_start_ns = now;
    connect(*u, u->index);
    return true;
  });
  offline_.erase(back, offline_.end());
}

void MixedThread::disconnect(ActiveUser& u, int64_t now) {
  if (!u.ready) return;  // lost meanwhile
  u.conn.close();
  u.ready = false;
  u.offline = true;
  u.offline_until_ns = now + int64_t(s_.o.offline_ms) * 1'000'000;
  u.inbox_syncing = false;
  u.ack_due = false;
  for (Membership& m : u.memberships) m.syncing = false;
  offline_.push_back(&u);
  m_.reconnects.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace im::bench
