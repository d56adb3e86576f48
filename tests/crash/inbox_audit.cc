// inbox_audit.cc - reads inboxes back and checks them against the sends (see inbox_audit.h).
#include "tests/crash/inbox_audit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "client/client.h"
#include "tests/crash/crash_support.h"

namespace im::crash {

namespace {

using client::EntryKind;
using client::InboxEntry;

constexpr uint32_t kSyncPageEntries = 200;  // the server's default max_page_entries
constexpr uint32_t kMaxSyncPages = 10000;   // bounds the read of one inbox

struct Key {
  uint64_t sender_uid, client_msg_id;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    return std::hash<uint64_t>()(k.sender_uid * 0x9E3779B97F4A7C15ull ^ k.client_msg_id);
  }
};

std::string describe(const SentMessage& s) {
  std::ostringstream out;
  out << "\"" << s.text << "\" (" << s.from_uid << " -> " << s.to_uid
      << ", client_msg_id=" << s.client_msg_id << ", result msg_id=" << s.receipt.msg_id
      << " inbox_seq=" << s.receipt.inbox_seq << " duplicate=" << s.receipt.duplicate
      << " attempts=" << s.receipt.attempts << ")";
  return out.str();
}

std::string describe(const InboxEntry& e) {
  std::ostringstream out;
  out << "inbox " << e.owner_uid << " seq " << e.inbox_seq;
  if (e.kind == EntryKind::Message) {
    out << " \"" << e.message.text << "\" (" << e.message.sender_uid << " -> "
        << e.message.receiver_uid << ", client_msg_id=" << e.message.client_msg_id
        << ", msg_id=" << e.message.msg_id << ")";
  } else {
    out << " kind " << static_cast<int>(e.kind);
  }
  return out.str();
}

// Where each (sender, client_msg_id) sits in one inbox.
using Placement = std::unordered_map<Key, std::vector<const InboxEntry*>, KeyHash>;

Placement place(const InboxCopy& inbox) {
  Placement out;
  for (const InboxEntry& e : inbox.entries) {
    if (e.kind != EntryKind::Message) continue;
    out[{e.message.sender_uid, e.message.client_msg_id}].push_back(&e);
  }
  return out;
}

// Counts adjacent messages of one conversation that the two inboxes order differently.
uint64_t count_reorders(const InboxCopy& a, const InboxCopy& b) {
  auto conversation = [](const InboxCopy& inbox, uint64_t peer) {
    std::vector<uint64_t> ids;
    for (const InboxEntry& e : inbox.entries) {
      const auto& m = e.message;
      if (e.kind == EntryKind::Message && (m.sender_uid == peer || m.receiver_uid == peer)) {
        ids.push_back(m.msg_id);
      }
    }
    return ids;
  };
  std::vector<uint64_t> in_a = conversation(a, b.uid), in_b = conversation(b, a.uid);
  std::unordered_map<uint64_t, size_t> pos_in_b;
  for (size_t i = 0; i < in_b.size(); i++) pos_in_b[in_b[i]] = i;
  uint64_t reorders = 0;
  for (size_t i = 1; i < in_a.size(); i++) {
    auto x = pos_in_b.find(in_a[i - 1]), y = pos_in_b.find(in_a[i]);
    if (x != pos_in_b.end() && y != pos_in_b.end() && x->second > y->second) reorders++;
  }
  return reorders;
}

}  // namespace

bool read_whole_inbox(uint16_t port, const std::string& username, const std::string& password,
                      InboxCopy* out) {
  client::ClientOptions options;
  options.device_id = "crash-audit";
  options.auto_reconnect = false;
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
  out->entries.clear();
  uint64_t after = 0, head = 0;
  for (uint32_t pages = 0; pages < kMaxSyncPages; pages++) {
    auto page = c.sync(after, kSyncPageEntries);
    if (!page.ok()) {
      ADD_FAILURE() << "audit sync " << username << " after " << after << ": "
                    << page.status().to_string();
      return false;
    }
    head = page->head_inbox_seq;
    for (InboxEntry& e : page->entries) {
      if (e.inbox_seq != after + 1 || e.owner_uid != out->uid) {
        ADD_FAILURE() << "inbox of " << username << " is not gapless 1..head: after seq " << after
                      << " comes " << describe(e);
        return false;
      }
      after = e.inbox_seq;
      out->entries.push_back(std::move(e));
    }
    if (!page->has_more) break;
    if (page->entries.empty()) {
      ADD_FAILURE() << "audit sync " << username << ": has_more with an empty page";
      return false;
    }
  }
  out->head = head;
  if (after != head || head < login->inbox_head_seq) {
    ADD_FAILURE() << "inbox of " << username << ": read up to seq " << after << ", Sync head "
                  << head << ", LoginOk head " << login->inbox_head_seq;
    return false;
  }
  return true;
}

namespace {

using SendIndex = std::unordered_map<Key, const SentMessage*, KeyHash>;

// Each send with a result: one copy per inbox, both as the SendResult said; ids unique.
void check_sends(std::map<uint64_t, Placement>& placed, const std::vector<SentMessage>& sent,
                 SendIndex* by_key) {
  Violations missing("a send with a SendResult is not exactly once in the sender's inbox");
  Violations missing_peer("a send with a SendResult is not exactly once in the receiver's inbox");
  Violations mismatch("a stored copy differs from the SendResult or from the other copy");
  Violations shared_id("two sends got the same msg_id");
  Violations sent_twice("the load used one client_msg_id twice (test bug)");
  std::unordered_map<uint64_t, const SentMessage*> by_msg_id;
  for (const SentMessage& s : sent) {
    if (!by_key->emplace(Key{s.from_uid, s.client_msg_id}, &s).second) {
      sent_twice.add() << describe(s);
    }
    auto [other, fresh] = by_msg_id.emplace(s.receipt.msg_id, &s);
    if (!fresh) shared_id.add() << describe(s) << " and " << describe(*other->second);
    const auto& own = placed[s.from_uid][{s.from_uid, s.client_msg_id}];
    const auto& peer = placed[s.to_uid][{s.from_uid, s.client_msg_id}];
    if (own.size() != 1) missing.add() << describe(s) << ": " << own.size() << " copies";
    if (peer.size() != 1) missing_peer.add() << describe(s) << ": " << peer.size() << " copies";
    if (own.size() != 1 || peer.size() != 1) continue;
    const client::Message& a = own[0]->message;
    const client::Message& b = peer[0]->message;
    bool same = a.msg_id == s.receipt.msg_id && b.msg_id == s.receipt.msg_id &&
                own[0]->inbox_seq == s.receipt.inbox_seq &&
                a.server_time_ms == s.receipt.server_time_ms &&
                b.server_time_ms == s.receipt.server_time_ms && a.receiver_uid == s.to_uid &&
                b.receiver_uid == s.to_uid && a.text == s.text && b.text == s.text;
    if (!same) {
      mismatch.add() << describe(s) << " stored as " << describe(*own[0]) << " and "
                     << describe(*peer[0]);
    }
  }
}

// Each stored entry: a message some send got a result for, in one of its two inboxes,
// after the sender's earlier messages to the same peer.
void check_entries(const std::map<uint64_t, InboxCopy>& inboxes, const SendIndex& by_key) {
  Violations unknown("an inbox holds a message the load never got a SendResult for");
  Violations misplaced("a message is stored in the inbox of a user outside its conversation");
  Violations reordered("a sender's messages are out of send order in an inbox");
  Violations not_message("an inbox holds an entry that is not a message");
  for (const auto& [uid, inbox] : inboxes) {
    std::map<std::pair<uint64_t, uint64_t>, const SentMessage*> last_of_pair;
    for (const InboxEntry& e : inbox.entries) {
      if (e.kind != EntryKind::Message) {
        not_message.add() << describe(e);
        continue;
      }
      auto it = by_key.find({e.message.sender_uid, e.message.client_msg_id});
      if (it == by_key.end()) {
        unknown.add() << describe(e);
        continue;
      }
      const SentMessage& s = *it->second;
      if (uid != s.from_uid && uid != s.to_uid) misplaced.add() << describe(e);
      const SentMessage*& last = last_of_pair[{s.from_uid, s.to_uid}];
      if (last != nullptr && last->n > s.n) {  // equal n is a second copy, reported above
        reordered.add() << describe(e) << " (n=" << s.n << ") after n=" << last->n;
      }
      last = &s;
    }
  }
}

}  // namespace

void check_inboxes(const std::map<uint64_t, InboxCopy>& inboxes,
                   const std::vector<SentMessage>& sent, AuditCounts* counts) {
  std::map<uint64_t, Placement> placed;
  for (const auto& [uid, inbox] : inboxes) placed[uid] = place(inbox);
  SendIndex by_key;
  check_sends(placed, sent, &by_key);
  check_entries(inboxes, by_key);
  for (auto a = inboxes.begin(); a != inboxes.end(); ++a) {
    for (auto b = std::next(a); b != inboxes.end(); ++b) {
      uint64_t reorders = count_reorders(a->second, b->second);
      counts->conversation_reorders += reorders;
      // Contract line 6: both users of a conversation see its messages in one order.
      EXPECT_EQ(reorders, 0u) << "uids " << a->first << " and " << b->first
                              << " see their conversation in different orders";
    }
  }
}

void check_delivered(const InboxCopy& inbox, const std::vector<InboxEntry>& delivered,
                     const std::string& who) {
  Violations wrong(who + ": the online device's deliveries differ from its inbox");
  if (delivered.size() != inbox.entries.size()) {
    wrong.add() << delivered.size() << " entries delivered, the inbox holds "
                << inbox.entries.size();
  }
  size_t n = std::min(delivered.size(), inbox.entries.size());
  for (size_t i = 0; i < n; i++) {
    const InboxEntry& got = delivered[i];
    const InboxEntry& want = inbox.entries[i];
    bool own = want.message.sender_uid == inbox.uid;
    if (got.inbox_seq != want.inbox_seq || got.kind != want.kind ||
        got.message.msg_id != want.message.msg_id || got.is_own != own) {
      wrong.add() << "delivery #" << i << " is " << describe(got) << " is_own=" << got.is_own
                  << ", the inbox has " << describe(want);
    }
  }
}

}  // namespace im::crash
