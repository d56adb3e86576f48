// imcli.h - shared pieces of the terminal client: parsed flags, exit codes, login with a
// password / env / saved token, name lookups and output formatting. imcli_main.cc parses
// flags, commands.cc runs one-shot commands, group_commands.cc the group actions (one-shot
// and /group), interactive.cc the chat loop. Single user thread plus the SDK's reader
// thread (and interactive mode's printer thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"

namespace imcli {

using im::client::Client;
using im::client::Status;

enum ExitCode : int { kExitOk = 0, kExitServer = 1, kExitUsage = 2, kExitConnection = 3 };

struct Flags {
  std::string server = "127.0.0.1:7700";
  std::string host;
  uint16_t port = 0;
  std::string user;
  std::string password;  // --password or IMCLI_PASSWORD
  std::string token_file;
  std::string device;
  bool json = false;
  uint32_t timeout_ms = 10000;
};

// Prints "error: <CodeName> (<number>): <reason>" on stderr; returns the exit code for it.
int report(const Status& status);
int usage_error(const std::string& message);

// Splits HOST:PORT (also [v6]:PORT); false when malformed.
bool parse_server(const std::string& server, std::string* host, uint16_t* port);
std::string default_device_id(const char* suffix);
std::string default_token_path(const Flags& flags);

// Connects and logs in as flags.user (password first, else the saved token); saves the
// new token. Returns kExitOk or the exit code after reporting the error.
int connect_and_login(Client& client, const Flags& flags);
im::client::ClientOptions client_options(const Flags& flags, const char* device_suffix);

// "bob" -> uid (a number is taken as a uid).
im::client::Result<im::client::UserInfo> resolve_peer(Client& client, const std::string& peer);
// uid -> username for the given uids (unknown ones map to "#<uid>").
std::map<uint64_t, std::string> names_of(Client& client, const std::vector<uint64_t>& uids);

std::string format_time(int64_t unix_ms, bool with_date);
nlohmann::json entry_json(const im::client::InboxEntry& entry,
                          const std::map<uint64_t, std::string>& names);
// "alice invited bob, carol", "alice renamed the group to 'x'", ...
std::string describe_group_event(const im::client::GroupEvent& event,
                                 const std::map<uint64_t, std::string>& names);
// The uids an entry names (sender, actor, targets, peer), for names_of().
std::vector<uint64_t> uids_in(const im::client::InboxEntry& entry);
void print_json(const nlohmann::json& doc);
im::client::ClientOptions one_shot_options(const Flags& flags);

// A group action, as typed after `imcli group` or `/group` (group_commands.cc):
// create NAME [USER...], send GID TEXT, invite GID USER..., kick GID USER, quit GID,
// dismiss GID, info GID, members GID, history GID, read GID, rename GID NAME,
// admin GID USER on|off, mute GID USER on|off, dnd GID on|off, list.
struct GroupRequest {
  std::string action;
  std::vector<std::string> args;
  uint32_t limit = 20;  // history
  uint64_t before = 0;  // history paging (group_seq)
  uint64_t after = 0;
};
// Where a group action's output goes: one JSON document (one-shot --json) or text lines.
struct GroupOutput {
  bool json = false;
  bool interactive = false;  // chat mode: friendlier lines
  std::function<void(const std::string&)> line;
  std::function<void(const nlohmann::json&)> document;
};
extern const char* const kGroupActionsHelp;
// Runs one action on a logged-in client; returns an ExitCode (errors are reported through
// report() on stderr by one-shot callers; returned as a line when interactive).
int run_group_action(Client& client, const GroupRequest& request, const GroupOutput& out,
                     Status* error);
int run_group(const Flags& flags, const GroupRequest& request);
int run_groups(const Flags& flags);

int run_register(const Flags& flags, const std::string& username, const std::string& password);
int run_send(const Flags& flags, const std::string& peer, const std::string& text);
int run_history(const Flags& flags, const std::string& peer, uint32_t limit, uint64_t before,
                uint64_t after);
int run_convs(const Flags& flags, uint32_t limit);
int run_read(const Flags& flags, const std::string& peer);
int run_interactive(const Flags& flags);

}  // namespace imcli
