// overlay.cc - publishing log records into the read overlay and dropping applied generations.
#include "storage/overlay.h"

#include <xxhash.h>

#include <utility>

namespace im::storage {
namespace {

std::string_view group_key(Table t, Bytes key) {
  size_t n = std::min(key.size(), overlay_prefix_bytes(t));
  return {reinterpret_cast<const char*>(key.data()), n};
}

template <size_t... I>
auto make_tables(std::pmr::memory_resource* r, std::index_sequence<I...>) {
  using Map = std::pmr::unordered_map<std::string_view, Overlay::Rows, Overlay::GroupHash>;
  return std::array<Map, sizeof...(I)>{((void)I, Map(r))...};
}

}  // namespace

size_t overlay_prefix_bytes(Table t) {
  switch (t) {
    case Table::Inbox:       // (uid, seq): read_inbox, last_inbox_seq
    case Table::Convs:       // (uid, peer): list_convs
    case Table::Members:     // (gid, uid): list_members
    case Table::UserGroups:  // (uid, gid): list_user_groups
    case Table::GroupLog:    // (gid, seq): read_group_log, last_group_seq
    case Table::Users:
    case Table::Groups:
    // Point lookups only, but grouped by uid all the same: one user's rows arrive in key
    // order (client_msg_ids increase), so they append to a few hot groups.
    case Table::Devices:
    case Table::Dedup:
    case Table::Rdedup:
      return 8;
    case Table::ConvIndex:   // (uid, peer, seq): read_conv_index, count_incoming
    case Table::GroupDedup:  // (gid, sender, client_msg_id): point lookups
      return 16;
    case Table::Outbox:  // (position): read whole at start
      return 0;
    case Table::UsersByName:
    case Table::Meta:
      return SIZE_MAX;  // point lookups only
  }
  return SIZE_MAX;
}

size_t Overlay::GroupHash::operator()(std::string_view k) const {
  if (k.size() == 8 || k.size() == 16) {  // a uid/gid, or (uid, peer): mix the words
    uint64_t a, b = 0;
    std::memcpy(&a, k.data(), 8);
    if (k.size() == 16) std::memcpy(&b, k.data() + 8, 8);
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return size_t(h ^ (h >> 31));
  }
  return size_t(XXH3_64bits(k.data(), k.size()));
}

Overlay::Generation::Generation()
    : tables(make_tables(&arena, std::make_index_sequence<kTableCount>())) {}

void Overlay::Generation::put(Table t, Bytes key, Bytes value) {
  auto& map = tables[static_cast<int>(t)];
  auto [it, fresh] = map.try_emplace(group_key(t, key), Rows(&arena));
  if (fresh) it->second.reserve(4);
  Rows& rows = it->second;
  BytesLess less;
  if (rows.empty() || less(rows.back().key, key)) {  // the usual case: keys arrive in order
    rows.push_back({key, value});
    return;
  }
  auto pos = std::lower_bound(rows.begin(), rows.end(), key,
                              [&](const Row& r, Bytes k) { return less(r.key, k); });
  if (pos != rows.end() && !less(key, pos->key)) {
    *pos = {key, value};  // a newer put of the same key
  } else {
    rows.insert(pos, {key, value});
  }
}

void Overlay::Generation::clear() {
  for (auto& t : tables) t.clear();
  records.clear();
  last_position = 0;
}

std::unique_ptr<Overlay::Generation> Overlay::fresh_generation() {
  return spare_ ? std::move(spare_) : std::make_unique<Generation>();
}

const Overlay::Rows* Overlay::Generation::group(Table t, Bytes key) const {
  const auto& map = tables[static_cast<int>(t)];
  auto it = map.find(group_key(t, key));
  return it == map.end() ? nullptr : &it->second;
}

Overlay::Overlay() : active_(std::make_unique<Generation>()) {}

bool Overlay::publish(LogRecordPtr rec) {
  auto view = rec->view();
  if (!view) return false;
  // Check the whole record first, so a damaged one leaves nothing behind.
  if (!view->for_each_put([](Table, Bytes, Bytes) {})) return false;
  Generation& g = *active_;
  view->for_each_put([&](Table t, Bytes key, Bytes value) { g.put(t, key, value); });
  outbox_deleted_through_ = std::max(outbox_deleted_through_, view->outbox_delete_through);
  g.last_position = rec->position;
  g.records.push_back(std::move(rec));
  return true;
}

void Overlay::prune_through(uint64_t applied) {
  if (sealed_ && applied >= sealed_->last_position) {
    sealed_->clear();
    spare_ = std::move(sealed_);
  }
  if (sealed_ || active_->records.empty()) return;
  if (applied < active_->last_position) {
    sealed_ = std::move(active_);
  } else {
    active_->clear();
    spare_ = std::move(active_);
  }
  active_ = fresh_generation();
}

int Overlay::rows(Table t, Bytes key, const Rows* out[2]) const {
  int n = 0;
  for (const Generation* g : {active_.get(), sealed_.get()}) {
    if (!g) continue;
    if (const Rows* r = g->group(t, key)) out[n++] = r;
  }
  return n;
}

std::optional<Bytes> Overlay::find(Table t, Bytes key) const {
  BytesLess less;
  for (const Generation* g : {active_.get(), sealed_.get()}) {
    if (!g) continue;
    const Rows* rows = g->group(t, key);
    if (!rows) continue;
    auto pos = std::lower_bound(rows->begin(), rows->end(), key,
                                [&](const Row& r, Bytes k) { return less(r.key, k); });
    if (pos != rows->end() && !less(key, pos->key)) return pos->value;
  }
  return std::nullopt;
}

size_t Overlay::records() const {
  return active_->records.size() + (sealed_ ? sealed_->records.size() : 0);
}

}  // namespace im::storage
