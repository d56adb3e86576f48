// mixed_thread.h - one loop thread of the `mixed` workload. It owns a share of the idle
// connections (token logins after each idle account's first device, heartbeats) and of the
// active users, for whom it runs three open-loop schedules (1:1 sends, group sends,
// disconnect/reconnect) and the receive side of the reliability contract: inbox entries and
// group entries pass the SDK's trackers (dedup by seq, Sync / GroupSync on a gap and after
// every reconnect, cumulative acks), then the per-conversation DeliveryChecks.
// Thread: a MixedThread, its users and connections belong to the thread running run(); the
// main thread reads them only after join, and the counters (atomics) at any time.
// MixedShared is written by the main thread before the phase that publishes it (uids and
// first tokens excepted: each user's first login writes its slot before ready++).
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/imbench/conn_loop.h"
#include "bench/imbench/delivery_check.h"
#include "bench/imbench/histogram.h"
#include "bench/imbench/mixed_plan.h"
#include "bench/imbench/options.h"
#include "bench/imbench/rate_schedule.h"
#include "bench/imbench/run_support.h"
#include "client/frame_decoders.h"
#include "client/group_tracker.h"
#include "client/inbox_tracker.h"

namespace im::bench {

// Login: connect and log in. Arm: groups exist, checks are built. Run: the schedules run.
// Drain: no new sends or disconnects; in-flight work finishes.
enum class MixedPhase : int { Login, Arm, Run, Drain, Stop };

struct MixedShared {
  const Options& o;
  const MixedPlan& plan;
  sockaddr_in server{};
  SourceAddrs sources;
  uint64_t nonce = 0;               // high 32 bits of every client_msg_id of this run
  std::vector<uint64_t> uids;       // per active user, written by its first login
  std::vector<std::string> tokens;  // per active user, then per idle account
  std::vector<uint64_t> gids;       // per group, before MixedPhase::Arm
  std::vector<uint64_t> base_seqs;  // per group: its last group_seq before the run
  std::atomic<int> phase{int(MixedPhase::Login)};
  std::atomic<uint32_t> armed{0};    // threads that built their checks
  std::atomic<int64_t> start_ns{0};  // the run's start, before MixedPhase::Run
  MixedShared(const Options& options, const MixedPlan& p) : o(options), plan(p) {}
};

// Per-activity counters of one thread, read by the main thread for progress and the drain.
struct alignas(64) MixedCounters {
  std::atomic<uint64_t> chat_sent{0}, chat_answered{0}, chat_ok{0}, chat_delivered{0};
  std::atomic<uint64_t> group_sent{0}, group_answered{0}, group_ok{0}, group_delivered{0};
  std::atomic<uint64_t> aborted{0};  // sends that will never be answered (link lost)
  std::atomic<uint64_t> reconnects{0}, reconnects_done{0}, reconnects_lost{0};
  std::atomic<uint64_t> pongs{0};
};

// req_id = kind << 56 | aux << 32 | seq, so an answer finds its sender or membership (aux)
// and message (seq).
enum class MixedReq : uint64_t { Login = 1, Ping, Sync, GroupSync, ChatSend, GroupSend };
inline uint64_t mixed_req_id(MixedReq kind, uint32_t aux, uint32_t seq) {
  return uint64_t(kind) << 56 | uint64_t(aux & 0xffffffu) << 32 | seq;
}
inline MixedReq mixed_req_kind(uint64_t req_id) {
  return MixedReq(req_id >> 56);
}
inline uint32_t mixed_req_aux(uint64_t req_id) {
  return uint32_t(req_id >> 32) & 0xffffffu;
}

struct ActiveUser;

// A send written and not answered yet (resent with the same client_msg_id after a reconnect).
struct PendingSend {
  uint32_t seq = 0;
  bool resent = false;
  int64_t due_ns = 0;  // the schedule's time: latency counts from it
};

// One stream of messages of an active user: to its partner, or to one of its groups.
struct Sender {
  static constexpr size_t kMaxPending = 256;  // in flight; the schedule skips beyond
  Sender(bool group_, uint32_t membership_, uint32_t slot_, uint32_t max_seq_)
      : group(group_), membership(membership_), slot(slot_), max_seq(max_seq_) {}
  ActiveUser* owner = nullptr;
  bool group = false;
  uint32_t membership = 0;  // group senders: index into the user's memberships
  uint32_t slot = 0;        // group senders: position among the group's senders, 1-based
  uint32_t max_seq = 0;
  uint32_t next_seq = 1;
  uint32_t results = 0, results_ok = 0, skipped = 0;
  std::vector<PendingSend> pending;
};

// One group of an active user: its sync state and a check per sender of the group.
struct Membership {
  explicit Membership(uint32_t group_) : group(group_) {}
  uint32_t group = 0;
  bool syncing = false;
  uint32_t idle_syncs = 0;            // GroupSync pages in a row that brought nothing
  std::vector<DeliveryCheck> checks;  // by sender slot - 1
};

struct MixedConn {
  Conn conn;
  bool active = false;
  bool launched = false;  // its first login is in flight (bounded per thread)
  bool ready = false;     // logged in (and not gone)
  bool dead = false;      // failed or lost for good
};

struct IdleConn : MixedConn {
  uint32_t account = 0;  // global idle account index
  uint32_t local = 0;    // index of the account in its thread
  uint32_t device = 0;   // 0 logs in first (with the password unless a token is known)
};

struct ActiveUser : MixedConn {
  ActiveUser(uint32_t index_, uint32_t partner_, uint32_t chat_max_seq)
      : index(index_), partner(partner_), chat_check(chat_max_seq) {}
  uint32_t index;
  uint32_t partner;  // kNoPartner when the user does not chat
  uint64_t uid = 0, partner_uid = 0;
  std::string token;
  std::vector<Sender> senders;  // senders[0] is the 1:1 sender of a chatter
  std::vector<Membership> memberships;
  DeliveryCheck chat_check;  // the partner's messages
  // receive side
  im::client::InboxTracker inbox;
  im::client::GroupTracker groups{1};
  uint64_t inbox_seen = 0;  // highest inbox_seq seen past a gap
  uint64_t login_head = 0;  // LoginOk.inbox_head_seq of the last login
  bool inbox_syncing = false;
  uint32_t idle_syncs = 0;  // Sync pages in a row that brought nothing
  bool ack_due = false;
  // reconnect
  bool offline = false, catching_up = false;
  int64_t offline_until_ns = 0, reconnect_start_ns = 0;
  uint64_t stray = 0, redelivered = 0, gaps = 0, synced = 0;
  uint64_t resent = 0, resent_dup = 0;
};

inline constexpr uint32_t kNoPartner = UINT32_MAX;

class MixedThread final : public ConnHandler {
 public:
  MixedThread(MixedShared& shared, ThreadCounters& counters, MixedCounters& mixed)
      : s_(shared), c_(counters), m_(mixed) {}

  std::vector<std::unique_ptr<ActiveUser>> users;
  std::vector<std::unique_ptr<IdleConn>> idle;
  Histogram chat_result_hist, chat_deliver_hist, group_result_hist, group_deliver_hist;
  Histogram reconnect_hist;  // connect -> logged in and caught up (inbox and groups)
  RunActivity activity;
  uint64_t kicks = 0, idle_dropped = 0, pings = 0;

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const im::proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  // mixed_thread.cc: lifecycle
  void connect(MixedConn& c, uint64_t source_index);
  void launch_logins();
  void login_failed(MixedConn& c);
  void on_login(MixedConn& c, const im::proto::Frame& frame);
  void on_idle_login(IdleConn& d, bool ok, const std::string& token);
  void on_active_login(ActiveUser& u, const im::proto::Frame& frame);
  void arm();
  void start_running(int64_t now);
  void turn(int64_t now);
  void ping_due(int64_t now);
  void reconnect_due(int64_t now);
  void disconnect(ActiveUser& u, int64_t now);
  // mixed_send.cc: the senders
  void send_due(RateSchedule& schedule, std::vector<Sender*>& senders, int64_t now);
  void write_send(ActiveUser& u, Sender& sender, const PendingSend& p);
  void resend_pending(ActiveUser& u);
  void on_send_result(ActiveUser& u, const im::proto::Frame& frame, int64_t now);
  void lose_user(ActiveUser& u);  // its connection is gone for good
  // mixed_receive.cc: the receive side
  void start_catch_up(ActiveUser& u);
  void sync_inbox(ActiveUser& u);
  void sync_group(ActiveUser& u, Membership& m);
  void on_sync_page(ActiveUser& u, const im::proto::Frame& frame, int64_t now);
  void on_group_sync_page(ActiveUser& u, const im::proto::Frame& frame, int64_t now);
  void receive(ActiveUser& u, const im::client::EntryBlobs* blobs, bool from_sync, int64_t now);
  void receive_inbox(ActiveUser& u, const im::proto::InboxEntry& e, bool from_sync, int64_t now);
  void receive_group(ActiveUser& u, const im::proto::InboxEntry& e, bool from_sync, int64_t now);
  void check_group(ActiveUser& u, Membership& ms, const im::proto::Message& m, int64_t now);
  void count_delivery(ActiveUser& u, DeliveryCheck::Outcome outcome, bool group,
                      const im::proto::Message& m, int64_t now);
  void finish_catch_up(ActiveUser& u, int64_t now);
  void flush_acks();

  MixedShared& s_;
  ThreadCounters& c_;
  MixedCounters& m_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::string payload_;
  std::vector<MixedConn*> login_queue_;  // password (or --token-file) logins, in order
  std::vector<MixedConn*> token_queue_;  // idle devices whose account has a token
  size_t next_login_ = 0, next_token_login_ = 0;
  uint32_t pending_logins_ = 0;
  std::vector<std::vector<IdleConn*>> idle_by_account_;  // this thread's accounts' devices
  std::vector<MixedConn*> all_;                          // for pings
  std::vector<Sender*> chat_senders_, group_senders_;
  std::vector<ActiveUser*> to_close_, offline_, ack_list_;
  RateSchedule chat_schedule_, group_schedule_, reconnect_schedule_, ping_schedule_;
  uint64_t random_ = 0;  // picks the users who reconnect
  bool armed_ = false, running_ = false, draining_ = false;
};

}  // namespace im::bench
