// interactive.cc - imcli's chat mode: reads commands and text lines from stdin, prints
// incoming entries as they arrive. Threads: main (stdin + commands), a printer thread
// (drains the SDK's entry queue, resolves names), and the SDK's reader thread (callbacks
// only set flags and print one line). Output lines are serialised by one mutex.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tools/imcli/imcli.h"

namespace imcli {

using im::client::ConnectionState;
using im::client::EntryKind;
using im::client::InboxEntry;

namespace {

constexpr uint32_t kDefaultHistoryLines = 20;

const char* kHelp =
    "commands:\n"
    "  /to PEER [TEXT]    send TEXT to PEER; later plain lines go to PEER too\n"
    "  /history PEER [N]  the last N messages with PEER (default 20)\n"
    "  /convs             conversations with unread counts\n"
    "  /read PEER         mark the conversation with PEER read\n"
    "  /g GID [TEXT]      send TEXT to group GID; later plain lines go to the group too\n"
    "  /groups            your groups with unread counts\n"
    "  /group ACTION ...  create NAME [USER...], invite GID USER..., kick GID USER,\n"
    "                     quit GID, info GID, members GID, history GID, read GID, ...\n"
    "                     (/group help lists every action)\n"
    "  /help              this text\n"
    "  /quit              log out and exit (also Ctrl-D)\n";

class Chat {
 public:
  explicit Chat(const Flags& flags) : flags_(flags) {}
  int run();

 private:
  im::client::ClientOptions options();
  void say(const std::string& line);
  std::string name(uint64_t uid);
  void print_entry(const InboxEntry& entry);
  void receive_loop();
  bool handle_line(const std::string& line);  // false: quit
  void send_to(const std::string& peer, const std::string& text);
  void show_history(const std::string& peer, uint32_t limit);
  void show_convs();
  void mark_read(const std::string& peer);
  void send_to_group(const std::string& gid, const std::string& text);
  void group_command(const std::string& action, const std::string& args);
  void print_group_entry(const InboxEntry& entry);
  std::string group_name(uint64_t gid);
  bool read_line(std::string* line);

  const Flags& flags_;
  std::unique_ptr<Client> client_;
  std::mutex out_mu_;
  std::mutex names_mu_;
  std::map<uint64_t, std::string> names_;
  std::string current_peer_;
  std::string current_gid_;                      // set by /g: plain lines go to this group instead
  std::map<uint64_t, std::string> group_names_;  // main thread and printer: names_mu_
  std::atomic<bool> stop_{false};
  std::atomic<bool> kicked_{false};
  std::atomic<bool> reconnecting_{false};
  std::string input_;  // stdin bytes not yet split into lines
  bool input_eof_ = false;
};

void Chat::say(const std::string& line) {
  std::lock_guard lock(out_mu_);
  std::cout << line << std::endl;
}

std::string Chat::name(uint64_t uid) {
  {
    std::lock_guard lock(names_mu_);
    if (auto it = names_.find(uid); it != names_.end()) return it->second;
  }
  std::map<uint64_t, std::string> found = names_of(*client_, {uid});
  std::lock_guard lock(names_mu_);
  if (!found[uid].empty() && found[uid][0] != '#') names_[uid] = found[uid];  // real names only
  return found[uid];
}

im::client::ClientOptions Chat::options() {
  im::client::ClientOptions options = client_options(flags_, "");
  options.on_kick = [this](const im::client::KickInfo& kick) {
    if (kick.code == im::proto::Code::Kicked) kicked_ = true;
    say(std::string("* kicked: ") + im::client::status_name(kick.code) + ": " + kick.reason);
  };
  options.on_state = [this](ConnectionState state, const Status& why) {
    if (state == ConnectionState::Reconnecting && !reconnecting_.exchange(true)) {
      say("* connection lost (" + why.to_string() + "); reconnecting");
    }
    if (state == ConnectionState::LoggedIn && reconnecting_.exchange(false)) say("* reconnected");
    if (state == ConnectionState::Disconnected && !stop_) say("* disconnected: " + why.to_string());
  };
  return options;
}

void Chat::print_entry(const InboxEntry& e) {
  if (e.is_group()) return print_group_entry(e);
  if (e.kind == EntryKind::ReadEvent) {
    if (e.read_event.device_id == client_->options().device_id) return;  // our own /read
    say("* read " + name(e.read_event.peer_uid) + " up to " +
        std::to_string(e.read_event.read_inbox_seq) + " on " + e.read_event.device_id);
    return;
  }
  if (e.kind != EntryKind::Message || e.from_this_device) return;  // echoed when sent
  std::string time = "[" + format_time(e.message.server_time_ms, false) + "] ";
  if (e.is_own) {
    say(time + name(e.message.sender_uid) + " -> " + name(e.message.receiver_uid) + ": " +
        e.message.text);
  } else {
    say(time + name(e.message.sender_uid) + ": " + e.message.text);
  }
}

std::string Chat::group_name(uint64_t gid) {
  {
    std::lock_guard lock(names_mu_);
    if (auto it = group_names_.find(gid); it != group_names_.end()) return it->second;
  }
  auto info = client_->group_info(gid);
  std::string label = "#" + std::to_string(gid) + (info.ok() ? " " + info->name : "");
  std::lock_guard lock(names_mu_);
  if (info.ok()) group_names_[gid] = label;
  return label;
}

void Chat::print_group_entry(const InboxEntry& e) {
  if (e.kind == EntryKind::Message) {
    if (e.from_this_device) return;  // echoed when sent
    say("[" + format_time(e.message.server_time_ms, false) + "] " + group_name(e.gid) + " " +
        name(e.message.sender_uid) + ": " + e.message.text);
  } else if (e.kind == EntryKind::GroupEvent) {
    std::map<uint64_t, std::string> names;
    for (uint64_t uid : uids_in(e)) names[uid] = name(uid);
    if (e.group_event.kind == im::proto::GroupEventKind::Renamed) {
      std::lock_guard lock(names_mu_);
      group_names_.erase(e.gid);
    }
    say("[" + format_time(e.group_event.server_time_ms, false) + "] " + group_name(e.gid) + " * " +
        describe_group_event(e.group_event, names));
  }
}

void Chat::receive_loop() {
  while (!stop_) {
    if (std::optional<InboxEntry> entry = client_->next_entry(200)) print_entry(*entry);
  }
}

void Chat::send_to(const std::string& peer, const std::string& text) {
  auto to = resolve_peer(*client_, peer);
  if (!to.ok()) return say("* " + to.status().to_string());
  {
    std::lock_guard lock(names_mu_);
    names_[to->uid] = to->username;
  }
  current_peer_ = to->username;
  current_gid_.clear();
  if (text.empty()) return say("* talking to " + to->username);
  auto receipt = client_->send_text(to->uid, text);
  if (!receipt.ok()) return say("* not sent: " + receipt.status().to_string());
  say("[" + format_time(receipt->server_time_ms, false) + "] " + client_->username() + " -> " +
      to->username + ": " + text);
}

void Chat::show_history(const std::string& peer, uint32_t limit) {
  auto with = resolve_peer(*client_, peer);
  if (!with.ok()) return say("* " + with.status().to_string());
  auto page = client_->history(with->uid, 0, 0, limit);
  if (!page.ok()) return say("* " + page.status().to_string());
  std::vector<InboxEntry> entries = page->entries;
  std::sort(entries.begin(), entries.end(),
            [](const InboxEntry& a, const InboxEntry& b) { return a.inbox_seq < b.inbox_seq; });
  for (const InboxEntry& e : entries) {
    if (e.kind != EntryKind::Message) continue;
    say("[" + format_time(e.message.server_time_ms, true) + "] " + name(e.message.sender_uid) +
        ": " + e.message.text);
  }
  if (page->has_more) say("* (older messages exist)");
}

void Chat::show_convs() {
  auto list = client_->conversations(0);
  if (!list.ok()) return say("* " + list.status().to_string());
  for (const auto& c : list->conversations) {
    std::string who =
        c.is_group() ? "group " + std::to_string(c.gid) + " " + c.name : name(c.peer_uid);
    std::string line = who + "  unread " + std::to_string(c.unread) + (c.mentioned ? " @you" : "");
    if (c.has_last && c.last.kind == EntryKind::Message) {
      line += "  " + name(c.last.message.sender_uid) + ": " + c.last.message.text;
    }
    say(line);
  }
  say("* total unread " + std::to_string(list->total_unread));
}

void Chat::mark_read(const std::string& peer) {
  auto with = resolve_peer(*client_, peer);
  if (!with.ok()) return say("* " + with.status().to_string());
  auto mark = client_->mark_read(with->uid, 0);
  if (!mark.ok()) return say("* " + mark.status().to_string());
  say("* read " + with->username + " up to " + std::to_string(mark->read_inbox_seq));
}

void Chat::send_to_group(const std::string& gid, const std::string& text) {
  current_gid_ = gid;
  current_peer_.clear();
  if (text.empty()) return say("* talking to group " + gid);
  group_command("send", gid + " " + text);
}

// /group ACTION ARGS and /groups: the shared group actions (group_commands.cc).
void Chat::group_command(const std::string& action, const std::string& args) {
  if (action.empty() || action == "help") return say(kGroupActionsHelp);
  GroupRequest request;
  request.action = action;
  std::istringstream in(args);
  for (std::string word; in >> word;) request.args.push_back(word);
  if (action == "history" && request.args.size() > 1) {  // /group history GID [N]
    request.limit = static_cast<uint32_t>(std::atoi(request.args[1].c_str()));
    if (request.limit == 0) request.limit = kDefaultHistoryLines;
    request.args.resize(1);
  }
  GroupOutput out;
  out.interactive = true;
  out.line = [this](const std::string& line) { say(line); };
  out.document = [this](const nlohmann::json& doc) { say(doc.dump()); };
  Status error;
  if (run_group_action(*client_, request, out, &error) != kExitOk) say("* " + error.reason);
}

bool Chat::handle_line(const std::string& line) {
  if (line.empty()) return true;
  if (line[0] != '/') {
    if (!current_gid_.empty()) {
      group_command("send", current_gid_ + " " + line);
    } else if (current_peer_.empty()) {
      say("* no peer yet: /to NAME TEXT");
    } else {
      send_to(current_peer_, line);
    }
    return true;
  }
  std::istringstream in(line);
  std::string command, peer;
  in >> command >> peer;
  std::string rest;
  std::getline(in >> std::ws, rest);
  if (command == "/quit" || command == "/exit") return false;
  if (command == "/help") {
    say(kHelp);
  } else if (command == "/groups") {
    group_command("list", "");
  } else if (command == "/group") {
    group_command(peer, rest);  // peer holds the action here
  } else if (command == "/g") {
    if (peer.empty()) return say("* /g GID [TEXT]"), true;
    send_to_group(peer, rest);
  } else if (peer.empty() && command != "/convs") {
    say("* missing PEER; /help lists the commands");
  } else if (command == "/to") {
    send_to(peer, rest);
  } else if (command == "/history") {
    uint32_t limit =
        rest.empty() ? kDefaultHistoryLines : static_cast<uint32_t>(std::atoi(rest.c_str()));
    show_history(peer, limit ? limit : kDefaultHistoryLines);
  } else if (command == "/convs") {
    show_convs();
  } else if (command == "/read") {
    mark_read(peer);
  } else {
    say("* unknown command " + command + "; /help lists them");
  }
  return true;
}

// Reads stdin itself (not std::cin: its buffer would hide lines from poll) and polls, so a
// kick can end the loop without waiting for Enter.
bool Chat::read_line(std::string* line) {
  for (;;) {
    if (size_t nl = input_.find('\n'); nl != std::string::npos) {
      *line = input_.substr(0, nl);
      input_.erase(0, nl + 1);
      return true;
    }
    if (input_eof_ || kicked_) {
      *line = std::exchange(input_, {});
      return !line->empty() && !kicked_;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (got <= 0) {
      input_eof_ = true;
    } else {
      input_.append(buf, static_cast<size_t>(got));
    }
  }
}

int Chat::run() {
  client_ = std::make_unique<Client>(options());
  if (int rc = connect_and_login(*client_, flags_); rc != kExitOk) return rc;
  say("* logged in as " + client_->username() + " (uid " + std::to_string(client_->uid()) +
      ", device " + client_->options().device_id + "); /help for commands");
  std::thread receiver(&Chat::receive_loop, this);
  std::string line;
  while (read_line(&line) && handle_line(line)) {
  }
  stop_ = true;
  receiver.join();
  if (client_->state() == ConnectionState::LoggedIn) client_->logout();
  client_->close();
  return kicked_ ? kExitServer : kExitOk;
}

}  // namespace

int run_interactive(const Flags& flags) {
  return Chat(flags).run();
}

}  // namespace imcli
