// session.cc - where a frame is decoded: every frame from a connection is verified, then
// either answered here (Ping, errors, session rules) or turned into an envelope for the
// shard that owns the data (login, send, ack, reads). The session never trusts the client
// about who it is: the acting uid always comes from the logged-in connection.
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/content_rules.h"
#include "core/log.h"
#include "core/token.h"
#include "core/username.h"
#include "core/worker.h"
#include "protocol/content_copy.h"
#include "protocol/frame_verify.h"
#include "storage/data_dir.h"

namespace im::core {

namespace p = im::proto;

namespace {
constexpr uint32_t kProtocolVersion = 1;
constexpr size_t kMaxDeviceIdBytes = 64;
constexpr size_t kMaxPasswordBytes = 128;
constexpr size_t kMinPasswordBytes = 8;
constexpr size_t kMaxUsersPerLookup = 100;
constexpr size_t kMaxGathers = 4096;
}  // namespace

void Worker::reply(uint32_t slot, uint64_t req_id, Code code, std::string_view reason) {
  Bytes out;
  append_result(out, req_id, code, reason);
  append_out(slot, out.data(), out.size());
}

void Worker::refuse_and_close(uint32_t slot, uint64_t req_id, Code code, std::string_view reason) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Open || c.close_after_flush) return;
  reply(slot, req_id, code, reason);
  if (c.state != ConnState::Open) return;
  c.close_after_flush = true;
  c.closing_since_ms = mono_ms();
  if (c.backlog_bytes() == 0) close_conn(slot, "refused");
}

EnvelopePtr Worker::session_envelope(Op op, uint32_t slot, uint64_t req_id) {
  Connection& c = conns_[slot];
  auto e = make_envelope(op);
  e->conn = ref_of(slot);
  e->req_id = req_id;
  e->uid = c.uid;
  e->device = c.device_id;
  e->shard = storage::shard_of_uid(c.uid, shared_->shard_count);
  return e;
}

bool Worker::on_frame(uint32_t slot, std::span<const uint8_t> bytes) {
  Connection& c = conns_[slot];
  if (c.state != ConnState::Open || c.close_after_flush) return false;
  // Frames sit at any offset of the receive buffer; FlatBuffers reads 8-byte fields in
  // place, so a frame that is not 8-aligned is copied first (a few hundred bytes).
  thread_local std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    aligned.resize((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    bytes = {reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size()};
  }
  const p::Frame* frame = protocol::verify_frame(bytes);
  if (!frame) {
    refuse_and_close(slot, 0, Code::BadFrame, "frame failed verification");
    return false;
  }
  uint64_t req_id = frame->req_id();
  p::Body type = frame->body_type();
  switch (type) {
    case p::Body::Ping: {
      Bytes out;
      append_pong(out, req_id, frame->body_as_Ping()->client_time_ms(), wall_ms());
      append_out(slot, out.data(), out.size());
      return true;
    }
    case p::Body::Hello:
      on_hello(slot, req_id, *frame->body_as_Hello());
      return true;
    case p::Body::Register:
      on_register(slot, req_id, *frame->body_as_Register());
      return true;
    case p::Body::Result:
    case p::Body::Pong:
    case p::Body::Push:
    case p::Body::Kick:
      reply(slot, req_id, Code::BadRequest, "this frame type is sent by the server only");
      return true;
    default:
      break;
  }
  if (type == p::Body::NONE || type > p::Body::MAX) {
    reply(slot, req_id, Code::UnknownType, "unknown frame type");
    return true;
  }
  if (!c.logged_in) {
    reply(slot, req_id, Code::NotLoggedIn, "log in (Hello) first");
    return true;
  }
  switch (type) {
    case p::Body::Logout:
      reply(slot, req_id, Code::Ok, "");
      c.close_after_flush = true;
      c.closing_since_ms = mono_ms();
      return false;
    case p::Body::Send:
      on_send_request(slot, req_id, *frame->body_as_Send(), bytes);
      break;
    case p::Body::Ack: {
      auto e = session_envelope(Op::Ack, slot, 0);
      e->a = frame->body_as_Ack()->inbox_seq();
      route_to_shard(std::move(e));
      break;
    }
    case p::Body::Sync: {
      auto e = session_envelope(Op::Sync, slot, req_id);
      e->a = frame->body_as_Sync()->after_inbox_seq();
      e->b = frame->body_as_Sync()->limit();
      route_to_shard(std::move(e));
      break;
    }
    case p::Body::History: {
      const p::History* h = frame->body_as_History();
      if (h->peer_uid() == 0) {
        reply(slot, req_id, Code::BadRequest, "History.peer_uid is required");
        break;
      }
      auto e = session_envelope(Op::History, slot, req_id);
      e->a = h->peer_uid();
      e->b = h->before_inbox_seq();
      e->c = h->after_inbox_seq();
      e->d = h->limit();
      route_to_shard(std::move(e));
      break;
    }
    case p::Body::Conversations: {
      uint32_t limit = frame->body_as_Conversations()->limit();
      const Config& cfg = shared_->config;
      limit = limit == 0 ? cfg.default_page_entries : std::min(limit, cfg.max_page_entries);
      start_gather(GatherKind::Conversations, slot, req_id, limit);
      break;
    }
    case p::Body::MarkRead: {
      const p::MarkRead* m = frame->body_as_MarkRead();
      if (m->gid() != 0) {
        auto e = session_envelope(Op::GroupMarkRead, slot, req_id);
        e->shard = storage::shard_of_uid(m->gid(), shared_->shard_count);
        e->a = m->gid();
        e->b = m->up_to_group_seq();
        route_to_shard(std::move(e));
        break;
      }
      if (m->peer_uid() == 0) {
        reply(slot, req_id, Code::BadRequest, "MarkRead.peer_uid is required");
        break;
      }
      auto e = session_envelope(Op::MarkRead, slot, req_id);
      e->a = m->peer_uid();
      e->b = m->up_to_inbox_seq();
      route_to_shard(std::move(e));
      break;
    }
    case p::Body::GetUsers:
      on_get_users(slot, req_id, *frame->body_as_GetUsers());
      break;
    default:
      on_group_request(slot, req_id, *frame, bytes);
      break;
  }
  return conns_[slot].state == ConnState::Open;
}

void Worker::on_hello(uint32_t slot, uint64_t req_id, const p::Hello& hello) {
  Connection& c = conns_[slot];
  if (c.logged_in || c.login_pending) {
    return reply(slot, req_id, Code::AlreadyLoggedIn, "this connection is already logged in");
  }
  if (hello.protocol_version() != kProtocolVersion) {
    return refuse_and_close(slot, req_id, Code::ProtocolVersion,
                            "unsupported protocol_version; this server speaks 1");
  }
  size_t dev_len = hello.device_id() ? hello.device_id()->size() : 0;
  if (dev_len == 0 || dev_len > kMaxDeviceIdBytes) {
    return reply(slot, req_id, Code::BadRequest, "device_id must be 1..64 bytes");
  }
  EnvelopePtr e;
  if (hello.token() && hello.token()->size() > 0) {
    TokenClaims claims;
    TokenCheck check =
        verify_token(shared_->secret, hello.token()->string_view(), wall_ms(), &claims);
    if (check == TokenCheck::Expired) {
      return reply(slot, req_id, Code::TokenExpired, "token expired; log in with the password");
    }
    if (check != TokenCheck::Ok) return reply(slot, req_id, Code::AuthFailed, "invalid token");
    e = make_envelope(Op::LoginToken);
    e->uid = claims.uid;
    e->shard = storage::shard_of_uid(claims.uid, shared_->shard_count);
  } else {
    std::string name;
    if (!hello.username() || !hello.password() ||
        !normalize_username(hello.username()->string_view(), &name)) {
      return reply(slot, req_id, Code::AuthFailed, "wrong username or password");
    }
    e = make_envelope(Op::LoginPassword);
    e->text = name;
    e->text2 = hello.password()->str();
    e->shard = storage::shard_of_username(name, shared_->shard_count);
  }
  e->conn = ref_of(slot);
  e->req_id = req_id;
  e->device = hello.device_id()->str();
  e->a = hello.ack_inbox_seq();
  e->platform = static_cast<uint8_t>(hello.platform());
  c.login_pending = true;
  route_to_shard(std::move(e));
}

void Worker::on_register(uint32_t slot, uint64_t req_id, const p::Register& reg) {
  std::string name;
  if (!reg.username() || !normalize_username(reg.username()->string_view(), &name)) {
    return reply(slot, req_id, Code::InvalidUsername,
                 "username: 3..32 of a-z 0-9 _ . -, starting with a letter");
  }
  size_t pw = reg.password() ? reg.password()->size() : 0;
  if (pw < kMinPasswordBytes || pw > kMaxPasswordBytes) {
    return reply(slot, req_id, Code::WeakPassword, "password must be 8..128 bytes");
  }
  auto e = make_envelope(Op::Register);
  e->conn = ref_of(slot);
  e->req_id = req_id;
  e->text = name;
  e->text2 = reg.password()->str();
  e->shard = storage::shard_of_username(name, shared_->shard_count);
  route_to_shard(std::move(e));
}

void Worker::on_send_request(uint32_t slot, uint64_t req_id, const p::Send& send,
                             std::span<const uint8_t> bytes) {
  Connection& c = conns_[slot];
  if (send.client_msg_id() == 0) {
    return reply(slot, req_id, Code::BadRequest, "Send.client_msg_id must be non-zero");
  }
  if (send.to_uid() == 0) return reply(slot, req_id, Code::BadRequest, "Send.to_uid is required");
  if (send.to_uid() == c.uid) {
    return reply(slot, req_id, Code::BadRequest, "sending to yourself is not supported");
  }
  std::string_view bad = check_content(send.content_type(), send.content(), send.mentions(),
                                       shared_->config.max_text_bytes);
  if (!bad.empty()) return reply(slot, req_id, Code::BadRequest, bad);
  // The conversation's first step runs on the shard of its smaller uid (shard_chat.cc).
  auto e = session_envelope(Op::Send, slot, req_id);
  e->shard = storage::shard_of_uid(std::min(c.uid, send.to_uid()), shared_->shard_count);
  e->bytes.assign(bytes.begin(), bytes.end());
  route_to_shard(std::move(e));
}

void Worker::on_get_users(uint32_t slot, uint64_t req_id, const p::GetUsers& req) {
  size_t n =
      (req.uids() ? req.uids()->size() : 0) + (req.usernames() ? req.usernames()->size() : 0);
  if (n > kMaxUsersPerLookup) {
    return reply(slot, req_id, Code::BadRequest, "at most 100 users per GetUsers");
  }
  if (gathers_.size() >= kMaxGathers) {
    return reply(slot, req_id, Code::Overloaded, "too many lookups in progress");
  }
  uint32_t shards = shared_->shard_count;
  std::vector<Bytes> per_shard(shards);
  if (req.uids()) {
    for (uint64_t uid : *req.uids()) {
      Bytes& b = per_shard[storage::shard_of_uid(uid, shards)];
      b.push_back(1);
      uint8_t raw[8];
      std::memcpy(raw, &uid, 8);
      b.insert(b.end(), raw, raw + 8);
    }
  }
  if (req.usernames()) {
    for (auto* s : *req.usernames()) {
      std::string name;
      if (!normalize_username(s->string_view(), &name)) continue;
      Bytes& b = per_shard[storage::shard_of_username(name, shards)];
      b.push_back(2);
      b.push_back(static_cast<uint8_t>(name.size()));
      b.insert(b.end(), name.begin(), name.end());
    }
  }
  uint64_t id = next_gather_id_++;
  UsersGather& g = gathers_[id];
  g.conn = ref_of(slot);
  g.req_id = req_id;
  g.parts_left = 0;
  for (uint32_t s = 0; s < shards; s++) g.parts_left += per_shard[s].empty() ? 0 : 1;
  if (g.parts_left == 0) {
    gathers_.erase(id);
    Bytes out;
    append_user_list(out, req_id, {});
    return append_out(slot, out.data(), out.size());
  }
  for (uint32_t s = 0; s < shards; s++) {
    if (per_shard[s].empty()) continue;
    auto e = make_envelope(Op::GetUsers);
    e->shard = s;
    e->conn = ref_of(slot);
    e->req_id = req_id;
    e->a = id;
    e->bytes = std::move(per_shard[s]);
    route_to_shard(std::move(e));
  }
}

void Worker::on_users_part(EnvelopePtr e) {
  auto it = gathers_.find(e->a);
  if (it == gathers_.end()) return;
  UsersGather& g = it->second;
  g.users.insert(g.users.end(), e->bytes.begin(), e->bytes.end());
  if (--g.parts_left > 0) return;
  if (g.then) {
    size_t found = 0;
    for (size_t i = 0; i + 9 <= g.users.size(); i += 9 + g.users[i + 8]) found++;
    EnvelopePtr then = std::move(g.then);
    ConnRef conn = g.conn;
    uint64_t req_id = g.req_id;
    bool all = found == g.expected;
    gathers_.erase(it);
    if (!conn_at(conn)) return;
    if (!all) return reply(conn.slot, req_id, Code::UnknownUser, "a named user does not exist");
    return route_to_shard(std::move(then));
  }
  std::vector<UserListItem> users;
  const Bytes& b = g.users;
  for (size_t i = 0; i + 9 <= b.size();) {
    uint64_t uid;
    std::memcpy(&uid, &b[i], 8);
    size_t len = b[i + 8];
    if (i + 9 + len > b.size()) break;
    users.push_back({uid, std::string_view(reinterpret_cast<const char*>(&b[i + 9]), len)});
    i += 9 + len;
  }
  Bytes out;
  append_user_list(out, g.req_id, users);
  ConnRef conn = g.conn;
  gathers_.erase(it);
  if (conn_at(conn)) append_out(conn.slot, out.data(), out.size());
}

void Worker::on_conn_envelope(EnvelopePtr e) {
  if (e->op == Op::ConnUsersPart) return on_users_part(std::move(e));
  if (e->op == Op::ConnGatherPart) return on_gather_part(std::move(e));
  Connection* c = conn_at(e->conn);
  if (e->op == Op::ConnLoginDone) {
    if (!c) {
      // The connection went away while logging in: take the device back offline.
      if (e->uid != 0) {
        auto off = make_envelope(Op::DeviceOffline);
        off->shard = storage::shard_of_uid(e->uid, shared_->shard_count);
        off->conn = e->conn;
        off->uid = e->uid;
        off->device = e->device;
        deferred_.push_back(std::move(off));
      }
      return;
    }
    c->login_pending = false;
    append_out(e->conn.slot, e->bytes.data(), e->bytes.size());
    if (e->uid != 0 && c->state == ConnState::Open) {
      c->logged_in = true;
      c->uid = e->uid;
      c->device_id = std::move(e->device);
      group_index_.add_user_conn(c->uid, e->conn.slot);
      index_login_groups(e->conn.slot);
    }
    return;
  }
  if (!c) return;
  if (e->op == Op::ConnFrames) return append_out(e->conn.slot, e->bytes.data(), e->bytes.size());
  if (e->op == Op::ConnKick) {
    uint32_t slot = e->conn.slot;
    if (c->close_after_flush) return;
    Bytes out;
    append_kick(out, static_cast<Code>(e->code), e->text);
    append_out(slot, out.data(), out.size());
    if (c->state != ConnState::Open) return;
    c->close_after_flush = true;
    c->closing_since_ms = mono_ms();
  }
}

}  // namespace im::core
