// data_dir.cc - creates or strictly validates a data directory's MANIFEST, names the shard
// directories, routes usernames to shards, and writes files atomically (temp, fsync,
// rename, fsync dir). Runs at startup and for rare admin writes; never on the hot path.
#include "storage/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace im::storage {
namespace {

// 2: inbox, conv_index and group_log in the duplicate-set layout (storage/dup_layout.h).
// 3: the dedup, rdedup and group_dedup tables too. A version 1 or 2 dir is read (its shards
// convert their tables on open) and marked 3 once every shard has opened, so a build that
// predates a layout refuses the dir instead of finding tables empty (an empty dedup table
// would store a resent message twice).
constexpr uint32_t kManifestVersion = 3;
constexpr uint32_t kOldestReadableVersion = 1;
constexpr uint32_t kMaxShards = 1024;  // msg_id has 10 shard bits
constexpr size_t kMaxManifestBytes = 4096;

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// Consumes "<prefix><digits>\n" from *text; digits must fit T exactly (no sign, no spaces).
template <typename T>
bool take_line(std::string_view* text, std::string_view prefix, T* out) {
  if (text->substr(0, prefix.size()) != prefix) return false;
  text->remove_prefix(prefix.size());
  size_t nl = text->find('\n');
  if (nl == std::string_view::npos || nl == 0) return false;
  std::string_view digits = text->substr(0, nl);
  if (digits[0] == '-' || digits[0] == '+') return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  text->remove_prefix(nl + 1);
  return true;
}

bool parse_manifest(std::string_view text, Manifest* out, std::string* error) {
  Manifest m;
  if (!take_line(&text, "imserver-data ", &m.version)) {
    *error = "MANIFEST: first line is not 'imserver-data <version>'";
    return false;
  }
  if (m.version < kOldestReadableVersion || m.version > kManifestVersion) {
    *error = "MANIFEST: unknown version " + std::to_string(m.version);
    return false;
  }
  if (!take_line(&text, "shards ", &m.shards) || m.shards == 0 || m.shards > kMaxShards) {
    *error = "MANIFEST: bad 'shards' line (must be 1.." + std::to_string(kMaxShards) + ")";
    return false;
  }
  if (!take_line(&text, "created_ms ", &m.created_ms) || !text.empty()) {
    *error = "MANIFEST: bad 'created_ms' line or trailing bytes";
    return false;
  }
  *out = m;
  return true;
}

std::string format_manifest(const Manifest& m) {
  return "imserver-data " + std::to_string(m.version) + "\nshards " + std::to_string(m.shards) +
         "\ncreated_ms " + std::to_string(m.created_ms) + "\n";
}

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string parent_dir(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

bool create_manifest(const std::string& data_dir, uint32_t shards, Manifest* out,
                     std::string* error) {
  if (shards == 0 || shards > kMaxShards) {
    *error = "shard count must be 1.." + std::to_string(kMaxShards);
    return false;
  }
  // Shard directories without a manifest mean the manifest was lost: guessing the shard
  // count would route users to the wrong shard, so refuse.
  std::error_code ec;
  if (std::filesystem::exists(shard_dir(data_dir, 0), ec)) {
    *error = data_dir + " has shard directories but no MANIFEST; refusing to guess";
    return false;
  }
  Manifest m;
  m.version = kManifestVersion;
  m.shards = shards;
  m.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  std::string text = format_manifest(m);
  if (!write_file_atomic(data_dir + "/MANIFEST",
                         {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, error)) {
    return false;
  }
  *out = m;
  return true;
}

}  // namespace

bool mark_data_dir_current(const std::string& data_dir, Manifest* m, std::string* error) {
  if (m->version == kManifestVersion) return true;
  Manifest current = *m;
  current.version = kManifestVersion;
  std::string text = format_manifest(current);
  if (!write_file_atomic(data_dir + "/MANIFEST",
                         {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, error)) {
    return false;
  }
  *m = current;
  return true;
}

bool open_data_dir(const std::string& data_dir, uint32_t shards_if_new, Manifest* out,
                   std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    *error = "cannot create " + data_dir + ": " + ec.message();
    return false;
  }
  std::string path = data_dir + "/MANIFEST";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *error = errno_text("cannot stat", path);
      return false;
    }
    return create_manifest(data_dir, shards_if_new, out, error);
  }
  if (!S_ISREG(st.st_mode) || st.st_size > static_cast<off_t>(kMaxManifestBytes)) {
    *error = path + " is not a small regular file";
    return false;
  }
  std::string text;
  if (!read_file(path, &text)) {
    *error = errno_text("cannot read", path);
    return false;
  }
  return parse_manifest(text, out, error);
}

std::string shard_dir(const std::string& data_dir, uint32_t shard) {
  char name[32];
  std::snprintf(name, sizeof(name), "/shard-%03u", shard);
  return data_dir + name;
}

bool write_file_atomic(const std::string& path, std::span<const uint8_t> bytes,
                       std::string* error) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno_text("cannot create", tmp);
    return false;
  }
  bool ok = write_all(fd, bytes.data(), bytes.size());
  if (!ok) *error = errno_text("cannot write", tmp);
  if (ok && ::fsync(fd) != 0) {
    *error = errno_text("cannot fsync", tmp);
    ok = false;
  }
  if (::close(fd) != 0 && ok) {
    *error = errno_text("cannot close", tmp);
    ok = false;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = errno_text("cannot rename to", path);
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  if (!fsync_dir(parent_dir(path))) {
    *error = errno_text("cannot fsync directory of", path);
    return false;
  }
  return true;
}

bool read_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

uint32_t shard_of_username(std::string_view username, uint32_t shards) {
  return static_cast<uint32_t>(XXH64(username.data(), username.size(), 0) % shards);
}

}  // namespace im::storage
