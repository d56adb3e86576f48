// group_fanout_thread.h - one loop thread of the group-fanout workload: it logs in its
// share of the member connections (a bounded number of password logins at a time), keeps
// them alive with pings, sends its senders' GroupSend frames (closed or open loop), and
// checks every GroupPush entry against the connection's per-group DeliveryCheck.
// Thread: a FanoutThread and its devices and senders belong to the thread running run();
// the main thread reads them only after join. FanoutShared is written by the main thread before
// the phase that publishes it (uids excepted: each user's first login writes its slot).
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
#include "bench/imbench/options.h"
#include "bench/imbench/run_support.h"

namespace im::bench {

// Login: connect and log in. Arm: groups exist, threads build their checks. Run: send.
enum class FanoutPhase : int { Login, Arm, Run, Stop };

struct FanoutShared {
  const Options& o;
  sockaddr_in server{};
  SourceAddrs sources;
  uint64_t nonce = 0;  // high 32 bits of every client_msg_id of this run
  uint32_t users = 0, conns = 0, senders = 0;
  std::vector<std::string> names;
  std::vector<uint64_t> uids;       // per user, written by its first device before ready++
  std::vector<std::string> tokens;  // per user (--token-file), written by its first device
  std::vector<uint64_t> gids;       // written by the main thread before FanoutPhase::Arm
  std::vector<uint64_t> base_seqs;  // each group's last group_seq before the run
  std::atomic<int> phase{int(FanoutPhase::Login)};
  std::atomic<uint32_t> armed{0};  // threads that built their checks
  std::atomic<int64_t> start_ns{0};
  explicit FanoutShared(const Options& options) : o(options) {}
  uint32_t per_group() const { return o.senders * o.messages; }
};

struct MemberConn;

// One sender of one group (a user's first device sends).
struct GroupSender {
  GroupSender(uint32_t id_, uint32_t group_, uint32_t ring)
      : id(id_), group(group_), send_ns(ring) {}
  uint32_t id;  // 1-based, the high half of its req_ids
  uint32_t group;
  MemberConn* conn = nullptr;  // the connection it sends on (same thread)
  uint32_t next_seq = 1;       // 1..messages
  uint32_t inflight = 0, results = 0, results_ok = 0;
  std::vector<int64_t> send_ns;  // (intended) send time by seq % size
};

// One member connection.
struct MemberConn {
  Conn conn;
  uint32_t index = 0;  // connection index: user = index % users, device = index / users
  uint32_t user = 0;
  bool ready = false, dead = false;
  uint64_t last_inbox_seq = 0;
  bool ack_due = false;
  std::vector<DeliveryCheck> checks;  // per group, built at FanoutPhase::Arm
  std::vector<GroupSender*> senders;
  uint64_t stray = 0;  // a group entry of the run outside its range, or of an unknown group
};

class FanoutThread final : public ConnHandler {
 public:
  FanoutThread(FanoutShared& shared, ThreadCounters& counters) : s_(shared), c_(counters) {}

  std::vector<std::unique_ptr<MemberConn>> devices;
  std::vector<std::unique_ptr<GroupSender>> senders;
  Histogram result_hist, deliver_hist;
  std::atomic<uint64_t> aborted_sends{0};  // never answered: the sender's link died
  RunActivity activity;
  uint64_t kicks = 0;

  void run();
  void on_connected(Conn& conn) override;
  void on_frame(Conn& conn, const im::proto::Frame& frame) override;
  void on_closed(Conn& conn, const char* why) override;

 private:
  void launch_logins();
  void arm();
  void start_running();
  void send_one(MemberConn& d, GroupSender& sender, int64_t intended_ns);
  void fill_window(MemberConn& d, GroupSender& sender, int64_t now);
  void issue_due(int64_t now);
  void ping_due(int64_t now);
  void on_result(MemberConn& d, const im::proto::Frame& frame, int64_t now);
  void on_group_push(MemberConn& d, const im::proto::GroupPush& push, int64_t now);
  void on_push(MemberConn& d, const im::proto::Push& push);
  void flush_acks();

  FanoutShared& s_;
  ThreadCounters& c_;
  Loop loop_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::string payload_;
  std::vector<MemberConn*> ack_list_;
  size_t next_login_ = 0;
  uint32_t pending_logins_ = 0;
  bool armed_ = false, running_ = false;
  // open loop: send k is due at start + k * interval, by senders[k % n]
  uint64_t sched_k_ = 0, sched_total_ = 0;
  double sched_interval_ns_ = 0;
  int64_t sched_start_ns_ = 0;
  // heartbeats (the server closes connections idle for idle_timeout_ms)
  uint64_t ping_k_ = 0;
  double ping_interval_ns_ = 0;
  int64_t ping_start_ns_ = 0;
};

}  // namespace im::bench
