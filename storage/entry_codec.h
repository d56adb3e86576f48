// entry_codec.h - the stored form of inbox and group log entries in the tables (the log,
// the overlay, pushes and replies all carry the wire form, an InboxEntry FlatBuffer).
//
// A chat message's FlatBuffer spends ~150 of its bytes on vtables, offsets, padding and
// fixed 8-byte integers (256 bytes for 100 bytes of text). The stored form is a format byte
// and then either the wire bytes unchanged (format 0: read events, group events, anything
// this codec does not know field by field) or, for a Message with text or no content, a
// bitmask of the fields that are set and their values as varints (format 1: ~125 bytes for
// the same message). Reads rebuild an equivalent FlatBuffer (same fields and values, not
// necessarily the same bytes).
//
// A wire entry carrying a field this codec does not know (a newer schema) is stored in format
// 0, so nothing is ever dropped; adding a field to Message means teaching this codec about it
// (a new mask bit) to keep such messages compact.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "storage/entry_writer.h"

namespace im::storage::entry_codec {

using Bytes = std::span<const uint8_t>;

constexpr uint8_t kFormatWire = 0;
constexpr uint8_t kFormatCompactMessage = 1;

// out = the stored form of wire (an InboxEntry FlatBuffer).
void encode(Bytes wire, std::vector<uint8_t>& out);

// The wire form of a stored entry: a view into stored (format 0) or into out (format 1, valid
// until out is used again; storage/entry_writer.h). nullopt if stored is damaged or of an
// unknown format.
std::optional<Bytes> decode(Bytes stored, EntryBuffer& out);

}  // namespace im::storage::entry_codec
