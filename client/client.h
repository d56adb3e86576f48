// client.h - the C++ client SDK: one Client is one device of one user, connected to one
// imserver over TCP.
//
// Model. Calls are blocking with timeouts and return a Result<T> / Status carrying the
// protocol Code and reason (client/status.h); nothing throws for protocol or network
// errors. Each Client owns one reader thread (started by connect(), stopped by close() or
// the destructor) that reads every frame, matches Results to the waiting caller by
// req_id, delivers inbox entries, acks them, pings, and reconnects.
//
// Delivery. Inbox entries (Message, ReadEvent) reach the app exactly once and in inbox_seq
// order: duplicates from re-pushes are dropped, a gap triggers a Sync, and the cumulative
// Ack is sent after each Push frame (or Sync page) once the app has the entries. Entries
// go to on_entry (on the reader thread) when set, otherwise into a bounded queue read by
// next_entry(). If that queue is full, the SDK stops taking (and acking) entries and syncs
// from its cursor once the app has drained half of it: nothing is lost.
//
// Reliability. send_text() picks a client_msg_id and keeps resending with the SAME id over
// reconnects until a SendResult arrives, a non-retryable error comes back, or
// send_deadline_ms passes. After a lost connection (or Kick SlowConsumer / IdleTimeout /
// ServerShutdown) the reader thread reconnects with exponential backoff and logs in again
// with the token (falling back to the password if the token is refused), carrying
// Hello.ack_inbox_seq = inbox_cursor(). Kick Kicked (same device id elsewhere), an auth
// failure on re-login, logout() and close() stop reconnection.
//
// Groups (read diffusion). Group log entries (Message, GroupEvent) arrive by GroupPush and
// reach the app through the same on_entry / next_entry, with gid and group_seq set and
// inbox_seq 0. A GroupTracker (client/group_tracker.h) keeps each group's highest
// delivered group_seq: duplicates are dropped and a gap triggers a GroupSync of that group
// (GroupPush is not acked). After every login the SDK lists the user's groups and syncs
// each one that has entries past its cursor; a group this Client has no cursor for starts
// at the member's read cursor (unread entries are delivered, older ones are history), and
// a group joined during the session is synced from the member's join. Persist
// group_cursors() and pass them back as options.group_cursors to resume exactly.
// group_send_text() retries like send_text(), with the same client_msg_id.
//
// Threads. Every public method is thread-safe. Blocking methods must not be called from
// the callbacks (they run on the reader thread, which is the one that would read the
// answer): they return kWrongThread there. Callbacks may call the non-blocking getters.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "client/client_msg_ids.h"
#include "client/connection.h"
#include "client/frame_builders.h"
#include "client/group_tracker.h"
#include "client/inbox_tracker.h"
#include "client/pending_requests.h"
#include "client/sent_ids.h"
#include "client/status.h"
#include "client/types.h"

namespace im::client {

enum class ConnectionState : uint8_t {
  Disconnected,  // no connection and none being made (initial, after Kick/logout/auth failure)
  Connecting,    // connect() in progress
  Connected,     // TCP up, not logged in (register_user / login allowed)
  LoggingIn,     // a Hello is in flight
  LoggedIn,      // session established
  Reconnecting,  // connection lost; the reader thread is reconnecting with backoff
  Closed,        // close() was called; the Client cannot be used again
};
const char* state_name(ConnectionState state);

struct ClientOptions {
  std::string device_id = "cpp-sdk";  // stable per device, 1..64 bytes
  im::proto::Platform platform = im::proto::Platform::Unknown;
  std::string client_version = "im-client/0.1";
  // The highest inbox_seq the app already stored (persist inbox_cursor() across runs);
  // 0 = unknown: trust the server's cursor for this device id.
  uint64_t inbox_seq = 0;
  // false: a send-only client (scripts, bots, load generators). Pushed entries are acked
  // unseen (the server would otherwise stop pushing and kick the device as SlowConsumer after
  // its ack timeout) and never delivered; nothing is synced. Use a device id of its own.
  bool receive_entries = true;

  uint32_t connect_timeout_ms = 5000;
  uint32_t request_timeout_ms = 10000;  // per request, from write to Result
  uint32_t write_timeout_ms = 10000;
  uint32_t ping_interval_ms = 20000;  // a Ping when nothing was written this long; 0 = off
  bool auto_reconnect = true;
  uint32_t reconnect_min_ms = 200;  // backoff doubles up to reconnect_max_ms, with jitter
  uint32_t reconnect_max_ms = 10000;
  uint32_t send_deadline_ms = 60000;  // how long send_text keeps retrying

  uint32_t max_pending_requests = 1024;  // caller requests awaiting a Result
  uint32_t max_queued_entries = 10000;   // next_entry() queue when on_entry is not set
  uint32_t max_sent_ids = 4096;          // remembered client_msg_ids (from_this_device)
  uint32_t max_receive_frame_bytes = kDefaultMaxReceiveFrameBytes;
  uint32_t sync_page_limit = 0;  // Sync.limit (0 = server default)

  // Groups: the highest group_seq the app already has per group (persist group_cursors()).
  std::vector<std::pair<uint64_t, uint64_t>> group_cursors;
  uint32_t max_tracked_groups = 4096;  // GroupTracker bound (least recently used forgotten)
  uint32_t group_sync_page_limit = 0;  // GroupSync.limit (0 = server default)
  // After each login: ListGroups, then GroupSync every group with entries past its cursor.
  bool catch_up_groups = true;

  // Called on the reader thread. Must not call blocking Client methods.
  std::function<void(const InboxEntry&)> on_entry;
  std::function<void(const KickInfo&)> on_kick;
  std::function<void(ConnectionState, const Status&)> on_state;
};

struct ClientStats {
  uint64_t frames_received = 0;
  uint64_t frames_sent = 0;
  uint64_t entries_delivered = 0;
  uint64_t duplicates_dropped = 0;
  uint64_t gaps_detected = 0;
  uint64_t syncs_sent = 0;
  uint64_t acks_sent = 0;
  uint64_t pings_sent = 0;
  uint64_t reconnects = 0;         // successful re-logins by the reader thread
  uint64_t unmatched_results = 0;  // Results for no pending req_id (late or unknown)
  uint64_t send_resends = 0;       // Send frames beyond the first, in send_text
  uint64_t group_gaps_detected = 0;
  uint64_t group_syncs_sent = 0;  // GroupSync frames sent by the SDK itself
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();  // close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects (Disconnected -> Connected) and starts the reader thread.
  Status connect(std::string_view host, uint16_t port);
  Result<RegisterInfo> register_user(std::string_view username, std::string_view password);
  // Log in; the credentials and the returned token are kept for re-login after reconnect.
  Result<LoginInfo> login_password(std::string_view username, std::string_view password);
  Result<LoginInfo> login_token(std::string_view token);

  // Sends with a fresh client_msg_id (growing per Client, client/client_msg_ids.h), retrying as
  // described above.
  Result<SendReceipt> send_text(uint64_t to_uid, std::string_view text);
  Result<SendReceipt> send_text_with_id(uint64_t to_uid, uint64_t client_msg_id,
                                        std::string_view text);
  // One Send frame, no retry (tests of dedup and error codes).
  Result<SendReceipt> send_text_once(uint64_t to_uid, uint64_t client_msg_id,
                                     std::string_view text);

  // before_inbox_seq > 0 (or both 0): newest first; after_inbox_seq > 0: oldest first.
  Result<HistoryPage> history(uint64_t peer_uid, uint64_t before_inbox_seq,
                              uint64_t after_inbox_seq, uint32_t limit);
  Result<ConversationList> conversations(uint32_t limit = 0);
  Result<MarkReadInfo> mark_read(uint64_t peer_uid, uint64_t up_to_inbox_seq = 0);
  Result<std::vector<UserInfo>> get_users(std::span<const uint64_t> uids,
                                          std::span<const std::string> usernames);
  // Resolves one username; UnknownUser when the server does not know it.
  Result<UserInfo> find_user(std::string_view username);
  // A Sync page as the server returns it; does not go through delivery or the cursor.
  Result<SyncPage> sync(uint64_t after_inbox_seq, uint32_t limit = 0);
  Result<PongInfo> ping();

  // ---- groups (client_groups.cc). Refusals carry the protocol codes: UnknownGroup 307,
  // NotMember 308, GroupFull 309, GroupDismissed 310, MutedInGroup 311, NotAllowed 312. ----
  Result<GroupChange> create_group(std::string_view name, std::span<const uint64_t> member_uids);
  Result<GroupInfo> group_info(uint64_t gid);
  Result<std::vector<GroupSummary>> list_groups();
  Result<MemberList> list_members(uint64_t gid, uint64_t after_uid = 0, uint32_t limit = 0);
  Result<GroupChange> invite(uint64_t gid, std::span<const uint64_t> uids);
  Result<GroupChange> remove_member(uint64_t gid, uint64_t uid);
  Result<GroupChange> quit_group(uint64_t gid);
  Result<GroupChange> dismiss_group(uint64_t gid);
  Result<GroupChange> update_group(uint64_t gid, const GroupUpdate& update);
  Result<GroupChange> transfer_ownership(uint64_t gid, uint64_t new_owner_uid);
  Result<GroupChange> set_admin(uint64_t gid, uint64_t uid, bool admin);
  Result<GroupChange> mute_member(uint64_t gid, uint64_t uid, bool muted);
  // Do-not-disturb for this user only (no event is written).
  Result<GroupChange> mute_group(uint64_t gid, bool muted);
  // Sends with a fresh client_msg_id, retrying like send_text.
  Result<SendReceipt> group_send_text(uint64_t gid, std::string_view text,
                                      std::span<const uint64_t> mentions = {},
                                      bool mention_all = false);
  Result<SendReceipt> group_send_text_with_id(uint64_t gid, uint64_t client_msg_id,
                                              std::string_view text,
                                              std::span<const uint64_t> mentions = {},
                                              bool mention_all = false);
  // One GroupSend frame, no retry.
  Result<SendReceipt> group_send_text_once(uint64_t gid, uint64_t client_msg_id,
                                           std::string_view text);
  // A GroupSync page as the server returns it (head_inbox_seq = newest visible group_seq);
  // does not go through delivery or the group cursors.
  Result<SyncPage> group_sync(uint64_t gid, uint64_t after_group_seq, uint32_t limit = 0);
  // Like history(): before_group_seq > 0 (or both 0) newest first; after_group_seq > 0
  // oldest first.
  Result<HistoryPage> group_history(uint64_t gid, uint64_t before_group_seq,
                                    uint64_t after_group_seq, uint32_t limit);
  // 0 = up to the newest visible entry.
  Result<MarkReadInfo> mark_group_read(uint64_t gid, uint64_t up_to_group_seq = 0);
  // Highest group_seq delivered to the app, per group (persist; pass back in options).
  std::vector<std::pair<uint64_t, uint64_t>> group_cursors() const;
  uint64_t group_cursor(uint64_t gid) const;

  // Logout -> Result Ok, then the connection closes (no reconnect). State: Disconnected.
  Status logout();
  // Stops everything at once (no Logout frame); pending calls return kClosed.
  void close();

  // Receive queue, used when options.on_entry is not set.
  std::optional<InboxEntry> next_entry(uint32_t timeout_ms);
  std::vector<InboxEntry> take_entries();

  // Generic request: frame must carry req_id (take one from next_req_id()). Returns the
  // answer frame (Result or Pong) whatever its code; decode with client/frame_decoders.h.
  Result<ReceivedFrame> request(FrameBytes frame, uint64_t req_id, uint32_t timeout_ms);
  uint64_t next_req_id() { return next_req_id_.fetch_add(1, std::memory_order_relaxed); }
  // Writes bytes as they are (no framing, no pending entry); for protocol-abuse tests.
  Status write_raw(std::span<const uint8_t> bytes);

  ConnectionState state() const;
  // Waits until state() == wanted; false on timeout.
  bool wait_for_state(ConnectionState wanted, uint32_t timeout_ms);
  uint64_t uid() const;
  std::string username() const;
  std::string token() const;
  // Highest inbox_seq delivered to the app (persist it; pass back as options.inbox_seq).
  uint64_t inbox_cursor() const { return cursor_.load(std::memory_order_acquire); }
  std::optional<KickInfo> last_kick() const;
  Status last_error() const;  // why the last connection ended
  ClientStats stats() const;
  const ClientOptions& options() const { return options_; }

 private:
  struct Credentials {
    std::string username, password, token;
  };

  // Caller side (client.cc).
  Result<LoginInfo> login(const Credentials& creds);
  Status check_caller_thread() const;
  Status wait_logged_in(int64_t deadline_ms);
  Result<SendReceipt> send_attempt(uint64_t to_uid, uint64_t client_msg_id, std::string_view text,
                                   uint32_t timeout_ms);
  // The resend loop of send_text / group_send_text around one attempt(timeout_ms).
  Result<SendReceipt> send_with_retry(
      const std::function<Result<SendReceipt>(uint32_t timeout_ms)>& attempt);
  Result<SendReceipt> group_send_attempt(uint64_t gid, uint64_t client_msg_id,
                                         std::string_view text, std::span<const uint64_t> mentions,
                                         bool mention_all, uint32_t timeout_ms);
  Result<GroupChange> group_change(FrameBytes frame, uint64_t req_id, im::proto::Body type);
  Result<ReceivedFrame> call(FrameBytes frame, uint64_t req_id, im::proto::Body type);
  // One request answered by one Result: build(fbb, req_id) -> frame, then decode(frame).
  template <typename Build, typename Decode>
  auto ask(im::proto::Body type, Build&& build, Decode&& decode)
      -> decltype(decode(std::declval<const im::proto::Frame&>())) {
    if (Status s = check_caller_thread(); !s.ok()) return s;
    flatbuffers::FlatBufferBuilder fbb(128);
    uint64_t req_id = next_req_id();
    auto answer = call(build(fbb, req_id), req_id, type);
    if (!answer.ok()) return answer.status();
    return decode(answer->frame());
  }
  Result<ReceivedFrame> send_request(FrameBytes frame, uint64_t req_id, im::proto::Body type,
                                     uint32_t timeout_ms);
  Status write_frame(FrameBytes frame, uint64_t epoch);
  void set_state_locked(ConnectionState state, const Status& why);
  void flush_state_events();
  void fail_pending_locked(Code code, const std::string& reason);
  void resume_entries_locked();
  uint64_t new_client_msg_id();
  void wake();

  // Reader thread (session_loop.cc).
  void run();
  void serve_connection();
  void reconnect_step();
  void wait_for_wake(int timeout_ms);
  int next_timeout_ms(int64_t now_ms);
  bool handle_frame(std::vector<uint8_t>& bytes);
  void handle_answer(ReceivedFrame frame);
  void handle_internal(const PendingRequest& request, const ReceivedFrame& frame);
  void handle_relogin(const ReceivedFrame& frame);
  void handle_sync_page(const ReceivedFrame& frame);
  void handle_kick(const im::proto::Kick& kick);
  bool apply_login_locked(const LoginInfo& info);
  bool apply_caller_login_locked(const ReceivedFrame& frame);
  void deliver_entries(std::vector<InboxEntry>& entries, bool from_sync);
  bool deliver_one(InboxEntry& entry);
  void send_ack_if_due();
  void start_sync();
  bool send_internal(FrameBytes frame, uint64_t req_id, im::proto::Body type, InternalRequest kind,
                     uint64_t gid = 0);
  void send_relogin();
  void run_timers(int64_t now_ms);
  void drop_connection(const Status& why);
  // Reader thread, groups (group_delivery.cc).
  void deliver_group_entry(InboxEntry& entry, bool from_sync, bool* stalled);
  void request_group_sync(uint64_t gid);
  void send_group_sync(uint64_t gid);
  void handle_group_sync_page(uint64_t gid, const ReceivedFrame& frame);
  void start_group_catch_up();
  void handle_group_list(const ReceivedFrame& frame);
  void resync_groups_behind();
  void reset_group_syncs();
  void schedule_reconnect();

  const ClientOptions options_;
  std::atomic<uint64_t> next_req_id_{1};
  std::atomic<uint64_t> cursor_{0};        // mirror of tracker_.cursor() for other threads
  std::atomic<int64_t> last_write_ms_{0};  // steady clock; drives the heartbeat
  std::atomic<uint64_t> frames_sent_{0};
  int wake_fd_ = -1;  // eventfd: wakes the reader thread's poll
  std::thread thread_;

  // Guarded by mu_. Lock order: mu_ before write_mu_; never mu_ while holding write_mu_.
  mutable std::mutex mu_;
  std::condition_variable state_cv_;  // state_ changes
  std::condition_variable queue_cv_;  // queue_ grows
  ConnectionState state_ = ConnectionState::Disconnected;
  std::vector<std::pair<ConnectionState, Status>> state_events_;  // for on_state
  std::string host_;
  uint16_t port_ = 0;
  Credentials creds_;
  uint64_t uid_ = 0;
  std::string username_;
  bool reconnect_allowed_ = false;  // a session existed and nothing forbade reconnecting
  bool stop_ = false;
  bool close_connection_ = false;  // asks the reader thread to drop the connection
  Status close_reason_;
  bool entries_stalled_ = false;  // the queue was full: entries were refused, not acked
  bool sync_wanted_ = false;      // the queue drained: the reader thread should Sync
  std::optional<KickInfo> last_kick_;
  Status last_error_;
  Status connection_error_;  // an error Result matching no request on this connection
  PendingRequests pending_;
  std::deque<InboxEntry> queue_;
  SentIds sent_ids_;
  GroupTracker group_tracker_;
  ClientStats stats_;
  std::mt19937_64 rng_;
  ClientMsgIds msg_ids_;

  std::mutex callback_mu_;  // serialises on_state calls

  // The connection. Replaced (under mu_ and write_mu_) by connect() while Disconnected or
  // by the reader thread; read only by the reader thread; written under write_mu_.
  std::mutex write_mu_;
  std::unique_ptr<Connection> conn_;
  std::atomic<uint64_t> epoch_{0};  // bumped whenever conn_ is replaced or dropped

  // Reader thread only.
  InboxTracker tracker_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  bool syncing_ = false;
  uint64_t catchup_head_ = 0;     // LoginOk.inbox_head_seq still to reach; 0 = none
  int64_t catchup_check_ms_ = 0;  // steady clock: Sync if no progress by then
  int64_t sync_retry_ms_ = 0;     // steady clock; 0 = none
  uint32_t backoff_ms_ = 0;
  int64_t next_reconnect_ms_ = 0;  // steady clock
  bool use_password_next_ = false;
  // Groups: GroupSyncs in flight (at most kMaxGroupSyncs) and waiting (bounded by
  // max_tracked_groups); gaps of groups not yet known while the login's ListGroups runs.
  std::unordered_set<uint64_t> group_syncing_;
  std::deque<uint64_t> group_sync_queue_;
  std::unordered_set<uint64_t> group_sync_queued_;
  bool group_listing_ = false;                         // the login's ListGroups is in flight
  bool group_catch_up_due_ = false;                    // a login succeeded: send that ListGroups
  std::unordered_map<uint64_t, uint64_t> group_held_;  // gid -> highest seq seen
};

}  // namespace im::client
