// envelope.h - the one message type that crosses threads: a request on its way to the
// worker that owns a shard, or an outcome on its way to the worker that owns a connection.
// Carried as std::unique_ptr<Envelope> over bounded SPSC queues (spsc_queue.h). When the
// target is the current worker the same envelope is handled by a direct call instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace im::core {

// A connection as seen from any thread: its worker, its slot there, and the slot's
// generation (a reused slot has a new generation, so stale references are ignored).
struct ConnRef {
  uint32_t worker = 0;
  uint32_t slot = 0;
  uint32_t gen = 0;
  bool operator==(const ConnRef&) const = default;
  // No connection (a replayed request whose client is gone): answers are dropped.
  static ConnRef none() { return {UINT32_MAX, 0, 0}; }
};

enum class Op : uint8_t {
  // ---- to the owner of `shard` (fields used are listed) ----
  Register,         // text=username text2=password
  LoginPassword,    // text=username text2=password device=device a=ack_inbox_seq platform
  LoginToken,       // uid device a=ack_inbox_seq platform
  Send,             // uid=sender bytes=verified Send frame c=1 once the receiver is known
  SendCheck,        // the same, at the receiver's shard: does the receiver exist?
  SendSecond,       // uid=sender bytes=Send frame a=msg_id t=server_time_ms
                    // c=sender's inbox_seq when the first step wrote the sender's copy
                    // d=1 when the sender's copy already existed (a resend)
                    // b=outbox position at the first shard (0: none to confirm)
  OutboxDone,       // a=outbox position: the second step is durable (to the first shard)
  Ack,              // uid device a=inbox_seq
  Sync,             // uid a=after_inbox_seq b=limit
  History,          // uid a=peer b=before c=after d=limit
  MarkRead,         // uid device a=peer b=up_to
  GetUsers,         // bytes = encoded list (see session.cc), a=gather id
  DeviceOffline,    // uid device
  AppendReadEvent,  // uid device a=gid b=read_group_seq: a group was read on another device
  CreateGroup,      // uid text=name bytes=member uids (u64 each)
  GroupManage,      // uid a=gid code=GroupAction b=target uid c=flag text=name text2=announcement
                    // bytes=uid list (Invite)
  GroupSend,        // uid bytes=verified GroupSend frame
  GroupSync,        // uid a=gid b=after c=limit
  GroupHistory,     // uid a=gid b=before c=after d=limit
  GetGroup,         // uid a=gid
  ListMembers,      // uid a=gid b=after_uid c=limit
  GroupMarkRead,    // uid device a=gid b=up_to
  GatherPart,       // uid a=gather id code=GatherKind: answer with ConnGatherPart
  // ---- to every worker (from a group's owner) ----
  GroupFanout,      // a=gid bytes=GroupPush frame (prefixed) for the local online members
  GroupMembership,  // a=gid bytes=joined uids (u64 each) text=left uids (u64 each, raw)
  // ---- to the owner of `conn` ----
  ConnFrames,      // bytes = one or more length-prefixed frames to write
  ConnLoginDone,   // uid bytes = LoginOk result frame (prefixed); text=username device
  ConnKick,        // code text=reason: send Kick, then close
  ConnUsersPart,   // a=gather id bytes = encoded partial user list
  ConnGatherPart,  // a=gather id bytes = encoded part (see gather.h)
};

// GroupManage actions (Envelope::code).
enum class GroupAction : uint16_t {
  Invite,
  Remove,
  Quit,
  Dismiss,
  Update,
  Transfer,
  SetAdmin,
  MuteMember,
  MuteGroup,
};

// What a cross-shard gather collects (Envelope::code of GatherPart).
enum class GatherKind : uint16_t {
  UserGroups,     // the caller's current groups (gids) in each shard: the online index
  GroupList,      // GroupSummary rows of the caller's groups: ListGroups
  Conversations,  // GroupSummary rows plus, from the user's shard, the 1:1 conversations
};

struct Envelope {
  Op op = Op::ConnFrames;
  uint32_t shard = 0;
  ConnRef conn;
  uint64_t req_id = 0;
  uint64_t uid = 0;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  int64_t t = 0;
  uint16_t code = 0;
  uint8_t platform = 0;
  std::string device;
  std::string text;
  std::string text2;
  std::vector<uint8_t> bytes;
};

using EnvelopePtr = std::unique_ptr<Envelope>;

inline EnvelopePtr make_envelope(Op op) {
  auto e = std::make_unique<Envelope>();
  e->op = op;
  return e;
}

}  // namespace im::core
