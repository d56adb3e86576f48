// record_codec.cc - encodes and strictly decodes the typed rows (see record_codec.h), those of
// storage/records.h and of storage/group_records.h.
#include "storage/record_codec.h"

#include <cstring>
#include <string>

#include "storage/storage_assert.h"

namespace im::storage {
namespace {

class Writer {
 public:
  explicit Writer(uint8_t* out) : p_(out) {}
  template <typename T>
  void le(T v) {
    auto u = static_cast<uint64_t>(v);
    for (size_t i = 0; i < sizeof(T); ++i) *p_++ = static_cast<uint8_t>(u >> (8 * i));
  }
  void str(const std::string& s) {
    IM_ASSERT(s.size() <= UINT32_MAX);
    le(static_cast<uint32_t>(s.size()));
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

 private:
  uint8_t* p_;
};

// Reads fields in order; any read past the end sets a sticky failure and yields zeros.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  T le() {
    if (!take(sizeof(T))) return T{};
    uint64_t u = 0;
    for (size_t i = 0; i < sizeof(T); ++i) u |= uint64_t{bytes_[pos_ - sizeof(T) + i]} << (8 * i);
    return static_cast<T>(u);
  }
  std::string str() {
    auto len = le<uint32_t>();
    if (!take(len)) return {};
    return std::string(reinterpret_cast<const char*>(bytes_.data() + pos_ - len), len);
  }
  // True when every read succeeded and consumed the value exactly.
  bool done() const { return ok_ && pos_ == bytes_.size(); }

 private:
  bool take(size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool starts_with_version(std::span<const uint8_t> bytes) {
  return !bytes.empty() && bytes[0] == kRecordVersion;
}

uint8_t flag(bool b) {
  return b ? 1 : 0;
}

}  // namespace

size_t user_record_bytes(const UserRecord& user) {
  return 1 + 8 + 1 + 8 + 4 + user.username.size() + 4 + user.password_hash.size();
}

void encode_user(const UserRecord& user, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(user.uid);
  w.le(static_cast<uint8_t>(user.status));
  w.le(user.created_ms);
  w.str(user.username);
  w.str(user.password_hash);
}

void encode_device(const DeviceRecord& device, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(device.acked_inbox_seq);
  w.le(device.last_seen_ms);
  w.le(device.platform);
}

void encode_conv(const ConvRecord& conv, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(conv.last_inbox_seq);
  w.le(conv.read_inbox_seq);
  w.le(conv.unread);
  w.le(static_cast<uint8_t>(conv.muted ? 1 : 0));
  w.le(conv.updated_ms);
}

void encode_dedup(const DedupRecord& rec, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(rec.msg_id);
  w.le(rec.inbox_seq);
  w.le(rec.server_time_ms);
}

std::optional<UserRecord> decode_user(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  UserRecord user;
  user.uid = r.le<uint64_t>();
  auto status = r.le<uint8_t>();
  user.created_ms = r.le<int64_t>();
  user.username = r.str();
  user.password_hash = r.str();
  if (!r.done() || status > static_cast<uint8_t>(UserStatus::Deleted)) return std::nullopt;
  user.status = static_cast<UserStatus>(status);
  return user;
}

std::optional<DeviceRecord> decode_device(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  DeviceRecord device;
  device.acked_inbox_seq = r.le<uint64_t>();
  device.last_seen_ms = r.le<int64_t>();
  device.platform = r.le<uint8_t>();
  if (!r.done()) return std::nullopt;
  return device;
}

std::optional<ConvRecord> decode_conv(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  ConvRecord conv;
  conv.last_inbox_seq = r.le<uint64_t>();
  conv.read_inbox_seq = r.le<uint64_t>();
  conv.unread = r.le<uint32_t>();
  auto muted = r.le<uint8_t>();
  conv.updated_ms = r.le<int64_t>();
  if (!r.done() || muted > 1) return std::nullopt;
  conv.muted = muted == 1;
  return conv;
}

std::optional<DedupRecord> decode_dedup(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  DedupRecord rec;
  rec.msg_id = r.le<uint64_t>();
  rec.inbox_seq = r.le<uint64_t>();
  rec.server_time_ms = r.le<int64_t>();
  if (!r.done()) return std::nullopt;
  return rec;
}

// ---- group rows ----

size_t group_record_bytes(const GroupRecord& group) {
  return 1 + 8 + 8 + 8 + 4 + 1 + 8 + 8 + 4 + group.name.size() + 4 + group.announcement.size();
}

void encode_group(const GroupRecord& group, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(group.gid);
  w.le(group.owner_uid);
  w.le(group.last_group_seq);
  w.le(group.member_count);
  w.le(flag(group.dismissed));
  w.le(group.created_ms);
  w.le(group.updated_ms);
  w.str(group.name);
  w.str(group.announcement);
}

void encode_member(const MemberRecord& member, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(static_cast<uint8_t>(member.role));
  w.le(member.join_seq);
  w.le(member.leave_seq);
  w.le(member.read_seq);
  w.le(member.mention_seq);
  w.le(flag(member.muted));
  w.le(flag(member.do_not_disturb));
  w.le(member.joined_ms);
}

void encode_user_group(const UserGroupRecord& rec, uint8_t* out) {
  Writer w(out);
  w.le(kRecordVersion);
  w.le(flag(rec.member));
  w.le(rec.join_seq);
}

std::optional<GroupRecord> decode_group(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  GroupRecord group;
  group.gid = r.le<uint64_t>();
  group.owner_uid = r.le<uint64_t>();
  group.last_group_seq = r.le<uint64_t>();
  group.member_count = r.le<uint32_t>();
  auto dismissed = r.le<uint8_t>();
  group.created_ms = r.le<int64_t>();
  group.updated_ms = r.le<int64_t>();
  group.name = r.str();
  group.announcement = r.str();
  if (!r.done() || dismissed > 1) return std::nullopt;
  group.dismissed = dismissed == 1;
  return group;
}

std::optional<MemberRecord> decode_member(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  MemberRecord member;
  auto role = r.le<uint8_t>();
  member.join_seq = r.le<uint64_t>();
  member.leave_seq = r.le<uint64_t>();
  member.read_seq = r.le<uint64_t>();
  member.mention_seq = r.le<uint64_t>();
  auto muted = r.le<uint8_t>();
  auto do_not_disturb = r.le<uint8_t>();
  member.joined_ms = r.le<int64_t>();
  if (!r.done() || role > static_cast<uint8_t>(GroupRole::Owner) || muted > 1 ||
      do_not_disturb > 1) {
    return std::nullopt;
  }
  member.role = static_cast<GroupRole>(role);
  member.muted = muted == 1;
  member.do_not_disturb = do_not_disturb == 1;
  return member;
}

std::optional<UserGroupRecord> decode_user_group(std::span<const uint8_t> bytes) {
  if (!starts_with_version(bytes)) return std::nullopt;
  Reader r(bytes.subspan(1));
  UserGroupRecord rec;
  auto member = r.le<uint8_t>();
  rec.join_seq = r.le<uint64_t>();
  if (!r.done() || member > 1) return std::nullopt;
  rec.member = member == 1;
  return rec;
}

}  // namespace im::storage
