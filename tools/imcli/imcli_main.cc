// imcli_main.cc - imcli: terminal client for imserver. Parses flags (CLI11) and runs one
// command, or the interactive chat when no command is given. See `imcli --help`.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "tools/imcli/imcli.h"

namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace imcli;
  Flags flags;
  CLI::App app{
      "imcli - terminal client for imserver.\n"
      "Without a command: interactive chat (/help inside). Exit status: 0 ok, 1 server "
      "error, 2 usage, 3 no connection."};
  app.option_defaults()->always_capture_default();
  app.fallthrough();
  app.add_option("--server", flags.server, "server HOST:PORT");
  app.add_option("--user,-u", flags.user, "username to log in as");
  app.add_option("--password,-p", flags.password,
                 "password (prefer env IMCLI_PASSWORD or a saved token: argv is visible in ps)");
  app.add_option("--token-file", flags.token_file,
                 "token file (default ~/.config/imcli/token-USER@HOST:PORT, written after login)");
  app.add_option("--device", flags.device,
                 "device id (default imcli-<hostname>; one-shot commands add -cli)");
  app.add_flag("--json", flags.json, "print one JSON document");
  app.add_option("--timeout-ms", flags.timeout_ms, "per-request timeout")
      ->check(CLI::PositiveNumber);

  std::string reg_user, reg_password;
  auto* reg =
      app.add_subcommand("register", "create an account (password may come from IMCLI_PASSWORD)");
  reg->add_option("USER", reg_user)->required();
  reg->add_option("PASSWORD", reg_password);

  std::string peer;
  std::vector<std::string> words;
  auto* send = app.add_subcommand("send", "send a text message to PEER");
  send->add_option("PEER", peer, "username (or uid)")->required();
  send->add_option("TEXT", words, "the text (the rest of the line)")->required();

  uint32_t limit = 20;
  uint64_t before = 0, after = 0;
  auto* history = app.add_subcommand("history", "messages with PEER, oldest first");
  history->add_option("PEER", peer)->required();
  history->add_option("--limit,-n", limit, "how many");
  history->add_option("--before", before, "only entries with inbox_seq below this (paging)");
  history->add_option("--after", after, "only entries with inbox_seq above this, oldest first");

  uint32_t conv_limit = 0;
  auto* convs = app.add_subcommand("convs", "conversations, newest activity first");
  convs->add_option("--limit,-n", conv_limit, "how many (0 = server default)");

  auto* read = app.add_subcommand("read", "mark the conversation with PEER read");
  read->add_option("PEER", peer)->required();

  GroupRequest group_request;
  auto* group = app.add_subcommand(
      "group", std::string("group chat: imcli group ACTION [ARGS...]\n") + kGroupActionsHelp);
  group->add_option("ACTION", group_request.action, "create, send, invite, kick, quit, ...")
      ->required();
  group->add_option("ARGS", group_request.args, "the action's arguments");
  group->add_option("--limit,-n", group_request.limit, "history: how many");
  group->add_option("--before", group_request.before, "history: entries with group_seq below");
  group->add_option("--after", group_request.after, "history: entries with group_seq above");

  auto* groups = app.add_subcommand("groups", "my groups with unread counts, newest first");

  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (!parse_server(flags.server, &flags.host, &flags.port)) {
    return usage_error("--server must be HOST:PORT, got '" + flags.server + "'");
  }
  if (flags.password.empty()) {
    if (const char* env = std::getenv("IMCLI_PASSWORD")) flags.password = env;
  }
  if (*reg) {
    if (reg_password.empty()) reg_password = flags.password;
    if (reg_password.empty()) return usage_error("register needs a PASSWORD (or IMCLI_PASSWORD)");
    return run_register(flags, reg_user, reg_password);
  }
  if (*send) return run_send(flags, peer, join(words));
  if (*history) return run_history(flags, peer, limit, before, after);
  if (*convs) return run_convs(flags, conv_limit);
  if (*read) return run_read(flags, peer);
  if (*group) return run_group(flags, group_request);
  if (*groups) return run_groups(flags);
  return run_interactive(flags);
}
