#include "dist/launcher.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>

#include "core/error.h"
#include "dist/group.h"

namespace wtp::dist {
namespace {

std::atomic<int> g_forward{0};  // a signal to forward to the ranks (0 = none)

extern "C" void on_launcher_signal(int sig) { g_forward = sig; }

struct Rank {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
};

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "ended with status " + std::to_string(status);
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

void LaunchOptions::validate() const {
  if (nproc < 1) throw UsageError("--nproc must be >= 1, got " + std::to_string(nproc));
  if (nnodes < 1) throw UsageError("--nnodes must be >= 1, got " + std::to_string(nnodes));
  if (node_rank < 0 || node_rank >= nnodes)
    throw UsageError("--node-rank must be in [0, " + std::to_string(nnodes - 1) + "], got " +
                     std::to_string(node_rank));
  if (master_port < 1 || master_port > 65535)
    throw UsageError("--master-port must be in 1..65535, got " + std::to_string(master_port));
  if (master_addr.empty()) throw UsageError("--master-addr must not be empty");
  if (!dist_timeout.empty()) parse_timeout(dist_timeout, "--dist-timeout");
  if (!(grace_seconds >= 0)) throw UsageError("--grace must be >= 0 seconds");
  if (command.empty())
    throw UsageError(
        "give the command to run after --, e.g. wtp-launch --nproc 2 -- "
        "wtp-train --config configs/quickstart.yaml");
}

int run_launch(const LaunchOptions& options) {
  options.validate();
  const int world = options.nproc * options.nnodes;
  g_forward = 0;
  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<Rank> ranks(static_cast<std::size_t>(options.nproc));
  std::vector<char*> argv;
  for (const auto& a : options.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  for (int local = 0; local < options.nproc; ++local) {
    Rank& r = ranks[static_cast<std::size_t>(local)];
    r.rank = options.node_rank * options.nproc + local;
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("wtp-launch: fork: ") + strerror(errno));
    if (pid == 0) {
      // Own process group: a terminal's Ctrl-C reaches the launcher, which forwards it
      // once. The rank is stopped (SIGTERM: it saves and exits) if the launcher dies.
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      setenv("RANK", std::to_string(r.rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      setenv("GROUP_RANK", std::to_string(options.node_rank).c_str(), 1);
      setenv("MASTER_ADDR", options.master_addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(options.master_port).c_str(), 1);
      if (!options.dist_timeout.empty())
        setenv("WTP_DIST_TIMEOUT", options.dist_timeout.c_str(), 1);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "wtp-launch: cannot run '%s': %s\n", argv[0], strerror(errno));
      _exit(127);
    }
    r.pid = pid;
    r.running = true;
  }
  std::fprintf(stderr, "wtp-launch: started ranks %d..%d of %d (master %s:%d)\n",
               options.node_rank * options.nproc,
               options.node_rank * options.nproc + options.nproc - 1, world,
               options.master_addr.c_str(), options.master_port);

  int result = 0;
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at;
  auto alive = [&] {
    for (const auto& r : ranks)
      if (r.running) return true;
    return false;
  };
  auto signal_all = [&](int sig) {
    for (const auto& r : ranks)
      if (r.running) kill(r.pid, sig);
  };
  while (alive()) {
    if (const int sig = g_forward.exchange(0)) signal_all(sig);
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (auto& r : ranks) {
        if (r.pid != pid) continue;
        r.running = false;
        const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (failed && result == 0) {
          result = exit_code(status);
          std::fprintf(stderr, "wtp-launch: rank %d (pid %d) %s; stopping the other ranks\n",
                       r.rank, static_cast<int>(pid), describe(status).c_str());
        } else if (failed) {
          std::fprintf(stderr, "wtp-launch: rank %d (pid %d) %s\n", r.rank, static_cast<int>(pid),
                       describe(status).c_str());
        }
        if (failed && !stopping) {
          stopping = true;
          signal_all(SIGTERM);
          kill_at =
              std::chrono::steady_clock::now() +
              std::chrono::milliseconds(static_cast<std::int64_t>(options.grace_seconds * 1000));
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR && errno != ECHILD) break;
    if (stopping && std::chrono::steady_clock::now() >= kill_at) {
      signal_all(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace wtp::dist
