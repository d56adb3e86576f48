// record_codec.h - byte encoding of the rows of storage/records.h and storage/group_records.h.
// Every value is a version byte (kRecordVersion) then fixed little-endian fields; strings are
// a u32 length then bytes. Decoding is strict: a wrong version, a short or over-long value or
// an out-of-range enum yields nullopt, never a crash. Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "storage/group_records.h"
#include "storage/records.h"

namespace im::storage {

constexpr uint8_t kRecordVersion = 1;

// Sizes of the fixed-size rows (version byte included).
constexpr size_t kDeviceRecordBytes = 1 + 8 + 8 + 1;
constexpr size_t kConvRecordBytes = 1 + 8 + 8 + 4 + 1 + 8;
constexpr size_t kDedupRecordBytes = 1 + 8 + 8 + 8;
constexpr size_t kMemberRecordBytes = 1 + 1 + 8 + 8 + 8 + 8 + 1 + 1 + 8;
constexpr size_t kUserGroupRecordBytes = 1 + 1 + 8;

// encode_* write exactly *_bytes(record) bytes at out.
size_t user_record_bytes(const UserRecord& user);
void encode_user(const UserRecord& user, uint8_t* out);
void encode_device(const DeviceRecord& device, uint8_t* out);
void encode_conv(const ConvRecord& conv, uint8_t* out);
void encode_dedup(const DedupRecord& rec, uint8_t* out);
size_t group_record_bytes(const GroupRecord& group);
void encode_group(const GroupRecord& group, uint8_t* out);
void encode_member(const MemberRecord& member, uint8_t* out);
void encode_user_group(const UserGroupRecord& rec, uint8_t* out);

std::optional<UserRecord> decode_user(std::span<const uint8_t> bytes);
std::optional<DeviceRecord> decode_device(std::span<const uint8_t> bytes);
std::optional<ConvRecord> decode_conv(std::span<const uint8_t> bytes);
std::optional<DedupRecord> decode_dedup(std::span<const uint8_t> bytes);
std::optional<GroupRecord> decode_group(std::span<const uint8_t> bytes);
std::optional<MemberRecord> decode_member(std::span<const uint8_t> bytes);
std::optional<UserGroupRecord> decode_user_group(std::span<const uint8_t> bytes);

}  // namespace im::storage
