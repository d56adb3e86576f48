// group_setup.cc - blocking request/answer over one connection: Hello, then CreateGroup and
// InviteMembers one at a time (each waits for its Result; pushes in between are skipped).
#include "bench/imbench/group_setup.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "bench/imbench/clock.h"
#include "client/frame_builders.h"
#include "client/frame_decoders.h"
#include "protocol/frame_reader.h"
#include "protocol/frame_verify.h"

namespace im::bench {

namespace {

constexpr uint32_t kMaxFrameBytes = 1u << 20;

class BlockingConn {
 public:
  explicit BlockingConn(int64_t deadline_ns) : deadline_ns_(deadline_ns), reader_(kMaxFrameBytes) {}
  ~BlockingConn() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connect(const sockaddr_in& server) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return ::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof(server)) == 0;
  }

  // Sends one frame and waits for the Result with its req_id: false on timeout or I/O error.
  bool request(std::span<const uint8_t> frame, uint64_t req_id, std::vector<uint8_t>* answer) {
    out_.clear();
    im::protocol::append_frame(out_, frame);
    for (size_t at = 0; at < out_.size();) {
      ssize_t n = ::send(fd_, out_.data() + at, out_.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += size_t(n);
    }
    bool found = false, bad = false;
    while (!found && !bad) {
      pollfd p{fd_, POLLIN, 0};
      int64_t left_ms = (deadline_ns_ - now_ns()) / 1'000'000;
      if (left_ms <= 0 || ::poll(&p, 1, int(left_ms)) <= 0) return false;
      ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n <= 0) return false;
      reader_.feed(std::span<const uint8_t>(buf_.data(), size_t(n)), [&](auto bytes) {
        const im::proto::Frame* f = im::protocol::verify_frame(bytes);
        if (f == nullptr) return bad = true, false;
        if (f->body_type() == im::proto::Body::Result && f->req_id() == req_id) {
          answer->assign(bytes.begin(), bytes.end());
          found = true;
        }
        return true;
      });
    }
    return found;
  }

 private:
  int fd_ = -1;
  int64_t deadline_ns_;
  im::protocol::FrameReader reader_;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(64 * 1024);
};

const im::proto::Frame& frame_of(const std::vector<uint8_t>& bytes) {
  return *im::proto::GetFrame(bytes.data());
}

// Creates one group; its members beyond the first request are invited in chunks.
bool create_one(BlockingConn& conn, flatbuffers::FlatBufferBuilder& fbb, uint64_t* req_id,
                const std::string& name, std::span<const uint64_t> members, uint64_t* gid,
                uint64_t* last_seq, std::string* error) {
  std::vector<uint8_t> answer;
  size_t first = std::min(members.size(), kMaxUidsPerRequest);
  uint64_t id = ++*req_id;
  if (!conn.request(im::client::build_create_group(fbb, id, name, members.first(first)), id,
                    &answer))
    return *error = "setup: CreateGroup timed out", false;
  auto created = im::client::decode_group_created(frame_of(answer));
  if (!created.ok()) return *error = "setup: CreateGroup: " + created.status().to_string(), false;
  *gid = created->gid;
  *last_seq = created->group_seq;
  for (size_t at = first; at < members.size(); at += kMaxUidsPerRequest) {
    size_t n = std::min(kMaxUidsPerRequest, members.size() - at);
    id = ++*req_id;
    if (!conn.request(im::client::build_invite_members(fbb, id, *gid, members.subspan(at, n)), id,
                      &answer))
      return *error = "setup: InviteMembers timed out", false;
    auto changed = im::client::decode_group_changed(frame_of(answer));
    if (!changed.ok())
      return *error = "setup: InviteMembers: " + changed.status().to_string(), false;
    *last_seq = changed->group_seq;
  }
  return true;
}

}  // namespace

GroupSetupResult create_groups(const sockaddr_in& server, const std::string& owner,
                               const std::string& password, const std::string& owner_token,
                               std::span<const uint64_t> members, uint32_t groups,
                               const std::string& name_prefix, double timeout_s) {
  GroupSetupResult r;
  int64_t start = now_ns();
  BlockingConn conn(start + int64_t(timeout_s * 1e9));
  if (!conn.connect(server)) return r.error = "setup: cannot connect to the server", r;
  flatbuffers::FlatBufferBuilder fbb(4096);
  uint64_t req_id = 1;
  im::client::HelloParams hello;
  if (!owner_token.empty()) {
    hello.token = owner_token;
  } else {
    hello.username = owner;
    hello.password = password;
  }
  hello.device_id = "imbench-admin";
  hello.platform = im::proto::Platform::Bot;
  std::vector<uint8_t> answer;
  if (!conn.request(im::client::build_hello(fbb, req_id, hello), req_id, &answer))
    return r.error = "setup: owner login timed out", r;
  auto login = im::client::decode_login_ok(frame_of(answer));
  if (!login.ok()) return r.error = "setup: owner login: " + login.status().to_string(), r;
  for (uint32_t g = 0; g < groups; ++g) {
    uint64_t gid = 0, seq = 0;
    if (!create_one(conn, fbb, &req_id, name_prefix + std::to_string(g), members, &gid, &seq,
                    &r.error))
      return r;
    r.gids.push_back(gid);
    r.base_seqs.push_back(seq);
  }
  r.ok = true;
  r.seconds = seconds_between(start, now_ns());
  return r;
}

}  // namespace im::bench
