// session_loop.cc - the Client's reader thread: polls the socket and a wake-up eventfd,
// matches Results to waiters, delivers pushed and synced entries through the InboxTracker,
// acks, pings, and reconnects with backoff. It is the only thread that reads the socket,
// touches the tracker or replaces the connection after connect(). It never holds mu_ while
// running an app callback.
#include <poll.h>
#include <unistd.h>

#include <algorithm>

#include "client/client.h"

namespace im::client {

namespace proto = im::proto;

namespace {

constexpr int kMaxPollMs = 1000;
constexpr int64_t kSyncRetryMs = 1000;
// After login with a known cursor below the server's head, the server normally pushes the
// backlog by itself (from our cursor). Only when no entry arrives for this long, and we are
// still behind, does a Sync fetch it (the server's cursor for the device was ahead of ours).
constexpr int64_t kCatchupGraceMs = 1000;

bool kick_allows_reconnect(Code code) {
  return code == Code::SlowConsumer || code == Code::ServerShutdown || code == Code::IdleTimeout ||
         im::protocol::code_is_retryable(code);
}

}  // namespace

void Client::run() {
  for (;;) {
    ConnectionState state;
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      state = state_;
    }
    if (state == ConnectionState::Connected || state == ConnectionState::LoggingIn ||
        state == ConnectionState::LoggedIn) {
      serve_connection();
    } else if (state == ConnectionState::Reconnecting) {
      reconnect_step();
    } else {
      wait_for_wake(-1);
    }
  }
  if (conn_ != nullptr) drop_connection(error_status(kClosed, "client closed"));
}

void Client::wait_for_wake(int timeout_ms) {
  pollfd p{wake_fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) > 0) {
    uint64_t count;
    ssize_t n = ::read(wake_fd_, &count, sizeof(count));
    (void)n;
  }
}

int Client::next_timeout_ms(int64_t now_ms) {
  int64_t next = now_ms + kMaxPollMs;
  if (options_.ping_interval_ms > 0) {
    next = std::min<int64_t>(next, last_write_ms_.load() + options_.ping_interval_ms);
  }
  if (sync_retry_ms_ > 0) next = std::min(next, sync_retry_ms_);
  if (catchup_head_ > 0) next = std::min(next, catchup_check_ms_);
  {
    std::lock_guard lock(mu_);
    int64_t deadline = pending_.next_deadline_ms();
    if (deadline > 0) next = std::min(next, deadline);
  }
  return static_cast<int>(std::clamp<int64_t>(next - now_ms, 0, kMaxPollMs));
}

// One turn: wait for input or a timer, read and handle frames, then the flags and timers.
void Client::serve_connection() {
  pollfd fds[2] = {{conn_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int n = ::poll(fds, 2, next_timeout_ms(steady_now_ms()));
  if (n > 0 && fds[1].revents) wait_for_wake(0);
  if (n > 0 && fds[0].revents) {
    uint64_t epoch = epoch_.load();
    RecvStatus status = conn_->read_available();
    std::vector<uint8_t> bytes;
    while (epoch_.load() == epoch && conn_->pop_frame(&bytes)) {
      if (!handle_frame(bytes)) break;
    }
    if (epoch_.load() != epoch) return;
    if (status != RecvStatus::Timeout && status != RecvStatus::Frame) {
      std::string what = status == RecvStatus::Closed
                             ? "server closed the connection"
                             : std::string("read failed: ") + recv_status_name(status);
      Status why = error_status(kConnectionLost, what);
      {
        std::lock_guard lock(mu_);
        if (!connection_error_.ok()) {
          why.reason += " after " + connection_error_.to_string();  // e.g. the BadFrame it sent
        }
      }
      drop_connection(why);
      return;
    }
  }
  bool close_now = false, sync_now = false;
  Status close_reason;
  {
    std::lock_guard lock(mu_);
    close_now = std::exchange(close_connection_, false);
    close_reason = close_reason_;
    if (state_ == ConnectionState::LoggedIn) sync_now = std::exchange(sync_wanted_, false);
  }
  if (close_now) return drop_connection(close_reason);
  if (sync_now) {
    start_sync();
    resync_groups_behind();
  }
  run_timers(steady_now_ms());
}

bool Client::handle_frame(std::vector<uint8_t>& bytes) {
  std::optional<ReceivedFrame> frame = ReceivedFrame::verify(bytes);
  {
    std::lock_guard lock(mu_);
    stats_.frames_received++;
  }
  if (!frame) {
    drop_connection(
        error_status(Code::BadFrame, "the server sent a frame that failed verification"));
    return false;
  }
  switch (frame->type()) {
    case proto::Body::Result:
    case proto::Body::Pong:
      handle_answer(std::move(*frame));
      return true;
    case proto::Body::Push: {
      std::vector<InboxEntry> entries =
          decode_entry_blobs(frame->frame().body_as_Push()->entries());
      if (options_.receive_entries) {
        deliver_entries(entries, false);
      } else {
        for (const InboxEntry& entry : entries) tracker_.accept(entry.inbox_seq);  // seen, not kept
        cursor_.store(tracker_.cursor(), std::memory_order_release);
      }
      send_ack_if_due();
      return true;
    }
    case proto::Body::GroupPush: {
      if (!options_.receive_entries) return true;  // not acked: nothing to do
      std::vector<InboxEntry> entries =
          decode_entry_blobs(frame->frame().body_as_GroupPush()->entries());
      deliver_entries(entries, false);
      return true;
    }
    case proto::Body::Kick:
      handle_kick(*frame->frame().body_as_Kick());
      return false;
    default:
      return true;  // a frame type a server should not send: ignore it
  }
}

// Matches a Result/Pong to its request. Taking the request and completing its Waiter happen
// under one lock hold (a caller that timed out may destroy its Waiter right after). A
// caller's Hello is applied to the session here, before the caller wakes, so pushes that
// follow LoginOk find the session ready.
void Client::handle_answer(ReceivedFrame frame) {
  bool sync_after_login = false;
  bool late_login = false;
  std::optional<PendingRequest> request;
  {
    std::lock_guard lock(mu_);
    request = pending_.take(frame.req_id());
    if (!request) {
      stats_.unmatched_results++;
      Status status = decode_status(frame.frame());
      if (frame.type() == proto::Body::Result && !status.ok()) connection_error_ = status;
      const proto::Result* result = frame.frame().body_as_Result();
      late_login = result != nullptr && result->data_type() == proto::ResultData::LoginOk;
    } else if (request->waiter != nullptr) {
      if (request->type == proto::Body::Hello) sync_after_login = apply_caller_login_locked(frame);
      request->waiter->frame = std::move(frame);
      request->waiter->done = true;
      request->waiter->cv.notify_one();
    }
  }
  if (late_login) {
    // The caller gave up on this Hello, but the server logged the connection in: drop it,
    // so the server and the app agree that this connection has no session.
    return drop_connection(error_status(kTimeout, "LoginOk arrived after the login timed out"));
  }
  if (request && request->internal != InternalRequest::None) handle_internal(*request, frame);
  flush_state_events();
  if (sync_after_login) start_sync();
  if (std::exchange(group_catch_up_due_, false)) start_group_catch_up();
}

bool Client::apply_caller_login_locked(const ReceivedFrame& frame) {
  Result<LoginInfo> login = decode_login_ok(frame.frame());
  if (login.ok()) return apply_login_locked(login.value());
  if (state_ == ConnectionState::LoggingIn)
    set_state_locked(ConnectionState::Connected, login.status());
  return false;
}

void Client::handle_internal(const PendingRequest& request, const ReceivedFrame& frame) {
  switch (request.internal) {
    case InternalRequest::Login:
      return handle_relogin(frame);
    case InternalRequest::Sync:
      return handle_sync_page(frame);
    case InternalRequest::Ping:
      return;  // any answer proves the connection alive
    case InternalRequest::GroupList:
      return handle_group_list(frame);
    case InternalRequest::GroupSync:
      return handle_group_sync_page(request.gid, frame);
    case InternalRequest::None:
      return;
  }
}

// Returns true when a Sync must follow right away (never, today: see kCatchupGraceMs).
bool Client::apply_login_locked(const LoginInfo& info) {
  uid_ = info.uid;
  username_ = info.username;
  if (!info.token.empty()) creds_.token = info.token;
  reconnect_allowed_ = options_.auto_reconnect;
  last_kick_.reset();
  set_state_locked(ConnectionState::LoggedIn, ok_status());
  tracker_.on_login();
  backoff_ms_ = 0;
  use_password_next_ = false;
  catchup_head_ = 0;
  if (options_.receive_entries && tracker_.behind(info.inbox_head_seq)) {
    catchup_head_ = info.inbox_head_seq;
    catchup_check_ms_ = steady_now_ms() + kCatchupGraceMs;
  }
  // Pushes of groups this Client does not know are held until the ListGroups answer says
  // where each group's cursor starts (group_delivery.cc).
  group_catch_up_due_ = options_.receive_entries && options_.catch_up_groups;
  group_listing_ = group_catch_up_due_;
  return false;
}

void Client::handle_relogin(const ReceivedFrame& frame) {
  Result<LoginInfo> login = decode_login_ok(frame.frame());
  if (login.ok()) {
    bool sync_now;
    {
      std::lock_guard lock(mu_);
      sync_now = apply_login_locked(login.value());
      stats_.reconnects++;
    }
    flush_state_events();
    if (sync_now) start_sync();
    if (std::exchange(group_catch_up_due_, false)) start_group_catch_up();
    return;
  }
  Code code = login.code();
  bool switch_to_password = false;
  {
    std::lock_guard lock(mu_);
    bool used_token = !use_password_next_ && !creds_.token.empty();
    bool token_refused = code == Code::TokenExpired || code == Code::AuthFailed;
    if (used_token && token_refused && !creds_.password.empty()) {
      switch_to_password = true;
    } else if (!status_is_retryable(code)) {
      reconnect_allowed_ = false;  // wrong password, disabled account, ...: stop trying
    }
  }
  drop_connection(login.status());
  if (switch_to_password) {
    use_password_next_ = true;
    next_reconnect_ms_ = steady_now_ms();  // right away, with the password
  }
}

void Client::handle_kick(const proto::Kick& kick) {
  KickInfo info = decode_kick(kick);
  {
    std::lock_guard lock(mu_);
    last_kick_ = info;
    if (!kick_allows_reconnect(info.code)) reconnect_allowed_ = false;
  }
  if (options_.on_kick) options_.on_kick(info);
  drop_connection(error_status(info.code, "kicked: " + info.reason));
}

void Client::deliver_entries(std::vector<InboxEntry>& entries, bool from_sync) {
  bool stalled = false;
  for (InboxEntry& entry : entries) {
    if (entry.is_group()) {  // group log entries have their own seqs (inbox_seq 0)
      deliver_group_entry(entry, from_sync, &stalled);
      continue;
    }
    if (stalled) return;
    {
      std::lock_guard lock(mu_);
      if (entries_stalled_) return;  // the app's queue is full: take nothing until it drains
    }
    InboxTracker::Verdict verdict = tracker_.check(entry.inbox_seq);
    if (verdict == InboxTracker::Verdict::Duplicate) {
      std::lock_guard lock(mu_);
      stats_.duplicates_dropped++;
      continue;
    }
    if (verdict == InboxTracker::Verdict::Gap && !from_sync) {
      {
        std::lock_guard lock(mu_);
        stats_.gaps_detected++;
      }
      start_sync();  // no-op while a Sync is running; it will cover this entry
      return;
    }
    // Deliver, or a Sync page that skips seqs: the server has nothing in between.
    if (!deliver_one(entry)) stalled = true;
  }
}

// Hands one entry to the app (callback or queue), then moves the cursor.
bool Client::deliver_one(InboxEntry& entry) {
  {
    std::lock_guard lock(mu_);
    entry.is_own = entry.kind == EntryKind::Message && entry.message.sender_uid == uid_;
    entry.from_this_device = entry.is_own && sent_ids_.contains(entry.message.client_msg_id);
    if (!options_.on_entry) {
      if (queue_.size() >= options_.max_queued_entries) {
        entries_stalled_ = true;
        if (entry.is_group()) group_tracker_.note_gap(entry.gid, entry.group_seq);
        return false;
      }
      queue_.push_back(entry);
      // Queued counts as delivered; moved under the same lock so that an app which took
      // the entry also sees it in group_cursors().
      if (entry.is_group()) group_tracker_.accept(entry.gid, entry.group_seq);
      queue_cv_.notify_all();
    }
    stats_.entries_delivered++;
  }
  if (options_.on_entry) options_.on_entry(entry);
  if (entry.is_group()) {
    std::lock_guard lock(mu_);
    group_tracker_.accept(entry.gid, entry.group_seq);
    return true;
  }
  tracker_.accept(entry.inbox_seq);
  cursor_.store(tracker_.cursor(), std::memory_order_release);
  if (catchup_head_ > 0) {
    if (tracker_.cursor() >= catchup_head_) catchup_head_ = 0;
    catchup_check_ms_ = steady_now_ms() + kCatchupGraceMs;  // progress: keep waiting
  }
  return true;
}

void Client::send_ack_if_due() {
  std::optional<uint64_t> seq = tracker_.take_ack();
  if (!seq) return;
  if (write_frame(build_ack(fbb_, next_req_id(), *seq), epoch_.load()).ok()) {
    std::lock_guard lock(mu_);
    stats_.acks_sent++;
  }
}

bool Client::send_internal(FrameBytes frame, uint64_t req_id, proto::Body type,
                           InternalRequest kind, uint64_t gid) {
  uint64_t epoch;
  {
    std::lock_guard lock(mu_);
    PendingRequest request{type, nullptr, kind, steady_now_ms() + options_.request_timeout_ms, gid};
    if (!pending_.add(req_id, request)) return false;
    epoch = epoch_.load();
  }
  if (write_frame(frame, epoch).ok()) return true;
  std::lock_guard lock(mu_);
  pending_.take(req_id);
  return false;
}

void Client::start_sync() {
  if (syncing_) return;
  uint64_t req_id = next_req_id();
  FrameBytes frame = build_sync(fbb_, req_id, tracker_.cursor(), options_.sync_page_limit);
  syncing_ = send_internal(frame, req_id, proto::Body::Sync, InternalRequest::Sync);
  sync_retry_ms_ = syncing_ ? 0 : steady_now_ms() + kSyncRetryMs;
  if (syncing_) {
    std::lock_guard lock(mu_);
    stats_.syncs_sent++;
  }
}

void Client::handle_sync_page(const ReceivedFrame& frame) {
  syncing_ = false;
  Result<SyncPage> page = decode_sync_page(frame.frame());
  if (!page.ok()) {
    std::lock_guard lock(mu_);
    last_error_ = page.status();
    sync_retry_ms_ = steady_now_ms() + kSyncRetryMs;
    return;
  }
  deliver_entries(page->entries, true);
  send_ack_if_due();
  bool stalled;
  {
    std::lock_guard lock(mu_);
    stalled = entries_stalled_;
  }
  if (page->has_more && !page->entries.empty() && !stalled) start_sync();
}

void Client::run_timers(int64_t now_ms) {
  std::vector<PendingRequest> expired;
  {
    std::lock_guard lock(mu_);
    expired = pending_.take_expired_internal(now_ms);
  }
  for (const PendingRequest& request : expired) {
    if (request.internal == InternalRequest::Sync) syncing_ = false;
    std::string what = std::string("no answer to the SDK's ") + proto::EnumNameBody(request.type) +
                       " within " + std::to_string(options_.request_timeout_ms) + " ms";
    return drop_connection(error_status(kTimeout, what));
  }
  if (catchup_head_ > 0 && now_ms >= catchup_check_ms_) {  // still behind, no progress
    catchup_head_ = 0;
    start_sync();
  }
  if (sync_retry_ms_ > 0 && now_ms >= sync_retry_ms_) {
    sync_retry_ms_ = 0;
    start_sync();
  }
  if (options_.ping_interval_ms == 0) return;
  if (now_ms - last_write_ms_.load() < options_.ping_interval_ms) return;
  uint64_t req_id = next_req_id();
  FrameBytes frame = build_ping(fbb_, req_id, unix_now_ms());
  if (send_internal(frame, req_id, proto::Body::Ping, InternalRequest::Ping)) {
    std::lock_guard lock(mu_);
    stats_.pings_sent++;
  }
}

// The connection is gone (or must go): fail what waits on it and decide what comes next.
void Client::drop_connection(const Status& why) {
  ConnectionState next;
  {
    std::lock_guard lock(mu_);
    {
      std::lock_guard write_lock(write_mu_);
      conn_.reset();
      epoch_++;
    }
    fail_pending_locked(kConnectionLost, "connection lost: " + why.to_string());
    if (!why.ok()) last_error_ = why;
    connection_error_ = ok_status();
    close_connection_ = false;
    if (stop_) {
      next = ConnectionState::Closed;
    } else if (reconnect_allowed_ && state_ != ConnectionState::Connected) {
      next = ConnectionState::Reconnecting;
    } else {
      next = ConnectionState::Disconnected;
      reconnect_allowed_ = false;
    }
    set_state_locked(next, why);
  }
  syncing_ = false;
  sync_retry_ms_ = 0;
  catchup_head_ = 0;
  reset_group_syncs();
  if (next == ConnectionState::Reconnecting) schedule_reconnect();
  flush_state_events();
}

void Client::schedule_reconnect() {
  backoff_ms_ = backoff_ms_ == 0 ? options_.reconnect_min_ms
                                 : std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
  uint32_t jitter_ms;
  {
    std::lock_guard lock(mu_);
    jitter_ms = static_cast<uint32_t>(rng_() % (backoff_ms_ / 4 + 1));
  }
  next_reconnect_ms_ = steady_now_ms() + backoff_ms_ + jitter_ms;
}

void Client::reconnect_step() {
  int64_t now_ms = steady_now_ms();
  if (now_ms < next_reconnect_ms_) {
    return wait_for_wake(
        static_cast<int>(std::min<int64_t>(next_reconnect_ms_ - now_ms, kMaxPollMs)));
  }
  std::string host;
  uint16_t port;
  {
    std::lock_guard lock(mu_);
    host = host_;
    port = port_;
  }
  auto conn = std::make_unique<Connection>(options_.max_receive_frame_bytes);
  Status status = conn->connect(host, port, options_.connect_timeout_ms);
  {
    std::lock_guard lock(mu_);
    if (stop_ || state_ != ConnectionState::Reconnecting) return;
    if (!status.ok()) {
      last_error_ = status;
    } else {
      std::lock_guard write_lock(write_mu_);
      conn_ = std::move(conn);
      epoch_++;
      set_state_locked(ConnectionState::LoggingIn, ok_status());
    }
  }
  if (!status.ok()) return schedule_reconnect();
  last_write_ms_.store(steady_now_ms());
  flush_state_events();
  send_relogin();
}

void Client::send_relogin() {
  Credentials creds;
  {
    std::lock_guard lock(mu_);
    creds = creds_;
  }
  HelloParams hello;
  if (use_password_next_ || creds.token.empty()) {
    hello.username = creds.username;
    hello.password = creds.password;
  } else {
    hello.token = creds.token;
  }
  hello.device_id = options_.device_id;
  hello.platform = options_.platform;
  hello.ack_inbox_seq = tracker_.cursor();
  hello.client_version = options_.client_version;
  uint64_t req_id = next_req_id();
  FrameBytes frame = build_hello(fbb_, req_id, hello);
  if (!send_internal(frame, req_id, proto::Body::Hello, InternalRequest::Login)) {
    drop_connection(error_status(kConnectionLost, "could not send Hello"));
  }
}

}  // namespace im::client
