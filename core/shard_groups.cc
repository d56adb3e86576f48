// shard_groups.cc - group management on the group's shard. Every change is authorised by
// the caller's role and written as a GroupEvent in the group log, in the same batch as the
// rows it changes (groups, members, user_groups), so members see every change in order with
// the messages. After the commit the event is fanned out to online members, and membership
// changes are broadcast to every worker's online index (core/group_index.h).
//
// Roles: the owner may do everything; admins may invite, remove and mute members (not the
// owner or other admins) and rename / set the announcement; members may send and quit.
// The owner cannot quit: it transfers ownership first, or dismisses the group (which turns
// it into read-only history).
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/group_frames.h"
#include "core/shard_state.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace p = im::proto;
using storage::GroupRole;
using storage::MemberRecord;

namespace {
constexpr size_t kMaxGroupNameBytes = 64;
constexpr size_t kMaxAnnouncementBytes = 4096;

std::vector<uint64_t> uid_list(const Bytes& bytes) {
  std::vector<uint64_t> uids(bytes.size() / 8);
  if (!uids.empty()) std::memcpy(uids.data(), bytes.data(), uids.size() * 8);
  return uids;
}

bool is_current(const MemberRecord* m) {
  return m && m->leave_seq == 0;
}

// Sets the reason an action was refused and returns its code.
Code refuse(std::string* reason, const char* why, Code code) {
  *reason = why;
  return code;
}
}  // namespace

ShardState::GroupMem* ShardState::find_group(uint64_t gid) {
  auto it = groups_.find(gid);
  if (it != groups_.end()) return &it->second;
  auto rec = shard_->get_group(gid);
  if (!rec) return nullptr;
  GroupMem& g = groups_[gid];
  g.rec = *rec;
  g.durable_seq = rec->last_group_seq;
  return &g;
}

MemberRecord* ShardState::find_member(GroupMem& g, uint64_t uid) {
  auto it = g.members.find(uid);
  if (it != g.members.end()) return &it->second;
  if (g.absent.count(uid)) return nullptr;
  auto rec = shard_->get_member(g.rec.gid, uid);
  if (!rec) {
    if (g.absent.size() < 4096) g.absent.insert(uid);
    return nullptr;
  }
  return &(g.members[uid] = *rec);
}

const std::vector<uint64_t>& ShardState::admins_of(GroupMem& g) {
  if (!g.admins) {
    g.admins.emplace();
    uint64_t after = 0;
    for (;;) {  // one pass over the members table per group load
      auto page = shard_->list_members(g.rec.gid, after, 1024);
      for (auto& [uid, row] : page) {
        after = uid;
        if (row.leave_seq == 0 && row.role == GroupRole::Admin) g.admins->push_back(uid);
      }
      if (page.size() < 1024) break;
    }
    // Cached rows may hold changes not committed yet: they win over LMDB.
    auto& a = *g.admins;
    for (auto& [uid, m] : g.members) {
      a.erase(std::remove(a.begin(), a.end(), uid), a.end());
      if (m.leave_seq == 0 && m.role == GroupRole::Admin) a.push_back(uid);
    }
  }
  return *g.admins;
}

void ShardState::put_member(GroupMem& g, uint64_t uid, const MemberRecord& m) {
  if (g.admins) {
    auto& a = *g.admins;
    a.erase(std::remove(a.begin(), a.end(), uid), a.end());
    if (m.leave_seq == 0 && m.role == GroupRole::Admin) a.push_back(uid);
  }
  g.members[uid] = m;
  g.absent.erase(uid);
  building().writes.put_member(g.rec.gid, uid, m);
  building().writes.put_user_group(uid, g.rec.gid, {m.leave_seq == 0, m.join_seq});
}

// Appends a stored entry at seq (the caller assigned it) and schedules its fan-out.
uint64_t ShardState::append_group_entry(GroupMem& g, uint64_t seq, const Bytes& entry) {
  Batch& b = building();
  b.writes.put_group_log(g.rec.gid, seq, entry);
  g.rec.last_group_seq = seq;
  g.rec.updated_ms = wall_ms();
  b.writes.put_group(g.rec);
  EntryPage page(worker_->config().max_frame_bytes);
  page.add(entry);
  AfterCommit a;
  a.kind = AfterCommit::Kind::GroupFanout;
  a.uid = g.rec.gid;
  a.seq = seq;
  page.append_group_push(a.frames);
  b.after.push_back(std::move(a));
  return seq;
}

uint64_t ShardState::append_event(GroupMem& g, p::GroupEventKind kind, uint64_t actor,
                                  std::span<const uint64_t> targets, std::string_view text,
                                  bool flag) {
  uint64_t seq = g.rec.last_group_seq + 1;
  Bytes entry;
  build_group_event_entry(entry, g.rec.gid, seq, kind, actor, targets, text, flag, wall_ms());
  return append_group_entry(g, seq, entry);
}

void ShardState::broadcast_membership(uint64_t gid, std::span<const uint64_t> joined,
                                      std::span<const uint64_t> left) {
  auto e = make_envelope(Op::GroupMembership);
  e->a = gid;
  e->bytes.resize(joined.size() * 8);
  if (!joined.empty()) std::memcpy(e->bytes.data(), joined.data(), joined.size() * 8);
  e->text.resize(left.size() * 8);
  if (!left.empty()) std::memcpy(e->text.data(), left.data(), left.size() * 8);
  AfterCommit a;
  a.kind = AfterCommit::Kind::Broadcast;
  a.forward = std::move(e);
  building().after.push_back(std::move(a));
}

void ShardState::on_create_group(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const Config& cfg = worker_->config();
  if (e->text.empty() || e->text.size() > kMaxGroupNameBytes) {
    return reply(*e, Code::BadRequest, "group name must be 1..64 bytes");
  }
  std::vector<uint64_t> members = uid_list(e->bytes);
  members.erase(std::remove(members.begin(), members.end(), e->uid), members.end());
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() + 1 > cfg.max_group_members) {
    return reply(*e, Code::GroupFull, "more members than max_group_members");
  }
  uint32_t shards = worker_->shared().shard_count;
  uint64_t gid = (++gid_counter_) * shards + shard_->index();
  GroupMem& g = groups_[gid];
  g.rec.gid = gid;
  g.rec.name = e->text;
  g.rec.owner_uid = e->uid;
  g.rec.member_count = uint32_t(members.size() + 1);
  g.rec.created_ms = wall_ms();
  int64_t now = wall_ms();
  MemberRecord owner{GroupRole::Owner, 0, 0, 0, 0, false, false, now};
  put_member(g, e->uid, owner);
  for (uint64_t uid : members)
    put_member(g, uid, {GroupRole::Member, 0, 0, 0, 0, false, false, now});
  // Index the members before the Created event fans out, so they get it live.
  std::vector<uint64_t> joined = members;
  joined.push_back(e->uid);
  broadcast_membership(gid, joined, {});
  uint64_t seq = append_event(g, p::GroupEventKind::Created, e->uid, members, g.rec.name, false);
  Bytes out;
  append_group_created(out, e->req_id, gid, seq);
  after_frames(e->conn, e->req_id, std::move(out));
}

void ShardState::on_group_manage(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  GroupMem* g = find_group(e->a);
  if (!g) return reply(*e, Code::UnknownGroup, "no such group");
  MemberRecord* me = find_member(*g, e->uid);
  if (!is_current(me)) return reply(*e, Code::NotMember, "you are not a member of this group");
  if (g->rec.dismissed) return reply(*e, Code::GroupDismissed, "the group was dismissed");
  std::string reason;
  uint64_t before = g->rec.last_group_seq;
  Code code = manage(*g, *me, *e, &reason);
  if (code != Code::Ok) return reply(*e, code, reason);
  Bytes out;
  append_group_changed(out, e->req_id, g->rec.gid, g->rec.last_group_seq);
  if (g->rec.last_group_seq == before && building().writes.empty()) {
    return worker_->send_frames(e->conn, std::move(out));
  }
  after_frames(e->conn, e->req_id, std::move(out));
}

Code ShardState::manage(GroupMem& g, MemberRecord& me, Envelope& e, std::string* reason) {
  bool owner = me.role == GroupRole::Owner;
  bool admin = owner || me.role == GroupRole::Admin;
  uint64_t target = e.b;
  switch (static_cast<GroupAction>(e.code)) {
    case GroupAction::Invite:
      if (!admin) return refuse(reason, "only the owner and admins invite", Code::NotAllowed);
      return add_members(g, e, reason);
    case GroupAction::Remove:
      return remove_member(g, me, e, reason);
    case GroupAction::Quit: {
      if (owner) {
        *reason = "the owner cannot quit: transfer ownership first, or dismiss the group";
        return Code::NotAllowed;
      }
      uint64_t seq = g.rec.last_group_seq + 1;
      me.leave_seq = seq;
      put_member(g, e.uid, me);
      g.rec.member_count--;
      append_event(g, p::GroupEventKind::Left, e.uid, {}, "", false);
      uint64_t left[] = {e.uid};
      broadcast_membership(g.rec.gid, {}, left);
      return Code::Ok;
    }
    case GroupAction::Dismiss:
      if (!owner) return refuse(reason, "only the owner dismisses the group", Code::NotAllowed);
      g.rec.dismissed = true;
      append_event(g, p::GroupEventKind::Dismissed, e.uid, {}, "", false);
      return Code::Ok;
    case GroupAction::Update: {
      if (!admin)
        return refuse(reason, "only the owner and admins change the group", Code::NotAllowed);
      bool rename = !e.text.empty();
      bool announce = !e.text2.empty() || e.c != 0;
      if (!rename && !announce) return refuse(reason, "nothing to change", Code::BadRequest);
      if (e.text.size() > kMaxGroupNameBytes)
        return refuse(reason, "name over 64 bytes", Code::BadRequest);
      if (e.text2.size() > kMaxAnnouncementBytes) {
        return refuse(reason, "announcement over 4096 bytes", Code::BadRequest);
      }
      if (rename) {
        g.rec.name = e.text;
        append_event(g, p::GroupEventKind::Renamed, e.uid, {}, e.text, false);
      }
      if (announce) {
        g.rec.announcement = e.c != 0 ? std::string() : e.text2;
        append_event(g, p::GroupEventKind::AnnouncementChanged, e.uid, {}, g.rec.announcement,
                     false);
      }
      return Code::Ok;
    }
    default:
      break;
  }
  // The remaining actions name a target member.
  if (static_cast<GroupAction>(e.code) == GroupAction::MuteGroup) {
    me.do_not_disturb = e.c != 0;
    put_member(g, e.uid, me);
    return Code::Ok;
  }
  MemberRecord* t = find_member(g, target);
  if (!is_current(t)) return refuse(reason, "the target is not a member", Code::NotMember);
  MemberRecord tm = *t;
  uint64_t targets[] = {target};
  switch (static_cast<GroupAction>(e.code)) {
    case GroupAction::Transfer:
      if (!owner) return refuse(reason, "only the owner transfers ownership", Code::NotAllowed);
      if (target == e.uid) return refuse(reason, "you already own the group", Code::BadRequest);
      me.role = GroupRole::Admin;
      tm.role = GroupRole::Owner;
      put_member(g, e.uid, me);
      put_member(g, target, tm);
      g.rec.owner_uid = target;
      append_event(g, p::GroupEventKind::OwnershipTransferred, e.uid, targets, "", false);
      return Code::Ok;
    case GroupAction::SetAdmin:
      if (!owner) return refuse(reason, "only the owner appoints admins", Code::NotAllowed);
      if (tm.role == GroupRole::Owner) return refuse(reason, "the owner's role", Code::BadRequest);
      tm.role = e.c != 0 ? GroupRole::Admin : GroupRole::Member;
      put_member(g, target, tm);
      append_event(g, p::GroupEventKind::AdminChanged, e.uid, targets, "", e.c != 0);
      return Code::Ok;
    case GroupAction::MuteMember:
      if (!admin || (tm.role != GroupRole::Member && !owner) || tm.role == GroupRole::Owner) {
        return refuse(reason, "you may not mute this member", Code::NotAllowed);
      }
      tm.muted = e.c != 0;
      put_member(g, target, tm);
      append_event(g, p::GroupEventKind::MemberMuted, e.uid, targets, "", e.c != 0);
      return Code::Ok;
    default:
      return refuse(reason, "unknown group action", Code::BadRequest);
  }
}

Code ShardState::add_members(GroupMem& g, Envelope& e, std::string* reason) {
  std::vector<uint64_t> added;
  for (uint64_t uid : uid_list(e.bytes)) {
    MemberRecord* m = find_member(g, uid);
    if (is_current(m) || std::find(added.begin(), added.end(), uid) != added.end()) continue;
    added.push_back(uid);
  }
  if (added.empty()) return refuse(reason, "everyone named is already a member", Code::BadRequest);
  if (g.rec.member_count + added.size() > worker_->config().max_group_members) {
    return refuse(reason, "the group would exceed max_group_members", Code::GroupFull);
  }
  uint64_t seq = g.rec.last_group_seq + 1;  // the Invited event: the first entry they see
  int64_t now = wall_ms();
  for (uint64_t uid : added) {
    put_member(g, uid, {GroupRole::Member, seq - 1, 0, seq - 1, 0, false, false, now});
  }
  g.rec.member_count += uint32_t(added.size());
  broadcast_membership(g.rec.gid, added, {});  // before the event, so they get it live
  append_event(g, p::GroupEventKind::Invited, e.uid, added, "", false);
  return Code::Ok;
}

Code ShardState::remove_member(GroupMem& g, MemberRecord& me, Envelope& e, std::string* reason) {
  uint64_t target = e.b;
  MemberRecord* t = find_member(g, target);
  if (!is_current(t)) return refuse(reason, "the target is not a member", Code::NotMember);
  if (target == e.uid) return refuse(reason, "use QuitGroup to leave", Code::BadRequest);
  bool owner = me.role == GroupRole::Owner;
  bool allowed = owner || (me.role == GroupRole::Admin && t->role == GroupRole::Member);
  if (!allowed) return refuse(reason, "you may not remove this member", Code::NotAllowed);
  MemberRecord tm = *t;
  tm.leave_seq = g.rec.last_group_seq + 1;  // it still sees the event removing it
  put_member(g, target, tm);
  g.rec.member_count--;
  uint64_t targets[] = {target};
  append_event(g, p::GroupEventKind::Removed, e.uid, targets, "", false);
  broadcast_membership(g.rec.gid, {}, targets);
  return Code::Ok;
}

void ShardState::on_get_group(EnvelopePtr e) {
  GroupMem* g = find_group(e->a);
  if (!g) return reply(*e, Code::UnknownGroup, "no such group");
  MemberRecord* m = find_member(*g, e->uid);
  if (!m) return reply(*e, Code::NotMember, "you are not a member of this group");
  std::vector<uint64_t> admins = admins_of(*g);
  std::sort(admins.begin(), admins.end());
  auto [lo, hi] = visible(*g, *m);
  GroupInfoFields f;
  f.gid = g->rec.gid;
  f.name = g->rec.name;
  f.owner_uid = g->rec.owner_uid;
  f.admins = admins;
  f.announcement = g->rec.announcement;
  f.member_count = g->rec.member_count;
  f.my_role = static_cast<uint8_t>(m->role);
  f.my_muted = m->muted;
  f.my_do_not_disturb = m->do_not_disturb;
  f.last_group_seq = hi;
  f.read_group_seq = m->read_seq;
  f.join_group_seq = lo;
  f.dismissed = g->rec.dismissed;
  f.is_member = m->leave_seq == 0;
  Bytes out;
  append_group_info(out, e->req_id, f);
  worker_->send_frames(e->conn, std::move(out));
}

void ShardState::on_list_members(EnvelopePtr e) {
  GroupMem* g = find_group(e->a);
  if (!g) return reply(*e, Code::UnknownGroup, "no such group");
  if (!is_current(find_member(*g, e->uid))) {
    return reply(*e, Code::NotMember, "you are not a member of this group");
  }
  const Config& cfg = worker_->config();
  uint32_t limit =
      e->c == 0 ? cfg.default_page_entries : std::min<uint32_t>(e->c, cfg.max_page_entries);
  // Committed rows, with this batch's changes laid over them; current members only.
  std::vector<MemberRow> rows;
  uint64_t after = e->b;
  bool has_more = false;
  while (rows.size() <= limit) {
    auto page = shard_->list_members(g->rec.gid, after, limit + 1);
    if (page.empty()) break;
    for (auto& [uid, row] : page) {
      after = uid;
      auto it = g->members.find(uid);
      const MemberRecord& m = it != g->members.end() ? it->second : row;
      if (m.leave_seq != 0) continue;
      if (rows.size() == limit) {
        has_more = true;
        break;
      }
      rows.push_back({uid, static_cast<uint8_t>(m.role), m.join_seq, m.muted});
    }
    if (has_more || page.size() < limit + 1) break;
  }
  Bytes out;
  append_member_list(out, e->req_id, rows, has_more);
  worker_->send_frames(e->conn, std::move(out));
}

}  // namespace im::core
