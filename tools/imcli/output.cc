// output.cc - what imcli prints: local times, uid -> name lookups, and the JSON shape of
// an inbox entry (the protocol's field names, plus resolved user names).
#include <ctime>

#include "tools/imcli/imcli.h"

namespace imcli {

using im::client::EntryKind;
using im::client::InboxEntry;

std::string format_time(int64_t unix_ms, bool with_date) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char buf[32];
  std::strftime(buf, sizeof(buf), with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &local);
  return buf;
}

im::client::Result<im::client::UserInfo> resolve_peer(Client& client, const std::string& peer) {
  bool numeric = !peer.empty() && peer.find_first_not_of("0123456789") == std::string::npos;
  if (!numeric) return client.find_user(peer);
  uint64_t uid = std::stoull(peer);
  std::vector<uint64_t> uids{uid};
  auto users = client.get_users(uids, {});
  if (!users.ok()) return users.status();
  if (users->empty()) {
    return im::client::error_status(im::proto::Code::UnknownUser, "no user with uid " + peer);
  }
  return users->front();
}

std::map<uint64_t, std::string> names_of(Client& client, const std::vector<uint64_t>& uids) {
  std::map<uint64_t, std::string> names;
  for (uint64_t uid : uids) names[uid] = "#" + std::to_string(uid);
  if (uids.empty()) return names;
  auto users = client.get_users(uids, {});
  if (users.ok()) {
    for (const auto& user : users.value()) names[user.uid] = user.username;
  }
  return names;
}

nlohmann::json entry_json(const InboxEntry& entry, const std::map<uint64_t, std::string>& names) {
  auto name = [&](uint64_t uid) {
    auto it = names.find(uid);
    return it == names.end() ? "#" + std::to_string(uid) : it->second;
  };
  nlohmann::json out = {{"inbox_seq", entry.inbox_seq}, {"owner_uid", entry.owner_uid}};
  if (entry.is_group()) {
    out["gid"] = entry.gid;
    out["group_seq"] = entry.group_seq;
  }
  if (entry.kind == EntryKind::Message) {
    const auto& m = entry.message;
    out["type"] = "message";
    out["msg_id"] = m.msg_id;
    out["client_msg_id"] = m.client_msg_id;
    out["sender_uid"] = m.sender_uid;
    out["sender"] = name(m.sender_uid);
    out["receiver_uid"] = m.receiver_uid;
    out["receiver"] = name(m.receiver_uid);
    out["server_time_ms"] = m.server_time_ms;
    out["text"] = m.text;
    if (!m.mentions.empty()) out["mentions"] = m.mentions;
    if (m.mention_all) out["mention_all"] = true;
  } else if (entry.kind == EntryKind::ReadEvent) {
    const auto& r = entry.read_event;
    out["type"] = "read_event";
    out["peer_uid"] = r.peer_uid;
    out["peer"] = name(r.peer_uid);
    out["read_inbox_seq"] = r.read_inbox_seq;
    out["device_id"] = r.device_id;
    if (r.gid != 0) out["gid"] = r.gid;
  } else if (entry.kind == EntryKind::GroupEvent) {
    const auto& g = entry.group_event;
    out["type"] = "group_event";
    out["kind"] = im::proto::EnumNameGroupEventKind(g.kind);
    out["actor_uid"] = g.actor_uid;
    out["actor"] = name(g.actor_uid);
    out["target_uids"] = g.target_uids;
    nlohmann::json targets = nlohmann::json::array();
    for (uint64_t uid : g.target_uids) targets.push_back(name(uid));
    out["targets"] = targets;
    out["text"] = g.text;
    out["flag"] = g.flag;
    out["server_time_ms"] = g.server_time_ms;
    out["description"] = describe_group_event(g, names);
  } else {
    out["type"] = "unknown";
  }
  return out;
}

std::vector<uint64_t> uids_in(const InboxEntry& entry) {
  std::vector<uint64_t> uids;
  if (entry.kind == EntryKind::Message) {
    uids.push_back(entry.message.sender_uid);
    if (entry.message.receiver_uid != 0) uids.push_back(entry.message.receiver_uid);
  } else if (entry.kind == EntryKind::GroupEvent) {
    uids.push_back(entry.group_event.actor_uid);
    uids.insert(uids.end(), entry.group_event.target_uids.begin(),
                entry.group_event.target_uids.end());
  } else if (entry.kind == EntryKind::ReadEvent && entry.read_event.peer_uid != 0) {
    uids.push_back(entry.read_event.peer_uid);
  }
  return uids;
}

std::string describe_group_event(const im::client::GroupEvent& event,
                                 const std::map<uint64_t, std::string>& names) {
  using Kind = im::proto::GroupEventKind;
  auto name = [&](uint64_t uid) {
    auto it = names.find(uid);
    return it == names.end() ? "#" + std::to_string(uid) : it->second;
  };
  std::string targets;
  for (uint64_t uid : event.target_uids) targets += (targets.empty() ? "" : ", ") + name(uid);
  std::string actor = name(event.actor_uid);
  switch (event.kind) {
    case Kind::Created:
      return actor + " created the group '" + event.text + "'" +
             (targets.empty() ? "" : " with " + targets);
    case Kind::Invited:
      return actor + " invited " + targets;
    case Kind::Removed:
      return actor + " removed " + targets;
    case Kind::Left:
      return actor + " left";
    case Kind::Renamed:
      return actor + " renamed the group to '" + event.text + "'";
    case Kind::AnnouncementChanged:
      return event.text.empty() ? actor + " cleared the announcement"
                                : actor + " set the announcement: " + event.text;
    case Kind::OwnershipTransferred:
      return actor + " made " + targets + " the owner";
    case Kind::Dismissed:
      return actor + " dismissed the group";
    case Kind::AdminChanged:
      return actor + (event.flag ? " made " + targets + " an admin"
                                 : " removed " + targets + " from the admins");
    case Kind::MemberMuted:
      return actor + (event.flag ? " muted " : " unmuted ") + targets;
  }
  return actor + " changed the group";
}

}  // namespace imcli
