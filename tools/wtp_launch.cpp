// wtp-launch: starts the local ranks of a distributed job with the torchrun environment
// (see src/dist/launcher.h).
#include "common/cli.h"
#include "dist/launcher.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-launch",
                      "Start N local ranks of a distributed job (torchrun environment: RANK, "
                      "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), e.g. "
                      "wtp-launch --nproc 2 -- wtp-train --config configs/quickstart.yaml",
                      wtp::cli::ConfigFlags::kNone);
  wtp::dist::LaunchOptions options;
  auto& app = tool.app();
  app.add_option("--nproc", options.nproc, "ranks on this node")->required();
  app.add_option("--nnodes", options.nnodes, "nodes of the job (run wtp-launch on each)");
  app.add_option("--node-rank", options.node_rank, "this node's index, 0..nnodes-1");
  app.add_option("--master-addr", options.master_addr,
                 "address of node 0, where rank 0 hosts the rendezvous");
  app.add_option("--master-port", options.master_port, "rendezvous port on the master");
  app.add_option("--dist-timeout", options.dist_timeout,
                 "collective timeout in seconds for the ranks (WTP_DIST_TIMEOUT; default 300)");
  app.add_option("--grace", options.grace_seconds,
                 "seconds between SIGTERM and SIGKILL when stopping the ranks after a failure");
  app.add_option("command", options.command, "the command each rank runs (after --)")->required();
  int code = 0;
  const int status = tool.run(argc, argv, [&] { code = wtp::dist::run_launch(options); });
  return status != 0 ? status : code;
}
