#pragma once
// Helpers of the dist tests: free loopback ports and ranks as threads of one process.
#include <unistd.h>

#include <arpa/inet.h>
#include <functional>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include "dist/group.h"

namespace wtp::test {

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("free_port: cannot bind a socket");
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// The launch environment of rank `rank` of `world` on 127.0.0.1:`port`.
inline dist::LaunchEnv local_env(int rank, int world, int port, double timeout_seconds = 20) {
  dist::LaunchEnv env;
  env.rank = rank;
  env.world_size = world;
  env.local_rank = rank;
  env.local_world_size = world;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  env.timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
  return env;
}

/// Runs body(group) on `world` ranks, each a thread with its own Group; rethrows the first
/// exception of any rank after all have finished.
inline void run_ranks(int world, const std::function<void(dist::Group&)>& body,
                      double timeout_seconds = 20) {
  const int port = free_port();
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        dist::Group group(local_env(r, world, port, timeout_seconds), torch::kCPU);
        body(group);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace wtp::test
