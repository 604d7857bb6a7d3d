#pragma once
/// `wtp-launch`: starts the local ranks of a distributed job with the torchrun
/// environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
/// and WTP_DIST_TIMEOUT when given), forwards SIGINT/SIGTERM to them, and when one rank
/// fails stops the others (SIGTERM, then SIGKILL after `grace_seconds`) and returns
/// non-zero. On node `node_rank` of `nnodes`, local rank l gets RANK = node_rank * nproc + l.
///
///     wtp-launch --nproc 2 -- wtp-train --config configs/quickstart.yaml
#include <string>
#include <vector>

namespace wtp::dist {

struct LaunchOptions {
  int nproc = 1;                          ///< ranks on this node
  int nnodes = 1;                         ///< nodes of the job
  int node_rank = 0;                      ///< this node's index, 0 <= node_rank < nnodes
  std::string master_addr = "127.0.0.1";  ///< where rank 0 (on node 0) listens
  int master_port = 29500;                ///< its rendezvous port
  std::string dist_timeout;               ///< collective timeout in s ("" = the ranks' default)
  double grace_seconds = 10.0;            ///< SIGTERM -> SIGKILL delay when stopping ranks
  std::vector<std::string> command;       ///< the program and its arguments, run per rank

  /// UsageError naming the flag when a value is out of range or the command is empty.
  void validate() const;
};

/// Runs the ranks and waits for them. Returns 0 when every rank exited 0; otherwise the
/// exit code of the first rank that failed (128 + signal when it was killed by one), after
/// stopping the others. Each failure is reported on stderr naming the rank and the pid.
int run_launch(const LaunchOptions& options);

}  // namespace wtp::dist
