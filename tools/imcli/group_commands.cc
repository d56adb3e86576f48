// group_commands.cc - imcli's group actions, shared by the one-shot `imcli group ACTION ...`
// / `imcli groups` commands and interactive `/group ACTION ...` / `/groups`: each resolves
// user names, makes one SDK call (a few for paging), and prints text lines or one JSON
// document with the protocol's field names. Runs on the caller's thread.
#include <algorithm>
#include <iostream>

#include "tools/imcli/imcli.h"

namespace imcli {

using im::client::EntryKind;
using im::client::InboxEntry;
using nlohmann::json;
namespace proto = im::proto;

const char* const kGroupActionsHelp =
    "group actions (GID is the group's number, USER a username or uid):\n"
    "  create NAME [USER...]     new group with you as owner; prints the gid\n"
    "  send GID TEXT             send TEXT to the group\n"
    "  invite GID USER...        add members (owner/admins)\n"
    "  kick GID USER             remove a member (owner/admins)\n"
    "  quit GID                  leave (the owner transfers or dismisses first)\n"
    "  dismiss GID               owner: the group becomes read-only history\n"
    "  info GID                  name, owner, admins, your role and cursors\n"
    "  members GID               current members\n"
    "  history GID               recent entries, oldest first (--limit/--before/--after)\n"
    "  read GID                  mark the group read\n"
    "  rename GID NAME           owner/admins\n"
    "  announce GID [TEXT]       set (or, without TEXT, clear) the announcement\n"
    "  owner GID USER            owner: transfer ownership\n"
    "  admin GID USER on|off     owner: appoint or demote an admin\n"
    "  mute GID USER on|off      owner/admins: mute a member\n"
    "  dnd GID on|off            do-not-disturb for yourself\n"
    "  list                      your groups (same as `groups`)\n";

namespace {

constexpr uint32_t kMemberPage = 200;
constexpr size_t kMaxMembersShown = 10000;

struct Action {
  Client& client;
  const GroupRequest& req;
  const GroupOutput& out;
  Status* error;

  int usage(const std::string& message) {
    *error = im::client::error_status(proto::Code::BadRequest, message);
    return kExitUsage;
  }
  int fail(const Status& status) {
    *error = status;
    return im::client::status_is_transport(status.code) ? kExitConnection : kExitServer;
  }
  // Argument i as a gid; false (after a usage error) when missing or not a number.
  bool gid_at(size_t i, uint64_t* gid, int* rc) {
    const std::string s = i < req.args.size() ? req.args[i] : "";
    bool numeric = !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == s.npos;
    if (!numeric || (*gid = std::stoull(s)) == 0) {
      *rc = usage("group " + req.action + ": GID must be a group number, got '" + s + "'");
      return false;
    }
    return true;
  }
  bool users_from(size_t i, std::vector<im::client::UserInfo>* users, int* rc) {
    for (; i < req.args.size(); i++) {
      auto user = resolve_peer(client, req.args[i]);
      if (!user.ok()) {
        *rc = fail(user.status());
        return false;
      }
      users->push_back(user.value());
    }
    return true;
  }
  bool flag_at(size_t i, bool* flag, int* rc) {
    std::string s = i < req.args.size() ? req.args[i] : "";
    if (s != "on" && s != "off") {
      *rc = usage("group " + req.action + ": expected on|off, got '" + s + "'");
      return false;
    }
    *flag = s == "on";
    return true;
  }
  std::string rest_from(size_t i) const {
    std::string text;
    for (; i < req.args.size(); i++) text += (text.empty() ? "" : " ") + req.args[i];
    return text;
  }
  void changed(const im::client::GroupChange& change, const std::string& what) {
    if (out.json) return out.document({{"gid", change.gid}, {"group_seq", change.group_seq}});
    out.line(what + " (group " + std::to_string(change.gid) + ", group_seq " +
             std::to_string(change.group_seq) + ")");
  }

  int run();
  int list();
  int create();
  int send();
  int invite();
  int kick();
  int info();
  int members();
  int history();
  int read();
  int simple(const std::string& action);
};

const char* role_name(proto::GroupRole role) {
  switch (role) {
    case proto::GroupRole::Owner:
      return "owner";
    case proto::GroupRole::Admin:
      return "admin";
    default:
      return "member";
  }
}

int Action::list() {
  auto groups = client.list_groups();
  if (!groups.ok()) return fail(groups.status());
  if (out.json) {
    json list = json::array();
    for (const auto& g : groups.value()) {
      list.push_back({{"gid", g.gid},
                      {"name", g.name},
                      {"my_role", role_name(g.my_role)},
                      {"last_group_seq", g.last_group_seq},
                      {"read_group_seq", g.read_group_seq},
                      {"join_group_seq", g.join_group_seq},
                      {"unread", g.unread},
                      {"mentioned", g.mentioned},
                      {"do_not_disturb", g.do_not_disturb},
                      {"dismissed", g.dismissed},
                      {"updated_ms", g.updated_ms}});
    }
    out.document({{"groups", list}});
    return kExitOk;
  }
  for (const auto& g : groups.value()) {
    out.line(std::to_string(g.gid) + "  " + g.name + "  unread " + std::to_string(g.unread) +
             (g.mentioned ? "  @you" : "") + (g.do_not_disturb ? "  (dnd)" : "") +
             (g.dismissed ? "  (dismissed)" : ""));
  }
  if (groups->empty()) out.line("no groups");
  return kExitOk;
}

int Action::create() {
  if (req.args.empty()) return usage("group create NAME [USER...]");
  int rc = kExitOk;
  std::vector<im::client::UserInfo> users;
  if (!users_from(1, &users, &rc)) return rc;
  std::vector<uint64_t> uids;
  for (const auto& u : users) uids.push_back(u.uid);
  auto created = client.create_group(req.args[0], uids);
  if (!created.ok()) return fail(created.status());
  if (out.json) {
    out.document({{"gid", created->gid},
                  {"group_seq", created->group_seq},
                  {"name", req.args[0]},
                  {"member_uids", uids}});
  } else if (out.interactive) {
    out.line("created group '" + req.args[0] + "' (gid " + std::to_string(created->gid) + ")");
  } else {
    out.line(std::to_string(created->gid));  // scripts: GID=$(imcli group create ...)
  }
  return kExitOk;
}

int Action::send() {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  std::string text = rest_from(1);
  if (text.empty()) return usage("group send GID TEXT");
  auto receipt = client.group_send_text(gid, text);
  if (!receipt.ok()) return fail(receipt.status());
  if (out.json) {
    out.document({{"msg_id", receipt->msg_id},
                  {"gid", receipt->gid},
                  {"group_seq", receipt->group_seq},
                  {"server_time_ms", receipt->server_time_ms},
                  {"duplicate", receipt->duplicate},
                  {"client_msg_id", receipt->client_msg_id},
                  {"text", text}});
  } else if (out.interactive) {
    out.line("[" + format_time(receipt->server_time_ms, false) + "] #" + std::to_string(gid) + " " +
             client.username() + ": " + text);
  } else {
    out.line("sent to group " + std::to_string(gid) + " (msg_id " +
             std::to_string(receipt->msg_id) + ", group_seq " + std::to_string(receipt->group_seq) +
             (receipt->duplicate ? ", duplicate" : "") + ")");
  }
  return kExitOk;
}

int Action::invite() {
  int rc = kExitOk;
  uint64_t gid = 0;
  std::vector<im::client::UserInfo> users;
  if (!gid_at(0, &gid, &rc)) return rc;
  if (req.args.size() < 2) return usage("group invite GID USER...");
  if (!users_from(1, &users, &rc)) return rc;
  std::vector<uint64_t> uids;
  std::string names;
  for (const auto& u : users) {
    uids.push_back(u.uid);
    names += (names.empty() ? "" : ", ") + u.username;
  }
  auto change = client.invite(gid, uids);
  if (!change.ok()) return fail(change.status());
  changed(change.value(), "invited " + names);
  return kExitOk;
}

int Action::kick() {
  int rc = kExitOk;
  uint64_t gid = 0;
  std::vector<im::client::UserInfo> users;
  if (!gid_at(0, &gid, &rc)) return rc;
  if (req.args.size() != 2) return usage("group kick GID USER");
  if (!users_from(1, &users, &rc)) return rc;
  auto change = client.remove_member(gid, users[0].uid);
  if (!change.ok()) return fail(change.status());
  changed(change.value(), "removed " + users[0].username);
  return kExitOk;
}

int Action::info() {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  auto info = client.group_info(gid);
  if (!info.ok()) return fail(info.status());
  const im::client::GroupInfo& g = info.value();
  std::vector<uint64_t> uids = g.admins;
  uids.push_back(g.owner_uid);
  auto names = names_of(client, uids);
  json admins = json::array();
  std::string admin_text;
  for (uint64_t uid : g.admins) {
    admins.push_back(names[uid]);
    admin_text += (admin_text.empty() ? "" : ", ") + names[uid];
  }
  if (out.json) {
    out.document({{"gid", g.gid},
                  {"name", g.name},
                  {"owner_uid", g.owner_uid},
                  {"owner", names[g.owner_uid]},
                  {"admin_uids", g.admins},
                  {"admins", admins},
                  {"announcement", g.announcement},
                  {"member_count", g.member_count},
                  {"my_role", role_name(g.my_role)},
                  {"my_muted", g.my_muted},
                  {"my_do_not_disturb", g.my_do_not_disturb},
                  {"last_group_seq", g.last_group_seq},
                  {"read_group_seq", g.read_group_seq},
                  {"join_group_seq", g.join_group_seq},
                  {"dismissed", g.dismissed},
                  {"is_member", g.is_member}});
    return kExitOk;
  }
  out.line("group " + std::to_string(g.gid) + " '" + g.name + "'" +
           (g.dismissed ? " (dismissed)" : "") + (g.is_member ? "" : " (you left)"));
  out.line("  owner " + names[g.owner_uid] +
           ", admins: " + (admin_text.empty() ? "-" : admin_text) + ", " +
           std::to_string(g.member_count) + " members");
  if (!g.announcement.empty()) out.line("  announcement: " + g.announcement);
  out.line(std::string("  you: ") + role_name(g.my_role) + (g.my_muted ? ", muted" : "") +
           (g.my_do_not_disturb ? ", do not disturb" : "") + "; seqs joined " +
           std::to_string(g.join_group_seq) + " read " + std::to_string(g.read_group_seq) +
           " last " + std::to_string(g.last_group_seq));
  return kExitOk;
}

int Action::members() {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  std::vector<im::client::MemberInfo> all;
  uint64_t after = 0;
  bool more = true;
  while (more && all.size() < kMaxMembersShown) {
    auto page = client.list_members(gid, after, kMemberPage);
    if (!page.ok()) return fail(page.status());
    all.insert(all.end(), page->members.begin(), page->members.end());
    more = page->has_more && !page->members.empty();
    if (!page->members.empty()) after = page->members.back().uid;
  }
  std::vector<uint64_t> uids;
  for (const auto& m : all) uids.push_back(m.uid);
  auto names = names_of(client, uids);
  if (out.json) {
    json list = json::array();
    for (const auto& m : all) {
      list.push_back({{"uid", m.uid},
                      {"username", names[m.uid]},
                      {"role", role_name(m.role)},
                      {"join_group_seq", m.join_group_seq},
                      {"muted", m.muted}});
    }
    out.document({{"gid", gid}, {"members", list}, {"has_more", more}});
    return kExitOk;
  }
  for (const auto& m : all) {
    out.line(names[m.uid] + "  " + role_name(m.role) + (m.muted ? "  (muted)" : ""));
  }
  return kExitOk;
}

int Action::history() {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  auto page = client.group_history(gid, req.before, req.after, req.limit);
  if (!page.ok()) return fail(page.status());
  std::vector<InboxEntry> entries = page->entries;
  std::sort(entries.begin(), entries.end(), [](const InboxEntry& a, const InboxEntry& b) {
    return a.group_seq < b.group_seq;  // oldest first, whatever order the page came in
  });
  std::vector<uint64_t> uids;
  for (const auto& e : entries) {
    for (uint64_t uid : uids_in(e)) uids.push_back(uid);
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  auto names = names_of(client, uids);
  if (out.json) {
    json list = json::array();
    for (const auto& e : entries) list.push_back(entry_json(e, names));
    out.document({{"gid", gid}, {"has_more", page->has_more}, {"entries", list}});
    return kExitOk;
  }
  for (const auto& e : entries) {
    if (e.kind == EntryKind::Message) {
      out.line("[" + format_time(e.message.server_time_ms, true) + "] " +
               names[e.message.sender_uid] + ": " + e.message.text);
    } else if (e.kind == EntryKind::GroupEvent) {
      out.line("[" + format_time(e.group_event.server_time_ms, true) + "] * " +
               describe_group_event(e.group_event, names));
    }
  }
  if (page->has_more && !entries.empty()) {
    out.line("(more: " +
             (req.after ? "--after " + std::to_string(entries.back().group_seq)
                        : "--before " + std::to_string(entries.front().group_seq)) +
             ")");
  }
  return kExitOk;
}

int Action::read() {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  auto mark = client.mark_group_read(gid, 0);
  if (!mark.ok()) return fail(mark.status());
  if (out.json) {
    out.document(
        {{"gid", gid}, {"read_group_seq", mark->read_group_seq}, {"unread", mark->unread}});
  } else {
    out.line("read group " + std::to_string(gid) + " up to " +
             std::to_string(mark->read_group_seq) + " (unread " + std::to_string(mark->unread) +
             ")");
  }
  return kExitOk;
}

// The actions that answer GroupChanged: quit, dismiss, rename, announce, owner, admin,
// mute, dnd.
int Action::simple(const std::string& action) {
  int rc = kExitOk;
  uint64_t gid = 0;
  if (!gid_at(0, &gid, &rc)) return rc;
  im::client::Result<im::client::GroupChange> change = Status{};
  std::string what;
  bool flag = false;
  std::vector<im::client::UserInfo> users;
  bool needs_user = action == "owner" || action == "admin" || action == "mute";
  if (needs_user) {
    if (req.args.size() < 2)
      return usage("group " + action + " GID USER" + (action == "owner" ? "" : " on|off"));
    auto user = resolve_peer(client, req.args[1]);
    if (!user.ok()) return fail(user.status());
    users.push_back(user.value());
  }
  if (action == "quit") {
    change = client.quit_group(gid), what = "left";
  } else if (action == "dismiss") {
    change = client.dismiss_group(gid), what = "dismissed";
  } else if (action == "rename") {
    im::client::GroupUpdate update;
    update.name = rest_from(1);
    if (update.name.empty()) return usage("group rename GID NAME");
    change = client.update_group(gid, update), what = "renamed to '" + update.name + "'";
  } else if (action == "announce") {
    im::client::GroupUpdate update;
    update.announcement = rest_from(1);
    update.has_announcement = !update.announcement.empty();
    update.clear_announcement = update.announcement.empty();
    change = client.update_group(gid, update), what = "announcement updated";
  } else if (action == "dnd") {
    if (!flag_at(1, &flag, &rc)) return rc;
    change = client.mute_group(gid, flag), what = flag ? "do not disturb" : "notifications on";
  } else if (action == "owner") {
    change = client.transfer_ownership(gid, users[0].uid), what = users[0].username + " owns it";
  } else {
    if (!flag_at(2, &flag, &rc)) return rc;
    const std::string& who = users[0].username;
    if (action == "admin") {
      change = client.set_admin(gid, users[0].uid, flag);
      what = flag ? who + " is an admin" : who + " is no longer an admin";
    } else {
      change = client.mute_member(gid, users[0].uid, flag);
      what = flag ? who + " muted" : who + " unmuted";
    }
  }
  if (!change.ok()) return fail(change.status());
  changed(change.value(), what);
  return kExitOk;
}

int Action::run() {
  const std::string& a = req.action;
  if (a == "list") return list();
  if (a == "create") return create();
  if (a == "send") return send();
  if (a == "invite") return invite();
  if (a == "kick") return kick();
  if (a == "info") return info();
  if (a == "members") return members();
  if (a == "history") return history();
  if (a == "read") return read();
  if (a == "quit" || a == "dismiss" || a == "rename" || a == "announce" || a == "owner" ||
      a == "admin" || a == "mute" || a == "dnd") {
    return simple(a);
  }
  return usage("unknown group action '" + a + "'\n" + kGroupActionsHelp);
}

}  // namespace

int run_group_action(Client& client, const GroupRequest& request, const GroupOutput& out,
                     Status* error) {
  *error = {};
  return Action{client, request, out, error}.run();
}

int run_group(const Flags& flags, const GroupRequest& request) {
  Client client(one_shot_options(flags));
  if (int rc = connect_and_login(client, flags); rc != kExitOk) return rc;
  GroupOutput out;
  out.json = flags.json;
  out.line = [](const std::string& line) { std::cout << line << "\n"; };
  out.document = [](const json& doc) { print_json(doc); };
  Status error;
  int rc = run_group_action(client, request, out, &error);
  if (rc == kExitUsage) return usage_error(error.reason);
  if (rc != kExitOk) return report(error);
  return kExitOk;
}

int run_groups(const Flags& flags) {
  GroupRequest request;
  request.action = "list";
  return run_group(flags, request);
}

}  // namespace imcli
