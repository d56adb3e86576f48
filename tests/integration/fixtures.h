// fixtures.h - helpers shared by the integration tests: users registered on a real
// imserver (tests/support/test_server.h), logged-in SDK clients, and a raw session for
// protocol-level tests that must see every frame the server sends.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/connection.h"
#include "client/frame_builders.h"
#include "tests/support/test_server.h"

namespace im_it {

using im::client::Client;
using im::client::ClientOptions;
using im::client::InboxEntry;
using im::proto::Code;
using im::testing::TestServer;

inline std::string password_of(const std::string& user) {
  return user + "-password";
}

inline std::unique_ptr<Client> connect_client(TestServer& server, const std::string& device,
                                              ClientOptions options = {}) {
  options.device_id = device;
  auto c = std::make_unique<Client>(std::move(options));
  auto st = c->connect(server.host(), server.port());
  EXPECT_TRUE(st.ok()) << st.reason;
  return c;
}

// Registers a user (password: user + "-password") and returns the uid.
inline uint64_t register_user(TestServer& server, const std::string& user) {
  auto c = connect_client(server, "register");
  auto r = c->register_user(user, password_of(user));
  EXPECT_TRUE(r.ok()) << user << ": " << r.status().reason;
  return r.ok() ? r.value().uid : 0;
}

inline std::unique_ptr<Client> login(TestServer& server, const std::string& user,
                                     const std::string& device, ClientOptions options = {}) {
  auto c = connect_client(server, device, std::move(options));
  auto r = c->login_password(user, password_of(user));
  EXPECT_TRUE(r.ok()) << user << "/" << device << ": " << r.status().reason;
  return c;
}

// Waits for n entries on a client's queue (fails the test on timeout).
inline std::vector<InboxEntry> take(Client& c, size_t n, uint32_t timeout_ms = 10000) {
  std::vector<InboxEntry> got;
  int64_t deadline = im::client::steady_now_ms() + timeout_ms;
  while (got.size() < n) {
    int64_t left = deadline - im::client::steady_now_ms();
    if (left <= 0) break;
    auto e = c.next_entry(static_cast<uint32_t>(left));
    if (!e) break;
    got.push_back(std::move(*e));
  }
  EXPECT_EQ(got.size(), n) << "entries received before the timeout";
  return got;
}

// Only Message entries whose sender is not the owner.
inline std::vector<InboxEntry> incoming(const std::vector<InboxEntry>& entries) {
  std::vector<InboxEntry> out;
  for (const auto& e : entries) {
    if (e.kind == im::client::EntryKind::Message && !e.is_own) out.push_back(e);
  }
  return out;
}

// Every entry of a user's inbox, walked with Sync pages from the start.
inline std::vector<InboxEntry> whole_inbox(Client& c) {
  std::vector<InboxEntry> all;
  uint64_t after = 0;
  for (int pages = 0; pages < 10000; pages++) {
    auto page = c.sync(after, 200);
    EXPECT_TRUE(page.ok()) << page.status().reason;
    if (!page.ok()) break;
    for (auto& e : page.value().entries) {
      after = e.inbox_seq;
      all.push_back(std::move(e));
    }
    if (!page.value().has_more || page.value().entries.empty()) break;
  }
  return all;
}

// Waits for n entries of group gid on a client's queue; entries of other groups and of the
// inbox are skipped (fails the test on timeout).
inline std::vector<InboxEntry> take_group(Client& c, uint64_t gid, size_t n,
                                          uint32_t timeout_ms = 10000) {
  std::vector<InboxEntry> got;
  int64_t deadline = im::client::steady_now_ms() + timeout_ms;
  while (got.size() < n) {
    int64_t left = deadline - im::client::steady_now_ms();
    if (left <= 0) break;
    auto e = c.next_entry(static_cast<uint32_t>(left));
    if (!e) break;
    if (e->gid == gid) got.push_back(std::move(*e));
  }
  EXPECT_EQ(got.size(), n) << "entries of group " << gid << " received before the timeout";
  return got;
}

// The worker that owns a uid's or gid's shard (16 shards, ids embed their shard).
inline uint32_t worker_of(uint64_t id, uint32_t workers) {
  return (id % 16) % workers;
}

// imcli run as a real process against a test server.
struct CliRun {
  int status = -1;  // exit status, -1 when it did not exit normally
  std::string out;
  std::string err;
};

// Runs imcli with args against server, with a HOME private to the server's temp dir (saved
// tokens stay there); env_password sets IMCLI_PASSWORD when non-empty.
inline CliRun run_imcli(TestServer& server, const std::string& args,
                        const std::string& env_password = "") {
  std::string home = server.data_dir() + "/../imcli-home";
  std::filesystem::create_directories(home);
  std::string err_path = home + "/stderr.txt";
  std::string cmd = "HOME='" + home + "' ";
  if (!env_password.empty()) cmd += "IMCLI_PASSWORD='" + env_password + "' ";
  cmd += std::string(IMCLI_PATH) + " --server " + server.address() + " " + args + " 2>'" +
         err_path + "'";
  CliRun run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return run;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
  int raw = pclose(pipe);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  run.err = ss.str();
  return run;
}

// A connection driven frame by frame: sees every Result, Push and Kick.
class RawSession {
 public:
  explicit RawSession(TestServer& server) {
    auto st = conn_.connect(server.host(), server.port(), 5000);
    EXPECT_TRUE(st.ok()) << st.reason;
  }
  im::client::Connection& conn() { return conn_; }
  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }
  uint64_t next_id() { return next_req_id_++; }

  // Writes a frame and returns the answer carrying req_id (pushes in between are kept).
  im::client::ReceivedFrame call(im::client::FrameBytes frame, uint64_t req_id,
                                 uint32_t timeout_ms = 5000) {
    auto st = conn_.write_frame(frame, 5000);
    EXPECT_TRUE(st.ok()) << st.reason;
    return wait_for(req_id, timeout_ms);
  }
  im::client::ReceivedFrame wait_for(uint64_t req_id, uint32_t timeout_ms = 5000) {
    int64_t deadline = im::client::steady_now_ms() + timeout_ms;
    while (im::client::steady_now_ms() < deadline) {
      auto r = conn_.read_verified(static_cast<uint32_t>(deadline - im::client::steady_now_ms()));
      if (!r.ok()) break;
      if (r.value().req_id() == req_id && r.value().type() != im::proto::Body::Push) {
        return std::move(r.value());
      }
      others_.push_back(std::move(r.value()));
    }
    ADD_FAILURE() << "no answer for req_id " << req_id;
    return {};
  }
  // The code of a Result frame (Ok when the frame is not a Result).
  static Code code_of(const im::client::ReceivedFrame& f) {
    if (f.empty()) return static_cast<Code>(999);
    auto* r = f.frame().body_as_Result();
    return r ? r->code() : Code::Ok;
  }
  Code login(const std::string& user, const std::string& device) {
    im::client::HelloParams p;
    p.username = user;
    std::string pw = password_of(user);
    p.password = pw;
    p.device_id = device;
    uint64_t id = next_id();
    return code_of(call(im::client::build_hello(fbb_, id, p), id));
  }
  std::vector<im::client::ReceivedFrame>& others() { return others_; }

 private:
  im::client::Connection conn_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  uint64_t next_req_id_ = 1;
  std::vector<im::client::ReceivedFrame> others_;
};

}  // namespace im_it
