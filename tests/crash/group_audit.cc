// group_audit.cc - reads group logs back and checks them against the sends (group_audit.h).
#include "tests/crash/group_audit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>

#include "client/client.h"
#include "tests/crash/crash_support.h"

namespace im::crash {

namespace {

using client::EntryKind;
using client::InboxEntry;
using im::proto::GroupEventKind;

constexpr uint32_t kSyncPageEntries = 200;  // the server's default max_page_entries
constexpr uint32_t kMaxSyncPages = 10000;   // bounds the read of one group log

struct Key {
  uint64_t sender_uid, client_msg_id;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    return std::hash<uint64_t>()(k.sender_uid * 0x9E3779B97F4A7C15ull ^ k.client_msg_id);
  }
};

std::string describe(const GroupSentMessage& s) {
  std::ostringstream out;
  out << "\"" << s.text << "\" (" << s.from_uid << " -> group " << s.gid
      << ", client_msg_id=" << s.client_msg_id << ", result msg_id=" << s.receipt.msg_id
      << " group_seq=" << s.receipt.group_seq << " duplicate=" << s.receipt.duplicate
      << " attempts=" << s.receipt.attempts << ")";
  return out.str();
}

std::string describe(const InboxEntry& e) {
  std::ostringstream out;
  out << "group " << e.gid << " seq " << e.group_seq;
  if (e.kind == EntryKind::Message) {
    out << " \"" << e.message.text << "\" (from " << e.message.sender_uid
        << ", client_msg_id=" << e.message.client_msg_id << ", msg_id=" << e.message.msg_id << ")";
  } else if (e.kind == EntryKind::GroupEvent) {
    out << " event " << im::proto::EnumNameGroupEventKind(e.group_event.kind) << " by "
        << e.group_event.actor_uid;
  } else {
    out << " kind " << static_cast<int>(e.kind);
  }
  return out.str();
}

// The same entry: same place, same kind, same message or event.
bool same_entry(const InboxEntry& a, const InboxEntry& b) {
  if (a.gid != b.gid || a.group_seq != b.group_seq || a.kind != b.kind) return false;
  if (a.kind == EntryKind::Message) {
    return a.message.msg_id == b.message.msg_id && a.message.sender_uid == b.message.sender_uid &&
           a.message.client_msg_id == b.message.client_msg_id && a.message.text == b.message.text;
  }
  return a.kind != EntryKind::GroupEvent || (a.group_event.kind == b.group_event.kind &&
                                             a.group_event.actor_uid == b.group_event.actor_uid);
}

bool read_group_log(client::Client& c, const std::string& username, const client::GroupInfo& info,
                    GroupLogCopy* out) {
  out->gid = info.gid;
  out->join_group_seq = info.join_group_seq;
  out->entries.clear();
  uint64_t after = 0, expected_prev = info.join_group_seq, head = 0;
  for (uint32_t pages = 0; pages < kMaxSyncPages; pages++) {
    auto page = c.group_sync(info.gid, after, kSyncPageEntries);
    if (!page.ok()) {
      ADD_FAILURE() << "audit group_sync " << username << " group " << info.gid << " after "
                    << after << ": " << page.status().to_string();
      return false;
    }
    head = page->head_inbox_seq;
    for (InboxEntry& e : page->entries) {
      if (e.gid != info.gid || e.group_seq != expected_prev + 1) {
        ADD_FAILURE() << "group " << info.gid << " as " << username << " reads it is not gapless "
                      << info.join_group_seq + 1 << "..head: after seq " << expected_prev
                      << " comes " << describe(e);
        return false;
      }
      expected_prev = after = e.group_seq;
      out->entries.push_back(std::move(e));
    }
    if (!page->has_more) break;
    if (page->entries.empty()) {
      ADD_FAILURE() << "audit group_sync " << username << ": has_more with an empty page";
      return false;
    }
  }
  out->head = head;
  if (expected_prev != head || head != info.last_group_seq) {
    ADD_FAILURE() << "group " << info.gid << " as " << username << " reads it: up to seq "
                  << expected_prev << ", GroupSync head " << head << ", group_info last "
                  << info.last_group_seq;
    return false;
  }
  return true;
}

}  // namespace

bool read_member_groups(uint16_t port, const std::string& username, const std::string& password,
                        const std::vector<uint64_t>& gids, MemberReadBack* out) {
  client::ClientOptions options;
  options.device_id = "gcrash-audit";
  options.auto_reconnect = false;
  options.catch_up_groups = false;
  client::Client c(options);
  client::Status connected = c.connect("127.0.0.1", port);
  if (!connected.ok()) {
    ADD_FAILURE() << "audit connect: " << connected.to_string();
    return false;
  }
  auto login = c.login_password(username, password);
  if (!login.ok()) {
    ADD_FAILURE() << "audit login " << username << ": " << login.status().to_string();
    return false;
  }
  out->uid = login->uid;
  auto listed = c.list_groups();
  if (!listed.ok()) {
    ADD_FAILURE() << "audit list_groups " << username << ": " << listed.status().to_string();
    return false;
  }
  for (uint64_t gid : gids) {
    auto info = c.group_info(gid);
    if (!info.ok()) {
      ADD_FAILURE() << "audit group_info " << username << " group " << gid << ": "
                    << info.status().to_string();
      return false;
    }
    out->infos.push_back(*info);
    out->logs.emplace_back();
    if (!read_group_log(c, username, *info, &out->logs.back())) return false;
    auto row = std::find_if(listed->begin(), listed->end(),
                            [gid](const client::GroupSummary& s) { return s.gid == gid; });
    out->listed.push_back(row != listed->end() ? *row : client::GroupSummary{});
  }
  return true;
}

namespace {

using SendIndex = std::unordered_map<Key, const GroupSentMessage*, KeyHash>;
using Placement = std::unordered_map<Key, std::vector<const InboxEntry*>, KeyHash>;

// Each send with a result: exactly one entry, where and as the SendResult said.
void check_sends(const GroupLogCopy& log, const std::vector<GroupSentMessage>& sent,
                 SendIndex* by_key) {
  Violations missing("a group send with a SendResult is not exactly once in the log");
  Violations misplaced("a stored group message differs from its SendResult");
  Violations shared_id("two group sends got the same msg_id");
  Violations sent_twice("the load used one client_msg_id twice in a group (test bug)");
  Placement placed;
  for (const InboxEntry& e : log.entries) {
    if (e.kind == EntryKind::Message) {
      placed[{e.message.sender_uid, e.message.client_msg_id}].push_back(&e);
    }
  }
  std::unordered_map<uint64_t, const GroupSentMessage*> by_msg_id;
  for (const GroupSentMessage& s : sent) {
    if (!by_key->emplace(Key{s.from_uid, s.client_msg_id}, &s).second) {
      sent_twice.add() << describe(s);
    }
    auto [other, fresh] = by_msg_id.emplace(s.receipt.msg_id, &s);
    if (!fresh) shared_id.add() << describe(s) << " and " << describe(*other->second);
    const auto& copies = placed[{s.from_uid, s.client_msg_id}];
    if (copies.size() != 1) {
      std::ostream& out = missing.add() << describe(s) << ": " << copies.size() << " copies";
      for (const InboxEntry* e : copies) out << "; " << describe(*e);
      continue;
    }
    const InboxEntry& e = *copies[0];
    const client::Message& m = e.message;
    bool same = s.receipt.gid == log.gid && e.group_seq == s.receipt.group_seq &&
                m.msg_id == s.receipt.msg_id && m.server_time_ms == s.receipt.server_time_ms &&
                m.gid == log.gid && m.group_seq == e.group_seq && m.text == s.text;
    if (!same) misplaced.add() << describe(s) << " stored as " << describe(e);
  }
}

// Each stored entry: the Created event first, Invited events, and messages some send got a
// result for, each sender's in the order it sent them.
void check_entries(const GroupLogCopy& log, const SendIndex& by_key, GroupAuditCounts* counts) {
  Violations unknown("a group log holds a message the load never got a SendResult for");
  Violations reordered("a sender's messages are out of send order in a group log");
  Violations unexpected("a group log holds an entry the load did not cause");
  std::map<uint64_t, const GroupSentMessage*> last_of_sender;
  for (const InboxEntry& e : log.entries) {
    if (e.kind == EntryKind::GroupEvent) {
      counts->events++;
      GroupEventKind want = e.group_seq == 1 ? GroupEventKind::Created : GroupEventKind::Invited;
      if (e.group_event.kind != want) unexpected.add() << describe(e);
      continue;
    }
    if (e.kind != EntryKind::Message || e.group_seq == 1) {
      unexpected.add() << describe(e);
      continue;
    }
    counts->messages++;
    auto it = by_key.find({e.message.sender_uid, e.message.client_msg_id});
    if (it == by_key.end()) {
      unknown.add() << describe(e);
      continue;
    }
    const GroupSentMessage& s = *it->second;
    const GroupSentMessage*& last = last_of_sender[s.from_uid];
    if (last != nullptr && last->n > s.n) {  // equal n is a second copy, reported above
      reordered.add() << describe(e) << " (n=" << s.n << ") after n=" << last->n;
    }
    last = &s;
  }
}

}  // namespace

void check_group_log(const GroupLogCopy& log, const std::vector<GroupSentMessage>& sent,
                     GroupAuditCounts* counts) {
  EXPECT_EQ(log.join_group_seq, 0u) << "group " << log.gid << " was read by a later member";
  SendIndex by_key;
  check_sends(log, sent, &by_key);
  check_entries(log, by_key, counts);
}

void check_member_view(const GroupLogCopy& log, const GroupLogCopy& view, const std::string& who) {
  Violations wrong(who + " reads group " + std::to_string(log.gid) + " differently");
  auto from = std::find_if(log.entries.begin(), log.entries.end(),
                           [&](const InboxEntry& e) { return e.group_seq > view.join_group_seq; });
  size_t expected = size_t(log.entries.end() - from);
  if (view.head != log.head || view.entries.size() != expected) {
    wrong.add() << view.entries.size() << " entries up to head " << view.head << " after join "
                << view.join_group_seq << "; the log has " << expected << " up to " << log.head;
  }
  for (size_t i = 0; i < std::min(expected, view.entries.size()); i++) {
    if (!same_entry(view.entries[i], from[i])) {
      wrong.add() << "entry #" << i << " is " << describe(view.entries[i]) << ", the log has "
                  << describe(from[i]);
    }
  }
}

void check_group_delivered(const GroupLogCopy& log, uint64_t join_group_seq, uint64_t member_uid,
                           const std::vector<InboxEntry>& delivered, const std::string& who) {
  Violations wrong(who + ": the online device's deliveries for group " + std::to_string(log.gid) +
                   " differ from its log");
  std::vector<const InboxEntry*> got, want;
  for (const InboxEntry& e : delivered) {
    if (e.gid == log.gid) got.push_back(&e);
  }
  for (const InboxEntry& e : log.entries) {
    if (e.group_seq > join_group_seq) want.push_back(&e);
  }
  if (got.size() != want.size()) {
    wrong.add() << got.size() << " entries delivered, the log holds " << want.size()
                << " after join seq " << join_group_seq;
  }
  for (size_t i = 0; i < std::min(got.size(), want.size()); i++) {
    bool own = want[i]->kind == EntryKind::Message && want[i]->message.sender_uid == member_uid;
    bool own_ok = want[i]->kind != EntryKind::Message || got[i]->is_own == own;
    if (!same_entry(*got[i], *want[i]) || !own_ok) {
      wrong.add() << "delivery #" << i << " is " << describe(*got[i])
                  << " is_own=" << got[i]->is_own << ", the log has " << describe(*want[i]);
    }
  }
}

}  // namespace im::crash
