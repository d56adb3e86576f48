// config.cc - fills Config from defaults, then the TOML file (--config), then flags.
// One table (kFields) names every setting once: its TOML key (the flag is the same with
// dashes), its bounds, unit and help. Runs once at startup on the main thread; exceptions
// from CLI11 and toml++ are caught here and never reach the caller.
#include "core/config.h"

#include <arpa/inet.h>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <array>
#include <charconv>
#include <iostream>
#include <optional>
#include <string_view>
#include <variant>

#include "core/password_hash.h"

namespace im::core {

namespace {

using Target =
    std::variant<std::string Config::*, uint16_t Config::*, uint32_t Config::*, uint64_t Config::*,
                 bool Config::*, Durability Config::*, LogLevel Config::*>;

struct Field {
  std::string_view key;  // TOML key; the flag is "--" + key with '_' -> '-'
  Target target;
  uint64_t min = 0;  // integers only, inclusive
  uint64_t max = 0;
  std::string_view unit;  // integers: what the number counts
  std::string_view help;
};

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kTiB = 1024 * kGiB;
constexpr uint64_t kDayMs = 24ull * 3600 * 1000;
static_assert(Config{}.password_scrypt_n == kDefaultScryptN, "one default for the scrypt cost");

// clang-format off
const std::array kFields = {
  Field{"bind", &Config::bind, 0, 0, "", "address to listen on (an IPv4 or IPv6 literal)"},
  Field{"port", &Config::port, 1, 65535, "port", "TCP port for native clients"},
  Field{"http_port", &Config::http_port, 0, 65535, "port",
        "HTTP/WebSocket port; 0 disables the bridge"},
  Field{"workers", &Config::workers, 0, 256, "threads", "worker threads; 0 = one per CPU"},
  Field{"pin_workers", &Config::pin_workers, 0, 0, "", "pin each worker thread to one CPU"},
  Field{"data_dir", &Config::data_dir, 0, 0, "", "data directory (created when absent)"},
  Field{"shards", &Config::shards, 1, 1024, "shards",
        "shards of a new data directory; an existing one keeps its own count"},
  Field{"durability", &Config::durability, 0, 0, "",
        "sync: ack only after the commit is on disk; nosync: benchmarks only, a crash can "
        "lose acknowledged messages"},
  Field{"map_bytes", &Config::map_bytes, kMiB, 16 * kTiB, "bytes", "initial LMDB map per shard"},
  Field{"max_map_bytes", &Config::max_map_bytes, kMiB, 16 * kTiB, "bytes",
        "the LMDB map of a shard grows up to this"},
  Field{"max_frame_bytes", &Config::max_frame_bytes, kKiB, 16 * kMiB, "bytes",
        "largest frame accepted or sent"},
  Field{"max_text_bytes", &Config::max_text_bytes, 1, 16 * kMiB, "bytes",
        "largest message text"},
  Field{"max_page_entries", &Config::max_page_entries, 1, 10000, "entries",
        "largest sync / history / conversation list page"},
  Field{"default_page_entries", &Config::default_page_entries, 1, 10000, "entries",
        "page size when a request asks for 0"},
  Field{"idle_timeout_ms", &Config::idle_timeout_ms, 100, kDayMs, "ms",
        "a connection with no frame for this long is closed"},
  Field{"max_outbound_bytes", &Config::max_outbound_bytes, kKiB, kGiB, "bytes",
        "write backlog per connection before it is dropped as a slow consumer"},
  Field{"max_unacked_entries", &Config::max_unacked_entries, 1, 1000000, "entries",
        "pushed but unacknowledged entries per device"},
  Field{"max_unacked_bytes", &Config::max_unacked_bytes, kKiB, kGiB, "bytes",
        "bytes of pushed but unacknowledged entries per device"},
  Field{"ack_timeout_ms", &Config::ack_timeout_ms, 100, kDayMs, "ms",
        "a device with unacknowledged pushes and no ack for this long is disconnected"},
  Field{"max_connections", &Config::max_connections, 1, 1000000, "connections",
        "open client connections per process"},
  Field{"max_group_members", &Config::max_group_members, 2, 1000000, "members",
        "current members of one group"},
  Field{"token_ttl_ms", &Config::token_ttl_ms, 1000, 366 * kDayMs, "ms",
        "lifetime of a login token"},
  Field{"dedup_window_ms", &Config::dedup_window_ms, 1000, 366 * kDayMs, "ms",
        "how long a client_msg_id is remembered for resends"},
  Field{"password_scrypt_n", &Config::password_scrypt_n, kMinScryptN, kMaxScryptN, "N",
        "scrypt N of new password hashes, a power of two (r = 8: N KiB of memory each); "
        "below the default for benchmarks and tests only"},
  Field{"cross_worker_queue_entries", &Config::cross_worker_queue_entries, 16, 1ull << 24,
        "entries", "capacity of each queue between two workers"},
  Field{"kdf_queue_entries", &Config::kdf_queue_entries, 1, 1ull << 20, "entries",
        "password hashing jobs waiting per worker"},
  Field{"max_batch_ops", &Config::max_batch_ops, 1, 1ull << 24, "operations",
        "writes per shard per commit"},
  Field{"checkpoint_interval_ms", &Config::checkpoint_interval_ms, 10, 60000, "ms",
        "longest a committed write waits before it is applied to the keyed tables"},
  Field{"log_level", &Config::log_level, 0, 0, "", "least severe log lines written"},
};
// clang-format on

std::string flag_of(const Field& f) {
  std::string flag = "--" + std::string(f.key);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

const char* durability_name(Durability d) {
  return d == Durability::Sync ? "sync" : "nosync";
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

std::optional<Durability> parse_durability(std::string_view s) {
  if (s == "sync") return Durability::Sync;
  if (s == "nosync") return Durability::NoSync;
  return std::nullopt;
}

std::optional<LogLevel> parse_log_level(std::string_view s) {
  for (auto level : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    if (s == log_level_name(level)) return level;
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The current value of a field as text (used for defaults in --help).
std::string value_text(const Config& c, const Field& f) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = c.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>)
          return v;
        else if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, Durability>)
          return durability_name(v);
        else if constexpr (std::is_same_v<T, LogLevel>)
          return log_level_name(v);
        else
          return std::to_string(v);
      },
      f.target);
}

bool is_integer_field(const Field& f) {
  return std::holds_alternative<uint16_t Config::*>(f.target) ||
         std::holds_alternative<uint32_t Config::*>(f.target) ||
         std::holds_alternative<uint64_t Config::*>(f.target);
}

bool is_bool_field(const Field& f) {
  return std::holds_alternative<bool Config::*>(f.target);
}

// "<help> [<min>..<max> <unit>, default: <value>]"
std::string help_text(const Field& f) {
  std::string text = std::string(f.help) + " [";
  if (is_integer_field(f)) {
    text += std::to_string(f.min) + ".." + std::to_string(f.max) + " " + std::string(f.unit) + ", ";
  }
  return text + "default: " + value_text(Config{}, f) + "]";
}

std::string type_name(const Field& f) {
  if (is_integer_field(f)) return "UINT";
  if (std::holds_alternative<Durability Config::*>(f.target)) return "sync|nosync";
  if (std::holds_alternative<LogLevel Config::*>(f.target)) return "debug|info|warn|error";
  return f.key == "bind" ? "ADDRESS" : "PATH";
}

// Sets an integer field after checking its bounds. `where` names the source for errors.
bool set_uint(Config& c, const Field& f, uint64_t v, const std::string& where, std::string* error) {
  if (v < f.min || v > f.max) {
    *error = where + ": " + std::to_string(v) + " is out of range " + std::to_string(f.min) + ".." +
             std::to_string(f.max) + " (" + std::string(f.unit) + ")";
    return false;
  }
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(c.*member)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          c.*member = static_cast<T>(v);
        }
      },
      f.target);
  return true;
}

bool set_string(Config& c, const Field& f, std::string_view s, const std::string& where,
                std::string* error) {
  auto bad = [&](const std::string& why) {
    *error = where + ": '" + std::string(s) + "' " + why;
    return false;
  };
  if (auto* m = std::get_if<Durability Config::*>(&f.target)) {
    auto d = parse_durability(s);
    if (!d) return bad("is not a durability mode (sync or nosync)");
    c.** m = *d;
  } else if (auto* m = std::get_if<LogLevel Config::*>(&f.target)) {
    auto level = parse_log_level(s);
    if (!level) return bad("is not a log level (debug, info, warn or error)");
    c.** m = *level;
  } else if (auto* m = std::get_if<std::string Config::*>(&f.target)) {
    if (s.empty()) return bad("must not be empty");
    if (s.size() > 4000) return bad("is too long");
    c.** m = std::string(s);
  } else {
    return bad("internal error: not a text setting");
  }
  return true;
}

// Sets a field from command-line text.
bool set_from_text(Config& c, const Field& f, const std::string& text, std::string* error) {
  std::string where = flag_of(f);
  if (is_integer_field(f)) {
    auto v = parse_uint(text);
    if (!v) {
      *error =
          where + ": '" + text + "' is not a non-negative integer (" + std::string(f.unit) + ")";
      return false;
    }
    return set_uint(c, f, *v, where, error);
  }
  if (is_bool_field(f)) {
    auto b = parse_bool(text);
    if (!b) {
      *error = where + ": '" + text + "' is not true or false";
      return false;
    }
    c.*std::get<bool Config::*>(f.target) = *b;
    return true;
  }
  return set_string(c, f, text, where, error);
}

std::string toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Sets a field from a TOML value, refusing a value of the wrong type.
bool set_from_toml(Config& c, const Field& f, const toml::node& node, const std::string& where,
                   std::string* error) {
  auto wrong_type = [&](const char* expected) {
    *error = where + ": expected " + expected + ", got " + toml_type_name(node.type());
    return false;
  };
  if (is_integer_field(f)) {
    if (!node.is_integer()) return wrong_type("an integer");
    int64_t v = node.as_integer()->get();
    if (v < 0) {
      *error = where + ": " + std::to_string(v) + " is out of range " + std::to_string(f.min) +
               ".." + std::to_string(f.max) + " (" + std::string(f.unit) + ")";
      return false;
    }
    return set_uint(c, f, static_cast<uint64_t>(v), where, error);
  }
  if (is_bool_field(f)) {
    if (!node.is_boolean()) return wrong_type("true or false");
    c.*std::get<bool Config::*>(f.target) = node.as_boolean()->get();
    return true;
  }
  if (!node.is_string()) return wrong_type("a string");
  return set_string(c, f, node.as_string()->get(), where, error);
}

const Field* find_field(std::string_view key) {
  for (const Field& f : kFields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

bool load_toml(const std::string& path, Config& c, std::string* error) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    *error = "config file " + path;
    if (at.line > 0) {
      *error += " line " + std::to_string(at.line) + ", column " + std::to_string(at.column);
    }
    *error += ": " + std::string(e.description());
    return false;
  }
  for (auto&& [key, node] : table) {
    std::string where = "config file " + path + " line " + std::to_string(key.source().begin.line) +
                        ": " + std::string(key.str());
    const Field* f = find_field(key.str());
    if (f == nullptr) {
      *error = where + ": unknown key (settings are flat keys such as max_frame_bytes = 65536)";
      return false;
    }
    if (!set_from_toml(c, *f, node, where, error)) return false;
  }
  return true;
}

// Rules that involve more than one field, or more than a range.
bool check_config(const Config& c, std::string* error) {
  in6_addr addr;
  if (inet_pton(AF_INET, c.bind.c_str(), &addr) != 1 &&
      inet_pton(AF_INET6, c.bind.c_str(), &addr) != 1) {
    *error = "bind: '" + c.bind + "' is not an IPv4 or IPv6 address";
  } else if (c.http_port != 0 && c.http_port == c.port) {
    *error = "http_port: must differ from port (" + std::to_string(c.port) + ")";
  } else if (c.map_bytes > c.max_map_bytes) {
    *error = "map_bytes (" + std::to_string(c.map_bytes) + ") must not exceed max_map_bytes (" +
             std::to_string(c.max_map_bytes) + ")";
  } else if (c.max_text_bytes >= c.max_frame_bytes) {
    *error = "max_text_bytes (" + std::to_string(c.max_text_bytes) +
             ") must be smaller than max_frame_bytes (" + std::to_string(c.max_frame_bytes) + ")";
  } else if (c.default_page_entries > c.max_page_entries) {
    *error = "default_page_entries (" + std::to_string(c.default_page_entries) +
             ") must not exceed max_page_entries (" + std::to_string(c.max_page_entries) + ")";
  } else if (c.max_outbound_bytes < c.max_frame_bytes) {
    *error = "max_outbound_bytes (" + std::to_string(c.max_outbound_bytes) +
             ") must be at least max_frame_bytes (" + std::to_string(c.max_frame_bytes) + ")";
  } else if ((c.password_scrypt_n & (c.password_scrypt_n - 1)) != 0) {
    *error = "password_scrypt_n: " + std::to_string(c.password_scrypt_n) +
             " is not a power of two (1024, 2048, ..., 16384, ..., 131072)";
  } else if (uint64_t(c.max_unacked_bytes) + 2ull * c.max_frame_bytes > c.max_outbound_bytes) {
    // Pushes stop at max_unacked_bytes plus one page; results need room beside them.
    *error = "max_unacked_bytes (" + std::to_string(c.max_unacked_bytes) +
             ") plus two max_frame_bytes must fit in max_outbound_bytes (" +
             std::to_string(c.max_outbound_bytes) + ")";
  } else {
    return true;
  }
  return false;
}

// What the command line said, before it is applied over the file.
struct Flags {
  std::string config_path;
  std::array<std::string, kFields.size()> text;
  std::array<bool, kFields.size()> flag{};
  std::array<CLI::Option*, kFields.size()> options{};
};

void add_options(CLI::App& app, Flags& flags) {
  app.add_option("--config", flags.config_path,
                 "TOML file with the same settings as flat keys (max_frame_bytes = 65536); "
                 "flags override it")
      ->type_name("FILE");
  for (size_t i = 0; i < kFields.size(); ++i) {
    const Field& f = kFields[i];
    std::string flag = flag_of(f);
    if (is_bool_field(f)) {
      std::string names = flag + ",!--no-" + flag.substr(2);
      flags.options[i] = app.add_flag(names, flags.flag[i], help_text(f));
    } else {
      flags.options[i] = app.add_option(flag, flags.text[i], help_text(f));
      flags.options[i]->type_name(type_name(f));
    }
  }
}

bool apply_flags(const Flags& flags, Config& c, std::string* error) {
  for (size_t i = 0; i < kFields.size(); ++i) {
    if (flags.options[i]->count() == 0) continue;
    const Field& f = kFields[i];
    if (is_bool_field(f)) {
      c.*std::get<bool Config::*>(f.target) = flags.flag[i];
    } else if (!set_from_text(c, f, flags.text[i], error)) {
      return false;
    }
  }
  return true;
}

// Returns 0 after --help, 2 after an error (printed), -1 when `out` was filled.
int parse_or_exit_code(int argc, char** argv, Config* out) {
  CLI::App app(
      "imserver: a thread-per-core instant-messaging server.\n"
      "Settings come from defaults, then --config FILE, then flags (flags win).",
      "imserver");
  Flags flags;
  add_options(app, flags);
  std::string error;
  try {
    const char* fallback[] = {"imserver"};
    if (argc > 0) {
      app.parse(argc, argv);
    } else {
      app.parse(1, fallback);
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::cout << app.help();
      return 0;
    }
    error = e.what();
  }
  Config c;
  if (error.empty() && !flags.config_path.empty()) load_toml(flags.config_path, c, &error);
  if (error.empty()) apply_flags(flags, c, &error);
  if (error.empty()) check_config(c, &error);
  if (!error.empty()) {
    std::cerr << "imserver: " << error << "\nRun with --help for the list of settings.\n";
    return 2;
  }
  *out = std::move(c);
  return -1;
}

}  // namespace

bool parse_config(int argc, char** argv, Config* out, int* exit_code) {
  try {
    int code = parse_or_exit_code(argc, argv, out);
    if (code < 0) return true;
    *exit_code = code;
  } catch (const std::exception& e) {
    std::cerr << "imserver: cannot read the configuration: " << e.what() << "\n";
    *exit_code = 2;
  } catch (...) {
    std::cerr << "imserver: cannot read the configuration\n";
    *exit_code = 2;
  }
  return false;
}

}  // namespace im::core
