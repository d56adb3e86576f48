// client.cc - the caller side of Client: lifecycle (connect, login, logout, close), the
// request plumbing every call uses (send_request: register a Waiter in the pending map,
// write the frame, sleep until the reader thread in session_loop.cc hands over the answer
// or the timeout passes), the entry queue and the getters. Request calls themselves live
// in client_requests.cc.
#include "client/client.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "protocol/frame_verify.h"

namespace im::client {

namespace proto = im::proto;

namespace {

bool is_open(ConnectionState state) {
  return state == ConnectionState::Connected || state == ConnectionState::LoggingIn ||
         state == ConnectionState::LoggedIn;
}

}  // namespace

const char* state_name(ConnectionState state) {
  switch (state) {
    case ConnectionState::Disconnected:
      return "Disconnected";
    case ConnectionState::Connecting:
      return "Connecting";
    case ConnectionState::Connected:
      return "Connected";
    case ConnectionState::LoggingIn:
      return "LoggingIn";
    case ConnectionState::LoggedIn:
      return "LoggedIn";
    case ConnectionState::Reconnecting:
      return "Reconnecting";
    case ConnectionState::Closed:
      return "Closed";
  }
  return "?";
}

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      pending_(options_.max_pending_requests),
      sent_ids_(options_.max_sent_ids),
      group_tracker_(options_.max_tracked_groups),
      rng_(std::random_device{}()),
      tracker_(options_.inbox_seq) {
  cursor_.store(options_.inbox_seq);
  for (const auto& [gid, group_seq] : options_.group_cursors) {
    if (gid != 0) group_tracker_.set_cursor(gid, group_seq);
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Client::~Client() {
  close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Client::wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  (void)n;  // a full counter still wakes the poll
}

Status Client::check_caller_thread() const {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return error_status(kWrongThread, "blocking Client call from a callback (reader thread)");
  }
  return ok_status();
}

void Client::set_state_locked(ConnectionState state, const Status& why) {
  if (state_ == state) return;
  state_ = state;
  if (options_.on_state) state_events_.emplace_back(state, why);
  state_cv_.notify_all();
  queue_cv_.notify_all();
}

void Client::flush_state_events() {
  if (!options_.on_state) return;
  std::lock_guard callback_lock(callback_mu_);
  std::vector<std::pair<ConnectionState, Status>> events;
  {
    std::lock_guard lock(mu_);
    events.swap(state_events_);
  }
  for (const auto& [state, why] : events) options_.on_state(state, why);
}

void Client::fail_pending_locked(Code code, const std::string& reason) {
  for (const PendingRequest& request : pending_.take_all()) {
    if (request.waiter == nullptr) continue;
    request.waiter->status = error_status(code, reason);
    request.waiter->done = true;
    request.waiter->cv.notify_one();
  }
}

Status Client::connect(std::string_view host, uint16_t port) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    if (state_ == ConnectionState::Closed) return error_status(kClosed, "client closed");
    if (state_ != ConnectionState::Disconnected) {
      return error_status(Code::BadRequest, std::string("already ") + state_name(state_));
    }
    state_ = ConnectionState::Connecting;
    host_ = std::string(host);
    port_ = port;
    reconnect_allowed_ = false;
  }
  auto conn = std::make_unique<Connection>(options_.max_receive_frame_bytes);
  Status status = conn->connect(host, port, options_.connect_timeout_ms);
  {
    std::lock_guard lock(mu_);
    if (state_ != ConnectionState::Connecting) return error_status(kClosed, "client closed");
    if (!status.ok()) {
      last_error_ = status;
      state_ = ConnectionState::Disconnected;
      state_cv_.notify_all();
      return status;
    }
    {
      std::lock_guard write_lock(write_mu_);
      conn_ = std::move(conn);
      epoch_++;
    }
    last_write_ms_.store(steady_now_ms());
    set_state_locked(ConnectionState::Connected, ok_status());
    if (!thread_.joinable()) thread_ = std::thread(&Client::run, this);
  }
  wake();
  flush_state_events();
  return ok_status();
}

Status Client::write_frame(FrameBytes frame, uint64_t epoch) {
  Status status;
  {
    std::lock_guard write_lock(write_mu_);
    if (conn_ == nullptr || epoch_.load() != epoch) {
      return error_status(kConnectionLost, "the connection was replaced");
    }
    status = conn_->write_frame(frame, options_.write_timeout_ms);
    if (status.ok()) {
      last_write_ms_.store(steady_now_ms());
      frames_sent_++;
      return status;
    }
  }
  std::lock_guard lock(mu_);  // a broken socket: let the reader thread drop it
  close_connection_ = true;
  close_reason_ = status;
  wake();
  return status;
}

Result<ReceivedFrame> Client::send_request(FrameBytes frame, uint64_t req_id, proto::Body type,
                                           uint32_t timeout_ms) {
  Waiter waiter;
  uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    if (state_ == ConnectionState::Closed) return error_status(kClosed, "client closed");
    if (!is_open(state_)) {
      return error_status(kNotConnected, std::string("not connected (") + state_name(state_) + ")");
    }
    if (!pending_.add(req_id, {type, &waiter, InternalRequest::None, 0})) {
      return error_status(kTooManyPending, "pending request cap reached or req_id in use");
    }
    epoch = epoch_.load();
  }
  Status written = write_frame(frame, epoch);
  std::unique_lock lock(mu_);
  if (!written.ok()) {
    pending_.forget(req_id, &waiter);
    return written;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  waiter.cv.wait_until(lock, deadline, [&] { return waiter.done; });
  if (!waiter.done) {
    pending_.forget(req_id, &waiter);
    return error_status(kTimeout, std::string("no answer to ") + proto::EnumNameBody(type) +
                                      " within " + std::to_string(timeout_ms) + " ms");
  }
  if (!waiter.status.ok()) return waiter.status;
  return std::move(waiter.frame);
}

// Requests that need a session wait (bounded) while a login or reconnect is under way,
// rather than racing it and getting NotLoggedIn.
Result<ReceivedFrame> Client::call(FrameBytes frame, uint64_t req_id, proto::Body type) {
  {
    std::unique_lock lock(mu_);
    state_cv_.wait_for(lock, std::chrono::milliseconds(options_.request_timeout_ms), [&] {
      return state_ != ConnectionState::Connecting && state_ != ConnectionState::LoggingIn &&
             state_ != ConnectionState::Reconnecting;
    });
  }
  return send_request(frame, req_id, type, options_.request_timeout_ms);
}

Result<ReceivedFrame> Client::request(FrameBytes frame, uint64_t req_id, uint32_t timeout_ms) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  const proto::Frame* parsed = im::protocol::verify_frame(frame);
  proto::Body type = parsed ? parsed->body_type() : proto::Body::NONE;
  return send_request(frame, req_id, type, timeout_ms);
}

Status Client::write_raw(std::span<const uint8_t> bytes) {
  std::lock_guard write_lock(write_mu_);
  if (conn_ == nullptr) return error_status(kNotConnected, "not connected");
  return conn_->write_raw(bytes, options_.write_timeout_ms);
}

Result<RegisterInfo> Client::register_user(std::string_view username, std::string_view password) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(256);
  uint64_t req_id = next_req_id();
  auto answer = send_request(build_register(fbb, req_id, username, password), req_id,
                             proto::Body::Register, options_.request_timeout_ms);
  if (!answer.ok()) return answer.status();
  return decode_register_ok(answer->frame());
}

Result<LoginInfo> Client::login(const Credentials& creds) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    if (state_ == ConnectionState::LoggedIn || state_ == ConnectionState::LoggingIn) {
      return error_status(Code::AlreadyLoggedIn, "already logged in on this connection");
    }
    if (state_ != ConnectionState::Connected) {
      return error_status(kNotConnected, std::string("not connected (") + state_name(state_) + ")");
    }
    creds_ = creds;
    set_state_locked(ConnectionState::LoggingIn, ok_status());
  }
  flush_state_events();
  HelloParams hello;
  hello.username = creds.username;
  hello.password = creds.password;
  hello.token = creds.token;
  hello.device_id = options_.device_id;
  hello.platform = options_.platform;
  hello.ack_inbox_seq = cursor_.load();
  hello.client_version = options_.client_version;
  flatbuffers::FlatBufferBuilder fbb(256);
  uint64_t req_id = next_req_id();
  auto answer = send_request(build_hello(fbb, req_id, hello), req_id, proto::Body::Hello,
                             options_.request_timeout_ms);
  if (!answer.ok()) {
    std::lock_guard lock(mu_);
    if (state_ == ConnectionState::LoggingIn)
      set_state_locked(ConnectionState::Connected, answer.status());
  }
  flush_state_events();
  if (!answer.ok()) return answer.status();
  return decode_login_ok(answer->frame());  // the reader thread already applied it
}

Result<LoginInfo> Client::login_password(std::string_view username, std::string_view password) {
  return login({std::string(username), std::string(password), {}});
}

Result<LoginInfo> Client::login_token(std::string_view token) {
  return login({{}, {}, std::string(token)});
}

Status Client::logout() {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    reconnect_allowed_ = false;
  }
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  auto answer = call(build_logout(fbb, req_id), req_id, proto::Body::Logout);
  Status status = answer.ok() ? decode_status(answer->frame()) : answer.status();
  {
    std::lock_guard lock(mu_);
    creds_ = {};
    if (is_open(state_)) {
      close_connection_ = true;
      close_reason_ = error_status(Code::Ok, "logged out");
    }
  }
  wake();
  wait_for_state(ConnectionState::Disconnected, options_.request_timeout_ms);
  return status;
}

void Client::close() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake();
  // From a callback: the reader thread finishes its turn, then leaves and cleans up.
  if (std::this_thread::get_id() == thread_.get_id()) return;
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    fail_pending_locked(kClosed, "client closed");
    {
      std::lock_guard write_lock(write_mu_);
      conn_.reset();
      epoch_++;
    }
    set_state_locked(ConnectionState::Closed, error_status(kClosed, "client closed"));
  }
  flush_state_events();
}

void Client::resume_entries_locked() {
  if (entries_stalled_ && queue_.size() <= options_.max_queued_entries / 2) {
    entries_stalled_ = false;
    sync_wanted_ = true;
    wake();
  }
}

std::optional<InboxEntry> Client::next_entry(uint32_t timeout_ms) {
  std::unique_lock lock(mu_);
  queue_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                     [&] { return !queue_.empty() || state_ == ConnectionState::Closed; });
  if (queue_.empty()) return std::nullopt;
  InboxEntry entry = std::move(queue_.front());
  queue_.pop_front();
  resume_entries_locked();
  return entry;
}

std::vector<InboxEntry> Client::take_entries() {
  std::lock_guard lock(mu_);
  std::vector<InboxEntry> out(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.end()));
  queue_.clear();
  resume_entries_locked();
  return out;
}

ConnectionState Client::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool Client::wait_for_state(ConnectionState wanted, uint32_t timeout_ms) {
  std::unique_lock lock(mu_);
  return state_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [&] { return state_ == wanted; });
}

uint64_t Client::uid() const {
  std::lock_guard lock(mu_);
  return uid_;
}

std::string Client::username() const {
  std::lock_guard lock(mu_);
  return username_;
}

std::string Client::token() const {
  std::lock_guard lock(mu_);
  return creds_.token;
}

std::optional<KickInfo> Client::last_kick() const {
  std::lock_guard lock(mu_);
  return last_kick_;
}

Status Client::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

ClientStats Client::stats() const {
  std::lock_guard lock(mu_);
  ClientStats stats = stats_;
  stats.frames_sent = frames_sent_.load();
  return stats;
}

}  // namespace im::client
