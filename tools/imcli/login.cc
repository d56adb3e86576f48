// login.cc - how imcli gets a session: --password / IMCLI_PASSWORD, else the token saved
// by an earlier login (~/.config/imcli/token-USER@HOST:PORT, mode 0600), and saving the
// new token after every successful login. Also server address and device id defaults.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "tools/imcli/imcli.h"

namespace imcli {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

void make_dirs(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    ::mkdir(path.substr(0, at).c_str(), 0700);
  }
}

// Written to a temporary name and renamed, so a crash never leaves half a token.
bool save_token(const std::string& path, const std::string& token) {
  make_dirs(path);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::fchmod(fd, 0600) == 0 && ok;
  ::close(fd);
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int report(const Status& status) {
  std::cerr << "error: " << im::client::status_name(status.code) << " ("
            << static_cast<int>(status.code) << "): " << status.reason << "\n";
  return im::client::status_is_transport(status.code) ? kExitConnection : kExitServer;
}

int usage_error(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitUsage;
}

bool parse_server(const std::string& server, std::string* host, uint16_t* port) {
  size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == server.size()) return false;
  std::string h = server.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  char* end = nullptr;
  unsigned long p = std::strtoul(server.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p == 0 || p > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

std::string default_device_id(const char* suffix) {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) std::snprintf(name, sizeof(name), "host");
  std::string id = std::string("imcli-") + name + suffix;
  return id.substr(0, 64);
}

std::string default_token_path(const Flags& flags) {
  if (!flags.token_file.empty()) return flags.token_file;
  std::string dir;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    dir = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::string(home) + "/.config";
  } else {
    dir = ".";
  }
  return dir + "/imcli/token-" + lower(flags.user) + "@" + flags.host + ":" +
         std::to_string(flags.port);
}

im::client::ClientOptions client_options(const Flags& flags, const char* device_suffix) {
  im::client::ClientOptions options;
  options.device_id = flags.device.empty() ? default_device_id(device_suffix) : flags.device;
  options.platform = im::proto::Platform::Cli;
  options.client_version = "imcli/0.1";
  options.request_timeout_ms = flags.timeout_ms;
  options.connect_timeout_ms = std::min<uint32_t>(flags.timeout_ms, 5000);
  return options;
}

int connect_and_login(Client& client, const Flags& flags) {
  if (flags.user.empty()) return usage_error("--user is required for this command");
  std::string token_path = default_token_path(flags);
  std::string token = flags.password.empty() ? read_token(token_path) : std::string();
  if (flags.password.empty() && token.empty()) {
    return usage_error(
        "no password: pass --password, set IMCLI_PASSWORD, or log in once to save "
        "a token (" +
        token_path + ")");
  }
  if (Status s = client.connect(flags.host, flags.port); !s.ok()) return report(s);
  auto login = flags.password.empty() ? client.login_token(token)
                                      : client.login_password(flags.user, flags.password);
  if (!login.ok()) {
    Status status = login.status();
    if (flags.password.empty()) status.reason += " (saved token " + token_path + ")";
    return report(status);
  }
  if (!login->token.empty() && !save_token(token_path, login->token)) {
    std::cerr << "warning: could not save the token to " << token_path << "\n";
  }
  return kExitOk;
}

}  // namespace imcli
