// config_test.cc - parse_config: defaults, every flag, the TOML file, flags over the file,
// unknown keys and wrong types refused with their line, out-of-range values refused with a
// clear message, and --help listing every flag with its default.
#include "core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace im::core {
namespace {

struct Outcome {
  bool ok = false;
  int exit_code = -1;
  Config config;
  std::string out;
  std::string err;
};

Outcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "imserver");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Outcome o;
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  o.ok = parse_config(static_cast<int>(args.size()), argv.data(), &o.config, &o.exit_code);
  o.out = testing::internal::GetCapturedStdout();
  o.err = testing::internal::GetCapturedStderr();
  return o;
}

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() /
             ("im-config-" + std::to_string(getpid()) + "-" + std::to_string(counter_++) + ".toml"))
                .string();
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

// Every setting, as its flag; the TOML key is the same with '_'.
const std::vector<std::string> kAllFlags = {"--bind",
                                            "--port",
                                            "--http-port",
                                            "--workers",
                                            "--pin-workers",
                                            "--data-dir",
                                            "--shards",
                                            "--durability",
                                            "--map-bytes",
                                            "--max-map-bytes",
                                            "--max-frame-bytes",
                                            "--max-text-bytes",
                                            "--max-page-entries",
                                            "--default-page-entries",
                                            "--idle-timeout-ms",
                                            "--max-outbound-bytes",
                                            "--max-unacked-entries",
                                            "--max-unacked-bytes",
                                            "--ack-timeout-ms",
                                            "--max-group-members",
                                            "--max-connections",
                                            "--token-ttl-ms",
                                            "--dedup-window-ms",
                                            "--password-scrypt-n",
                                            "--cross-worker-queue-entries",
                                            "--kdf-queue-entries",
                                            "--max-batch-ops",
                                            "--checkpoint-interval-ms",
                                            "--log-level",
                                            "--config"};

TEST(Config, DefaultsWithoutArguments) {
  Outcome o = parse({});
  ASSERT_TRUE(o.ok) << o.err;
  Config d;
  EXPECT_EQ(o.config.bind, "127.0.0.1");
  EXPECT_EQ(o.config.port, 7700);
  EXPECT_EQ(o.config.http_port, 7780);
  EXPECT_EQ(o.config.workers, 0u);
  EXPECT_EQ(o.config.shards, 16u);
  EXPECT_EQ(o.config.durability, Durability::Sync);
  EXPECT_EQ(o.config.max_frame_bytes, 64u * 1024);
  EXPECT_EQ(o.config.log_level, LogLevel::Info);
  EXPECT_EQ(o.config.token_ttl_ms, d.token_ttl_ms);
  EXPECT_TRUE(o.err.empty()) << o.err;
}

TEST(Config, ZeroArgcIsDefaults) {
  Config c;
  c.port = 1;
  int code = -1;
  char* argv[] = {nullptr};
  EXPECT_TRUE(parse_config(0, argv, &c, &code));
  EXPECT_EQ(c.port, 7700);
}

TEST(Config, Flags) {
  Outcome o = parse({"--port",
                     "9000",
                     "--http-port=0",
                     "--bind",
                     "::1",
                     "--data-dir",
                     "/tmp/x",
                     "--workers",
                     "4",
                     "--shards",
                     "32",
                     "--durability",
                     "nosync",
                     "--log-level",
                     "debug",
                     "--max-frame-bytes",
                     "1048576",
                     "--no-pin-workers",
                     "--token-ttl-ms",
                     "60000",
                     "--map-bytes",
                     "2097152"});
  ASSERT_TRUE(o.ok) << o.err;
  const Config& c = o.config;
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.http_port, 0);
  EXPECT_EQ(c.bind, "::1");
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.workers, 4u);
  EXPECT_EQ(c.shards, 32u);
  EXPECT_EQ(c.durability, Durability::NoSync);
  EXPECT_EQ(c.log_level, LogLevel::Debug);
  EXPECT_EQ(c.max_frame_bytes, 1048576u);
  EXPECT_FALSE(c.pin_workers);
  EXPECT_EQ(c.token_ttl_ms, 60000u);
  EXPECT_EQ(c.map_bytes, 2097152u);
}

TEST(Config, BoolFlagForms) {
  EXPECT_TRUE(parse({"--pin-workers"}).config.pin_workers);
  EXPECT_FALSE(parse({"--no-pin-workers"}).config.pin_workers);
  EXPECT_FALSE(parse({"--pin-workers=false"}).config.pin_workers);
  Outcome o = parse({"--no-pin-workers", "--pin-workers"});
  EXPECT_TRUE(o.ok) << o.err;
}

TEST(Config, TomlFile) {
  ConfigFile file(R"(# imserver settings
port = 9100
http_port = 9180
bind = "0.0.0.0"
data_dir = "/var/lib/im"
workers = 2
pin_workers = false
shards = 8
durability = "nosync"
log_level = "warn"
max_frame_bytes = 131072
idle_timeout_ms = 30000
dedup_window_ms = 3600000
)");
  Outcome o = parse({"--config", file.path()});
  ASSERT_TRUE(o.ok) << o.err;
  const Config& c = o.config;
  EXPECT_EQ(c.port, 9100);
  EXPECT_EQ(c.http_port, 9180);
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_EQ(c.data_dir, "/var/lib/im");
  EXPECT_EQ(c.workers, 2u);
  EXPECT_FALSE(c.pin_workers);
  EXPECT_EQ(c.shards, 8u);
  EXPECT_EQ(c.durability, Durability::NoSync);
  EXPECT_EQ(c.log_level, LogLevel::Warn);
  EXPECT_EQ(c.max_frame_bytes, 131072u);
  EXPECT_EQ(c.idle_timeout_ms, 30000u);
  EXPECT_EQ(c.dedup_window_ms, 3600000u);
  EXPECT_EQ(c.max_text_bytes, Config{}.max_text_bytes) << "unset keys keep their default";
}

TEST(Config, EveryFlagHasATomlKey) {
  // Each setting given in the file with a non-default value must land in the same field as
  // its flag does.
  ConfigFile file(R"(bind = "::"
port = 1
http_port = 2
workers = 3
pin_workers = false
data_dir = "d"
shards = 5
durability = "nosync"
map_bytes = 2097152
max_map_bytes = 3145728
max_frame_bytes = 2048
max_text_bytes = 100
max_page_entries = 7
default_page_entries = 6
idle_timeout_ms = 1000
max_outbound_bytes = 8192
max_unacked_entries = 9
max_unacked_bytes = 2048
ack_timeout_ms = 1500
max_connections = 10
token_ttl_ms = 11000
dedup_window_ms = 12000
password_scrypt_n = 2048
cross_worker_queue_entries = 64
kdf_queue_entries = 14
max_batch_ops = 15
checkpoint_interval_ms = 16
log_level = "error"
)");
  Outcome from_file = parse({"--config", file.path()});
  ASSERT_TRUE(from_file.ok) << from_file.err;
  Outcome from_flags = parse({"--bind",
                              "::",
                              "--port",
                              "1",
                              "--http-port",
                              "2",
                              "--workers",
                              "3",
                              "--no-pin-workers",
                              "--data-dir",
                              "d",
                              "--shards",
                              "5",
                              "--durability",
                              "nosync",
                              "--map-bytes",
                              "2097152",
                              "--max-map-bytes",
                              "3145728",
                              "--max-frame-bytes",
                              "2048",
                              "--max-text-bytes",
                              "100",
                              "--max-page-entries",
                              "7",
                              "--default-page-entries",
                              "6",
                              "--idle-timeout-ms",
                              "1000",
                              "--max-outbound-bytes",
                              "8192",
                              "--max-unacked-entries",
                              "9",
                              "--max-unacked-bytes",
                              "2048",
                              "--ack-timeout-ms",
                              "1500",
                              "--max-connections",
                              "10",
                              "--token-ttl-ms",
                              "11000",
                              "--dedup-window-ms",
                              "12000",
                              "--password-scrypt-n",
                              "2048",
                              "--cross-worker-queue-entries",
                              "64",
                              "--kdf-queue-entries",
                              "14",
                              "--max-batch-ops",
                              "15",
                              "--checkpoint-interval-ms",
                              "16",
                              "--log-level",
                              "error"});
  ASSERT_TRUE(from_flags.ok) << from_flags.err;
  for (const Config* c : {&from_file.config, &from_flags.config}) {
    EXPECT_EQ(c->bind, "::");
    EXPECT_EQ(c->port, 1);
    EXPECT_EQ(c->http_port, 2);
    EXPECT_EQ(c->workers, 3u);
    EXPECT_FALSE(c->pin_workers);
    EXPECT_EQ(c->data_dir, "d");
    EXPECT_EQ(c->shards, 5u);
    EXPECT_EQ(c->durability, Durability::NoSync);
    EXPECT_EQ(c->map_bytes, 2097152u);
    EXPECT_EQ(c->max_map_bytes, 3145728u);
    EXPECT_EQ(c->max_frame_bytes, 2048u);
    EXPECT_EQ(c->max_text_bytes, 100u);
    EXPECT_EQ(c->max_page_entries, 7u);
    EXPECT_EQ(c->default_page_entries, 6u);
    EXPECT_EQ(c->idle_timeout_ms, 1000u);
    EXPECT_EQ(c->max_outbound_bytes, 8192u);
    EXPECT_EQ(c->max_unacked_bytes, 2048u);
    EXPECT_EQ(c->ack_timeout_ms, 1500u);
    EXPECT_EQ(c->max_unacked_entries, 9u);
    EXPECT_EQ(c->max_connections, 10u);
    EXPECT_EQ(c->token_ttl_ms, 11000u);
    EXPECT_EQ(c->dedup_window_ms, 12000u);
    EXPECT_EQ(c->password_scrypt_n, 2048u);
    EXPECT_EQ(c->cross_worker_queue_entries, 64u);
    EXPECT_EQ(c->kdf_queue_entries, 14u);
    EXPECT_EQ(c->max_batch_ops, 15u);
    EXPECT_EQ(c->checkpoint_interval_ms, 16u);
    EXPECT_EQ(c->log_level, LogLevel::Error);
  }
}

TEST(Config, FlagsOverrideFile) {
  ConfigFile file("port = 9100\nworkers = 2\ndurability = \"nosync\"\n");
  Outcome o = parse({"--port", "9200", "--config", file.path(), "--durability", "sync"});
  ASSERT_TRUE(o.ok) << o.err;
  EXPECT_EQ(o.config.port, 9200) << "flag wins, even when given before --config";
  EXPECT_EQ(o.config.durability, Durability::Sync);
  EXPECT_EQ(o.config.workers, 2u) << "file value kept where no flag was given";
}

TEST(Config, UnknownKeyRefusedWithItsLine) {
  ConfigFile file("port = 9100\n\nmax_frame_byte = 1024\n");
  Outcome o = parse({"--config", file.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("max_frame_byte"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("line 3"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("unknown key"), std::string::npos) << o.err;
}

TEST(Config, SectionsAreUnknownKeys) {
  ConfigFile file("port = 9100\n[server]\nport = 1\n");
  Outcome o = parse({"--config", file.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.err.find("server"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("line 2"), std::string::npos) << o.err;
}

TEST(Config, WrongTypeRefusedWithItsLine) {
  struct Case {
    std::string text;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{{"\nport = \"7700\"\n", "expected an integer"},
                                         {"\nport = 7700.0\n", "expected an integer"},
                                         {"\npin_workers = 1\n", "expected true or false"},
                                         {"\nbind = 127\n", "expected a string"},
                                         {"\ndurability = true\n", "expected a string"},
                                         {"\nworkers = [1, 2]\n", "expected an integer"}}) {
    ConfigFile file(c.text);
    Outcome o = parse({"--config", file.path()});
    EXPECT_FALSE(o.ok) << c.text;
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_NE(o.err.find(c.expect), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("line 2"), std::string::npos) << o.err;
  }
}

TEST(Config, TomlSyntaxErrorNamesItsLine) {
  ConfigFile file("port = 9100\nworkers = = 2\n");
  Outcome o = parse({"--config", file.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("line 2"), std::string::npos) << o.err;
}

TEST(Config, MissingFileIsAnError) {
  Outcome o = parse({"--config", "/nonexistent/imserver.toml"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("/nonexistent/imserver.toml"), std::string::npos) << o.err;
}

TEST(Config, BadValuesRefused) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;  // part of the message
  };
  std::vector<Case> cases = {
      {{"--port", "0"}, "--port: 0 is out of range 1..65535"},
      {{"--port", "65536"}, "--port: 65536 is out of range"},
      {{"--port", "-1"}, "--port"},
      {{"--port", "12ab"}, "not a non-negative integer"},
      {{"--port", ""}, "--port"},
      {{"--http-port", "70000"}, "--http-port"},
      {{"--workers", "257"}, "--workers: 257 is out of range 0..256"},
      {{"--shards", "0"}, "--shards: 0 is out of range 1..1024"},
      {{"--shards", "1025"}, "--shards"},
      {{"--max-frame-bytes", "1023"}, "--max-frame-bytes: 1023 is out of range"},
      {{"--max-frame-bytes", "16777217"}, "--max-frame-bytes"},
      {{"--max-frame-bytes", "99999999999999999999999"}, "--max-frame-bytes"},
      {{"--durability", "fast"}, "not a durability mode"},
      {{"--log-level", "verbose"}, "not a log level"},
      {{"--bind", "localhost"}, "not an IPv4 or IPv6 address"},
      {{"--bind", "300.1.1.1"}, "bind"},
      {{"--data-dir", ""}, "must not be empty"},
      {{"--port", "7780"}, "http_port: must differ from port"},
      {{"--map-bytes", "4194304", "--max-map-bytes", "2097152"}, "must not exceed max_map_bytes"},
      {{"--max-text-bytes", "65536"}, "must be smaller than max_frame_bytes"},
      {{"--default-page-entries", "300"}, "must not exceed max_page_entries"},
      {{"--max-outbound-bytes", "4096"}, "must be at least max_frame_bytes"},
      {{"--pin-workers=maybe"}, "pin-workers"},
      {{"--no-such-flag"}, "no-such-flag"},
      {{"stray-positional"}, "stray-positional"},
      {{"--port"}, "--port"},
  };
  for (const Case& c : cases) {
    Outcome o = parse(c.args);
    EXPECT_FALSE(o.ok) << c.args[0];
    EXPECT_EQ(o.exit_code, 2) << c.args[0];
    EXPECT_NE(o.err.find(c.expect), std::string::npos) << c.args[0] << ": " << o.err;
  }
}

TEST(Config, PasswordScryptNIsAPowerOfTwoInRange) {
  EXPECT_EQ(parse({}).config.password_scrypt_n, 16384u);
  for (uint32_t n : {1024u, 2048u, 16384u, 131072u}) {
    Outcome o = parse({"--password-scrypt-n", std::to_string(n)});
    EXPECT_TRUE(o.ok) << n << ": " << o.err;
    EXPECT_EQ(o.config.password_scrypt_n, n);
  }
  struct Case {
    std::string value;
    std::string expect;  // part of the message
  };
  for (const Case& c :
       std::vector<Case>{{"512", "--password-scrypt-n: 512 is out of range 1024..131072"},
                         {"0", "--password-scrypt-n: 0 is out of range"},
                         {"262144", "--password-scrypt-n: 262144 is out of range"},
                         {"1536", "password_scrypt_n: 1536 is not a power of two"},
                         {"16383", "password_scrypt_n: 16383 is not a power of two"},
                         {"131071", "password_scrypt_n: 131071 is not a power of two"},
                         {"fast", "not a non-negative integer"}}) {
    Outcome o = parse({"--password-scrypt-n", c.value});
    EXPECT_FALSE(o.ok) << c.value;
    EXPECT_EQ(o.exit_code, 2) << c.value;
    EXPECT_NE(o.err.find(c.expect), std::string::npos) << c.value << ": " << o.err;
  }
  ConfigFile file("port = 1\npassword_scrypt_n = 3000\n");
  Outcome o = parse({"--config", file.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.err.find("password_scrypt_n: 3000 is not a power of two"), std::string::npos)
      << o.err;
}

TEST(Config, BadValueInFileRefusedWithItsLine) {
  ConfigFile file("port = 1\nshards = 5000\n");
  Outcome o = parse({"--config", file.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.err.find("line 2"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("5000 is out of range 1..1024"), std::string::npos) << o.err;
  ConfigFile negative("workers = -1\n");
  o = parse({"--config", negative.path()});
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.err.find("-1 is out of range"), std::string::npos) << o.err;
}

TEST(Config, FailureLeavesOutputUntouched) {
  Config c;
  c.port = 1234;
  int code = -1;
  std::string a0 = "imserver", a1 = "--port", a2 = "0";
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  testing::internal::CaptureStderr();
  EXPECT_FALSE(parse_config(3, argv, &c, &code));
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(c.port, 1234);
  EXPECT_EQ(code, 2);
}

TEST(Config, HelpListsEveryFlagWithDefaultAndUnit) {
  Outcome o = parse({"--help"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.exit_code, 0);
  for (const auto& flag : kAllFlags) {
    EXPECT_NE(o.out.find(flag), std::string::npos) << flag << " missing from:\n" << o.out;
  }
  EXPECT_NE(o.out.find("[1..65535 port, default: 7700]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[1024..16777216 bytes, default: 65536]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[100..86400000 ms, default: 60000]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[default: sync]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[default: ./data]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[default: true]"), std::string::npos) << o.out;
  EXPECT_TRUE(o.err.empty()) << o.err;
  EXPECT_EQ(parse({"-h"}).exit_code, 0);
}

}  // namespace
}  // namespace im::core
