// commands.cc - imcli's one-shot, scriptable commands: register, send, history, convs,
// read (the group commands are in group_commands.cc). Each connects, does one thing,
// prints text or one JSON document, and exits with 0 (success), 1 (server said no),
// 2 (usage) or 3 (no connection).
#include <algorithm>
#include <iostream>

#include "tools/imcli/imcli.h"

namespace imcli {

using im::client::EntryKind;
using im::client::InboxEntry;
using nlohmann::json;

namespace {

constexpr const char* kOneShotDeviceSuffix = "-cli";

}  // namespace

void print_json(const json& doc) {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

// A send-only session on a device id of its own ("imcli-<host>-cli"): pushes are acked
// unseen, so one-shot commands neither kick nor move the interactive device's cursor.
im::client::ClientOptions one_shot_options(const Flags& flags) {
  im::client::ClientOptions options = client_options(flags, kOneShotDeviceSuffix);
  options.receive_entries = false;
  options.ping_interval_ms = 0;
  // A send survives a server restart: reconnect and resend with the same client_msg_id.
  options.send_deadline_ms = 3 * flags.timeout_ms;
  return options;
}

namespace {

void print_entry_line(const InboxEntry& e, const std::map<uint64_t, std::string>& names) {
  auto name = [&](uint64_t uid) { return names.count(uid) ? names.at(uid) : std::to_string(uid); };
  if (e.kind == EntryKind::Message) {
    std::cout << "[" << format_time(e.message.server_time_ms, true) << "] "
              << name(e.message.sender_uid) << ": " << e.message.text << "\n";
  } else if (e.kind == EntryKind::GroupEvent) {
    std::cout << "[" << format_time(e.group_event.server_time_ms, true) << "] * "
              << describe_group_event(e.group_event, names) << "\n";
  } else if (e.kind == EntryKind::ReadEvent) {
    std::cout << "* read up to " << e.read_event.read_inbox_seq << " on " << e.read_event.device_id
              << "\n";
  }
}

}  // namespace

int run_register(const Flags& flags, const std::string& username, const std::string& password) {
  Client client(one_shot_options(flags));
  if (Status s = client.connect(flags.host, flags.port); !s.ok()) return report(s);
  auto reg = client.register_user(username, password);
  if (!reg.ok()) return report(reg.status());
  if (flags.json) {
    print_json({{"uid", reg->uid}, {"username", username}});
  } else {
    std::cout << "registered " << username << " (uid " << reg->uid << ")\n";
  }
  return kExitOk;
}

int run_send(const Flags& flags, const std::string& peer, const std::string& text) {
  Client client(one_shot_options(flags));
  if (int rc = connect_and_login(client, flags); rc != kExitOk) return rc;
  auto to = resolve_peer(client, peer);
  if (!to.ok()) return report(to.status());
  auto receipt = client.send_text(to->uid, text);
  if (!receipt.ok()) return report(receipt.status());
  if (flags.json) {
    print_json({{"msg_id", receipt->msg_id},
                {"inbox_seq", receipt->inbox_seq},
                {"server_time_ms", receipt->server_time_ms},
                {"duplicate", receipt->duplicate},
                {"client_msg_id", receipt->client_msg_id},
                {"to_uid", to->uid},
                {"peer", to->username},
                {"text", text}});
  } else {
    std::cout << "sent to " << to->username << " (msg_id " << receipt->msg_id << ", inbox_seq "
              << receipt->inbox_seq << (receipt->duplicate ? ", duplicate" : "") << ")\n";
  }
  return kExitOk;
}

int run_history(const Flags& flags, const std::string& peer, uint32_t limit, uint64_t before,
                uint64_t after) {
  Client client(one_shot_options(flags));
  if (int rc = connect_and_login(client, flags); rc != kExitOk) return rc;
  auto with = resolve_peer(client, peer);
  if (!with.ok()) return report(with.status());
  auto page = client.history(with->uid, before, after, limit);
  if (!page.ok()) return report(page.status());
  std::vector<InboxEntry> entries = page->entries;
  std::sort(entries.begin(), entries.end(), [](const InboxEntry& a, const InboxEntry& b) {
    return a.inbox_seq < b.inbox_seq;  // oldest first, whatever order the page came in
  });
  std::map<uint64_t, std::string> names{{client.uid(), client.username()},
                                        {with->uid, with->username}};
  if (flags.json) {
    json list = json::array();
    for (const InboxEntry& e : entries) list.push_back(entry_json(e, names));
    print_json({{"peer", with->username},
                {"peer_uid", with->uid},
                {"has_more", page->has_more},
                {"entries", list}});
    return kExitOk;
  }
  for (const InboxEntry& e : entries) print_entry_line(e, names);
  if (page->has_more && !entries.empty()) {
    std::cout << "(more: "
              << (after ? "--after " + std::to_string(entries.back().inbox_seq)
                        : "--before " + std::to_string(entries.front().inbox_seq))
              << ")\n";
  }
  return kExitOk;
}

int run_convs(const Flags& flags, uint32_t limit) {
  Client client(one_shot_options(flags));
  if (int rc = connect_and_login(client, flags); rc != kExitOk) return rc;
  auto list = client.conversations(limit);
  if (!list.ok()) return report(list.status());
  std::vector<uint64_t> uids{client.uid()};
  for (const auto& c : list->conversations) {
    if (!c.is_group()) uids.push_back(c.peer_uid);
    if (c.has_last) {
      for (uint64_t uid : uids_in(c.last)) uids.push_back(uid);
    }
  }
  std::map<uint64_t, std::string> names = names_of(client, uids);
  if (flags.json) {
    json convs = json::array();
    for (const auto& c : list->conversations) {
      json item = {{"unread", c.unread}, {"updated_ms", c.updated_ms}, {"muted", c.muted}};
      if (c.is_group()) {
        item["gid"] = c.gid;
        item["name"] = c.name;
        item["last_group_seq"] = c.last_group_seq;
        item["read_group_seq"] = c.read_group_seq;
        item["mentioned"] = c.mentioned;
      } else {
        item["peer_uid"] = c.peer_uid;
        item["peer"] = names[c.peer_uid];
        item["read_inbox_seq"] = c.read_inbox_seq;
        item["last_inbox_seq"] = c.last_inbox_seq;
      }
      if (c.has_last) item["last"] = entry_json(c.last, names);
      convs.push_back(item);
    }
    print_json({{"total_unread", list->total_unread}, {"conversations", convs}});
    return kExitOk;
  }
  for (const auto& c : list->conversations) {
    if (c.is_group()) {
      std::cout << "group " << c.gid << " " << c.name;
    } else {
      std::cout << names[c.peer_uid];
    }
    std::cout << "  unread " << c.unread << (c.mentioned ? "  @you" : "");
    if (c.has_last && c.last.kind == EntryKind::Message) {
      std::cout << "  [" << format_time(c.last.message.server_time_ms, true) << "] "
                << names[c.last.message.sender_uid] << ": " << c.last.message.text;
    }
    std::cout << "\n";
  }
  std::cout << "total unread " << list->total_unread << "\n";
  return kExitOk;
}

int run_read(const Flags& flags, const std::string& peer) {
  Client client(one_shot_options(flags));
  if (int rc = connect_and_login(client, flags); rc != kExitOk) return rc;
  auto with = resolve_peer(client, peer);
  if (!with.ok()) return report(with.status());
  auto mark = client.mark_read(with->uid, 0);
  if (!mark.ok()) return report(mark.status());
  if (flags.json) {
    print_json({{"peer", with->username},
                {"peer_uid", with->uid},
                {"read_inbox_seq", mark->read_inbox_seq},
                {"unread", mark->unread}});
  } else {
    std::cout << "read " << with->username << " up to " << mark->read_inbox_seq << " (unread "
              << mark->unread << ")\n";
  }
  return kExitOk;
}

}  // namespace imcli
