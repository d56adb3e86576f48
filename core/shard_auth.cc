// shard_auth.cc - registration, login and device sessions of the users on one shard.
// Passwords are hashed and checked on the worker's KDF thread; the request resumes here
// when the result comes back (on_kdf_done). A device id that logs in again kicks its
// older connection; each connection's delivery cursor lives in its DeviceSession. A login
// or logout writes the device row only when the row would change (a new cursor or
// platform, or a last_seen_ms older than kLastSeenPrecisionMs), so a reconnect commits
// nothing.
#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "core/shard_state.h"
#include "core/token.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace {
constexpr size_t kMaxDevicesOnline = 32;
// How stale the devices table's last_seen_ms may be against a login or a logout of that
// device (nothing reads it yet; rewriting it on every reconnect cost a commit each).
constexpr int64_t kLastSeenPrecisionMs = 60000;

// last_seen_ms as DeviceSession keeps it: whole seconds (fits its padding until 2106).
uint32_t seen_s(int64_t ms) {
  return ms <= 0 ? 0 : uint32_t(std::min<int64_t>(ms / 1000, UINT32_MAX));
}

bool seen_stale(uint32_t written_s, int64_t now_ms) {
  return now_ms - int64_t(written_s) * 1000 >= kLastSeenPrecisionMs;
}
}  // namespace

void ShardState::on_register(EnvelopePtr e) {
  if (refuse_writes(*e)) return;
  const std::string& name = e->text;
  if (pending_usernames_.count(name) || shard_->get_uid_by_username(name)) {
    reply(*e, Code::UserExists, "username is taken");
    return;
  }
  KdfJob job;
  job.verify = false;
  job.password = std::move(e->text2);
  pending_usernames_.insert(name);
  job.request = std::move(e);
  if (!worker_->kdf().submit(std::move(job))) {  // a failed push leaves job intact
    pending_usernames_.erase(name);
    reply(*job.request, Code::Overloaded, "too many registrations in progress; retry shortly");
  }
}

void ShardState::on_kdf_done(KdfJob&& job) {
  Envelope& e = *job.request;
  if (e.op == Op::Register) return finish_register(std::move(job));
  // LoginPassword
  if (!job.ok) return login_failed(e, Code::AuthFailed, "wrong username or password");
  UserMem* u = find_user(job.uid);
  if (!u) return login_failed(e, Code::AuthFailed, "wrong username or password");
  login_device(std::move(job.request), *u);
}

void ShardState::finish_register(KdfJob&& job) {
  Envelope& e = *job.request;
  const std::string name = e.text;
  if (!job.ok) {
    pending_usernames_.erase(name);
    return reply(e, Code::Internal, "password hashing failed");
  }
  if (failed_) {
    pending_usernames_.erase(name);
    return reply(e, Code::StorageFailed, "shard stopped after an I/O error");
  }
  uint32_t shards = worker_->shared().shard_count;
  uint64_t uid = (++uid_counter_) * shards + shard_->index();
  storage::UserRecord rec;
  rec.uid = uid;
  rec.username = name;
  rec.password_hash = std::move(job.hash);
  rec.created_ms = wall_ms();
  Batch& b = building();
  b.writes.put_user(rec);
  b.writes.put_username(name, uid);
  b.usernames.push_back(name);
  Bytes out;
  append_register_ok(out, e.req_id, uid);
  after_frames(e.conn, e.req_id, std::move(out));
  LOG_DEBUG("registered %s as uid %llu", name.c_str(), (unsigned long long)uid);
}

void ShardState::on_login_password(EnvelopePtr e) {
  auto uid = shard_->get_uid_by_username(e->text);
  std::optional<storage::UserRecord> rec;
  if (uid) rec = shard_->get_user(*uid);
  if (!rec) return login_failed(*e, Code::AuthFailed, "wrong username or password");
  if (rec->status != storage::UserStatus::Active) {
    return login_failed(*e, Code::UserDisabled, "this account is disabled");
  }
  KdfJob job;
  job.verify = true;
  job.password = std::move(e->text2);
  job.stored = rec->password_hash;
  job.uid = rec->uid;
  job.request = std::move(e);
  if (!worker_->kdf().submit(std::move(job))) {  // a failed push leaves job intact
    login_failed(*job.request, Code::Overloaded, "too many logins in progress; retry shortly");
  }
}

void ShardState::on_login_token(EnvelopePtr e) {
  UserMem* u = find_user(e->uid);
  if (!u) return login_failed(*e, Code::AuthFailed, "the token's user does not exist");
  login_device(std::move(e), *u);
}

void ShardState::login_failed(const Envelope& e, Code code, std::string_view reason) {
  auto done = make_envelope(Op::ConnLoginDone);
  done->conn = e.conn;
  done->uid = 0;
  append_result(done->bytes, e.req_id, code, reason);
  worker_->route_to_conn(std::move(done));
}

void ShardState::login_device(EnvelopePtr e, UserMem& u) {
  // The same device id again: the newer connection wins, the older one is kicked. Its
  // cursor carries over: it may hold acks that were not written yet.
  uint64_t acked = e->a;
  for (auto it = u.devices.begin(); it != u.devices.end();) {
    if (it->device_id == e->device) {
      acked = std::max(acked, it->acked);
      worker_->kick(it->conn, Code::Kicked, "this device logged in again elsewhere");
      it = u.devices.erase(it);
    } else {
      ++it;
    }
  }
  if (u.devices.size() >= kMaxDevicesOnline) {
    return login_failed(*e, Code::Forbidden, "too many devices online for this user");
  }
  int64_t now = wall_ms();
  auto rec = shard_->get_device(u.uid, e->device);
  if (rec) acked = std::max(acked, rec->acked_inbox_seq);
  acked = std::min(acked, u.durable_seq);

  DeviceSession d;
  d.device_id = e->device;
  d.conn = e->conn;
  d.acked = acked;
  d.sent_up_to = acked;
  d.platform = e->platform;
  d.seen_written_s = rec ? seen_s(rec->last_seen_ms) : 0;
  d.ack_dirty = !rec || rec->acked_inbox_seq != acked || rec->platform != d.platform ||
                seen_stale(d.seen_written_s, now);
  if (d.ack_dirty) ack_dirty_uids_.push_back(u.uid);
  u.devices.push_back(std::move(d));

  TokenClaims claims{u.uid, now, now + int64_t(worker_->config().token_ttl_ms)};
  std::string token = sign_token(worker_->shared().secret, claims);
  auto done = make_envelope(Op::ConnLoginDone);
  done->conn = e->conn;
  done->uid = u.uid;
  done->device = e->device;
  done->text = u.username;
  append_login_ok(done->bytes, e->req_id, u.uid, u.username, token, claims.expires_ms,
                  u.durable_seq, now);
  worker_->route_to_conn(std::move(done));
  pump(u);
}

void ShardState::on_device_offline(EnvelopePtr e) {
  auto it = users_.find(e->uid);
  if (it == users_.end()) return;
  auto& devices = it->second.devices;
  for (auto d = devices.begin(); d != devices.end(); ++d) {
    if (d->conn == e->conn) {
      int64_t now = wall_ms();
      bool changed = d->ack_dirty || seen_stale(d->seen_written_s, now);
      storage::DeviceRecord rec{d->acked, now, d->platform};
      if (changed && !failed_) building().writes.put_device(e->uid, d->device_id, rec);
      devices.erase(d);
      if (devices.empty()) it->second.recent.clear();
      return;
    }
  }
}

void ShardState::on_get_users(EnvelopePtr e) {
  // Request bytes: [1][uid u64] or [2][len u8][name]. Answer: [uid u64][len u8][name].
  auto part = make_envelope(Op::ConnUsersPart);
  part->conn = e->conn;
  part->a = e->a;
  auto add = [&](uint64_t uid, const std::string& name) {
    uint8_t head[9];
    std::memcpy(head, &uid, 8);
    head[8] = static_cast<uint8_t>(name.size());
    part->bytes.insert(part->bytes.end(), head, head + 9);
    part->bytes.insert(part->bytes.end(), name.begin(), name.end());
  };
  const Bytes& in = e->bytes;
  for (size_t i = 0; i < in.size();) {
    if (in[i] == 1 && i + 9 <= in.size()) {
      uint64_t uid;
      std::memcpy(&uid, &in[i + 1], 8);
      i += 9;
      if (auto rec = shard_->get_user(uid)) {
        if (rec->status == storage::UserStatus::Active) add(uid, rec->username);
      }
    } else if (in[i] == 2 && i + 2 <= in.size() && i + 2 + in[i + 1] <= in.size()) {
      std::string name(reinterpret_cast<const char*>(&in[i + 2]), in[i + 1]);
      i += 2 + in[i + 1];
      if (auto uid = shard_->get_uid_by_username(name)) add(*uid, name);
    } else {
      break;
    }
  }
  worker_->route_to_conn(std::move(part));
}

}  // namespace im::core
