// group_records.h - the rows of the group tables. A group lives in one shard (its gid
// embeds it, like a uid: gid = counter * shards + shard), and so do all of its rows:
//   groups (gid) -> GroupRecord
//   members (gid, uid) -> MemberRecord        (current and former members)
//   user_groups (uid, gid) -> UserGroupRecord (the user's side, kept in the GROUP's shard,
//                                              so membership changes are single-shard
//                                              transactions; "my groups" reads every shard)
//   group_log (gid, group_seq) -> wire bytes of an InboxEntry (gid, group_seq set)
//   group_dedup (gid, sender_uid, client_msg_id) -> DedupRecord (inbox_seq = group_seq)
#pragma once

#include <cstdint>
#include <string>

namespace im::storage {

struct GroupRecord {
  uint64_t gid = 0;
  std::string name;
  uint64_t owner_uid = 0;
  std::string announcement;
  uint64_t last_group_seq = 0;
  uint32_t member_count = 0;  // current members
  bool dismissed = false;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;  // time of the newest log entry
};

enum class GroupRole : uint8_t { Member = 0, Admin = 1, Owner = 2 };

struct MemberRecord {
  GroupRole role = GroupRole::Member;
  uint64_t join_seq = 0;     // sees entries with group_seq > join_seq
  uint64_t leave_seq = 0;    // 0 = still a member; else sees entries <= leave_seq
  uint64_t read_seq = 0;     // read cursor
  uint64_t mention_seq = 0;  // newest entry that mentioned this member (or all)
  bool muted = false;        // by an admin: may not send
  bool do_not_disturb = false;
  int64_t joined_ms = 0;
};

struct UserGroupRecord {
  bool member = true;  // false once left/removed (history stays readable)
  uint64_t join_seq = 0;
};

}  // namespace im::storage
