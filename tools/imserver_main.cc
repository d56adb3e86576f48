// imserver_main.cc - the imserver binary: parse the config, start the server, wait for
// SIGTERM/SIGINT, stop gracefully (stop accepting, finish in-flight commits, close).
#include <malloc.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "core/config.h"
#include "core/log.h"
#include "core/password_hash.h"
#include "core/server.h"

namespace {

// Every connection is a file descriptor: raise the soft limit to the hard one, and warn
// when even that leaves no room for max_connections (accept would fail past it).
void raise_fd_limit(uint32_t max_connections) {
  constexpr rlim_t kOtherFds = 256;  // listeners, shard files, rings, eventfds, logs
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rlim_t(max_connections) + kOtherFds) {
    LOG_WARN("open file limit %llu is below max_connections %u + %llu: raise ulimit -n",
             (unsigned long long)rl.rlim_cur, max_connections, (unsigned long long)kOtherFds);
  }
}

}  // namespace

int main(int argc, char** argv) {
  im::core::Config config;
  int exit_code = 0;
  if (!im::core::parse_config(argc, argv, &config, &exit_code)) return exit_code;
  im::core::set_log_level(config.log_level);
  raise_fd_limit(config.max_connections);
  if (config.password_scrypt_n < im::core::kDefaultScryptN) {
    LOG_WARN(
        "password_scrypt_n %u is below the default %llu: new password hashes are cheaper to "
        "crack; for benchmarks and tests only",
        config.password_scrypt_n, (unsigned long long)im::core::kDefaultScryptN);
  }

  // Block the stop signals in every thread; main waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  im::core::Server server(config);
  std::string error;
  if (!server.start(&error)) {
    LOG_ERROR("cannot start: %s", error.c_str());
    return 1;
  }
  // Once storage is open (LMDB's 2 MiB per-environment callocs are fresh zero mmaps under the
  // default dynamic threshold; from the heap they were memset and faulted in: 2.9 s to start):
  // keep freed heap instead of returning it to the kernel and faulting it back in. Log records
  // (tens to hundreds of KB) churn per commit and scrypt takes 16 MiB per password: measured,
  // sysmalloc and page faults were ~6% of the server's CPU in chat-1to1, and a fixed 1 MiB
  // threshold made every scrypt fault in a fresh mmap (4x slower password logins).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  LOG_INFO("imserver listening on %s:%u (workers=%u, shards=%u, data=%s, durability=%s)",
           config.bind.c_str(), config.port, server.worker_count(), server.shard_count(),
           config.data_dir.c_str(),
           config.durability == im::core::Durability::Sync ? "sync" : "nosync");
  LOG_INFO("connect with: imcli --server %s:%u register alice secret-password", config.bind.c_str(),
           config.port);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  LOG_INFO("signal %d: shutting down", sig);
  server.stop();
  server.wait();
  LOG_INFO("stopped");
  return 0;
}
