// client_requests.cc - the Client's request calls once a session exists: send_text with
// its resend loop (same client_msg_id across reconnects, shared with group_send_text in
// client_groups.cc), and the queries (history,
// conversations, mark_read, users, sync, ping). Each builds one frame, waits for its
// answer through send_request()/call() (client.cc) and decodes it.
#include <algorithm>
#include <cctype>
#include <chrono>

#include "client/client.h"

namespace im::client {

namespace proto = im::proto;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

uint64_t Client::new_client_msg_id() {
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::lock_guard lock(mu_);
  return msg_ids_.next(now_s, rng_());
}

Status Client::wait_logged_in(int64_t deadline_ms) {
  std::unique_lock lock(mu_);
  auto done = [&] {
    return state_ == ConnectionState::LoggedIn || state_ == ConnectionState::Disconnected ||
           state_ == ConnectionState::Connected || state_ == ConnectionState::Closed;
  };
  int64_t left_ms = std::max<int64_t>(0, deadline_ms - steady_now_ms());
  state_cv_.wait_for(lock, std::chrono::milliseconds(left_ms), done);
  switch (state_) {
    case ConnectionState::LoggedIn:
      return ok_status();
    case ConnectionState::Closed:
      return error_status(kClosed, "client closed");
    case ConnectionState::Connected:
      return error_status(Code::NotLoggedIn, "call login first");
    case ConnectionState::Disconnected:
      return error_status(kNotConnected, "not connected: " + last_error_.to_string());
    default:
      return error_status(kTimeout, "not logged in again before the send deadline");
  }
}

Result<SendReceipt> Client::send_text(uint64_t to_uid, std::string_view text) {
  return send_text_with_id(to_uid, new_client_msg_id(), text);
}

Result<SendReceipt> Client::send_text_once(uint64_t to_uid, uint64_t client_msg_id,
                                           std::string_view text) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  return send_attempt(to_uid, client_msg_id, text, options_.request_timeout_ms);
}

Result<SendReceipt> Client::send_attempt(uint64_t to_uid, uint64_t client_msg_id,
                                         std::string_view text, uint32_t timeout_ms) {
  {
    std::lock_guard lock(mu_);
    sent_ids_.add(client_msg_id);
  }
  flatbuffers::FlatBufferBuilder fbb(256 + text.size());
  uint64_t req_id = next_req_id();
  auto answer = send_request(build_send_text(fbb, req_id, to_uid, client_msg_id, text), req_id,
                             proto::Body::Send, timeout_ms);
  if (!answer.ok()) return answer.status();
  Result<SendReceipt> receipt = decode_send_result(answer->frame());
  if (receipt.ok()) {
    receipt->client_msg_id = client_msg_id;
    receipt->attempts = 1;
  }
  return receipt;
}

Result<SendReceipt> Client::send_text_with_id(uint64_t to_uid, uint64_t client_msg_id,
                                              std::string_view text) {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  return send_with_retry(
      [&](uint32_t timeout_ms) { return send_attempt(to_uid, client_msg_id, text, timeout_ms); });
}

// Resends (the attempt reuses its client_msg_id) until a SendResult, a non-retryable
// error, or send_deadline_ms; waits out reconnects and backs off on 5xx answers.
Result<SendReceipt> Client::send_with_retry(
    const std::function<Result<SendReceipt>(uint32_t timeout_ms)>& attempt) {
  int64_t deadline_ms = steady_now_ms() + options_.send_deadline_ms;
  uint32_t attempts = 0;
  uint32_t backoff_ms = 100;
  Status last;
  for (;;) {
    Status ready = wait_logged_in(deadline_ms);
    if (!ready.ok()) return last.ok() || ready.code == kClosed ? ready : last;
    int64_t left_ms = deadline_ms - steady_now_ms();
    if (left_ms <= 0) return last.ok() ? error_status(kTimeout, "send deadline passed") : last;
    uint32_t timeout_ms =
        static_cast<uint32_t>(std::min<int64_t>(left_ms, options_.request_timeout_ms));
    if (attempts > 0) {
      std::lock_guard lock(mu_);
      stats_.send_resends++;
    }
    attempts++;
    Result<SendReceipt> receipt = attempt(timeout_ms);
    if (receipt.ok()) {
      receipt->attempts = attempts;
      return receipt;
    }
    if (!status_is_retryable(receipt.code())) return receipt;
    last = receipt.status();
    if (!status_is_transport(receipt.code())) {  // 5xx: the server asks us to wait
      int64_t pause_ms =
          std::min<int64_t>(backoff_ms, std::max<int64_t>(0, deadline_ms - steady_now_ms()));
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      backoff_ms = std::min<uint32_t>(backoff_ms * 2, 2000);
    }
  }
}

Result<HistoryPage> Client::history(uint64_t peer_uid, uint64_t before_inbox_seq,
                                    uint64_t after_inbox_seq, uint32_t limit) {
  return ask(
      proto::Body::History,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_history(fbb, req_id, peer_uid, before_inbox_seq, after_inbox_seq, limit);
      },
      decode_history_page);
}

Result<ConversationList> Client::conversations(uint32_t limit) {
  return ask(
      proto::Body::Conversations,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_conversations(fbb, req_id, limit);
      },
      decode_conversation_list);
}

Result<MarkReadInfo> Client::mark_read(uint64_t peer_uid, uint64_t up_to_inbox_seq) {
  return ask(
      proto::Body::MarkRead,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_mark_read(fbb, req_id, peer_uid, up_to_inbox_seq);
      },
      decode_mark_read_ok);
}

Result<std::vector<UserInfo>> Client::get_users(std::span<const uint64_t> uids,
                                                std::span<const std::string> usernames) {
  return ask(
      proto::Body::GetUsers,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_get_users(fbb, req_id, uids, usernames);
      },
      decode_user_list);
}

Result<UserInfo> Client::find_user(std::string_view username) {
  std::string wanted = lower(username);
  std::vector<std::string> names{std::string(username)};
  Result<std::vector<UserInfo>> users = get_users({}, names);
  if (!users.ok()) return users.status();
  for (const UserInfo& user : users.value()) {
    if (lower(user.username) == wanted) return user;
  }
  return error_status(Code::UnknownUser, "no user named " + std::string(username));
}

Result<SyncPage> Client::sync(uint64_t after_inbox_seq, uint32_t limit) {
  return ask(
      proto::Body::Sync,
      [&](flatbuffers::FlatBufferBuilder& fbb, uint64_t req_id) {
        return build_sync(fbb, req_id, after_inbox_seq, limit);
      },
      decode_sync_page);
}

Result<PongInfo> Client::ping() {
  if (Status s = check_caller_thread(); !s.ok()) return s;
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t req_id = next_req_id();
  auto answer = send_request(build_ping(fbb, req_id, unix_now_ms()), req_id, proto::Body::Ping,
                             options_.request_timeout_ms);
  if (!answer.ok()) return answer.status();
  return decode_pong(answer->frame(), unix_now_ms());
}

}  // namespace im::client
