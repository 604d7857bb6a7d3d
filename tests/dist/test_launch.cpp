// wtp-launch: the torchrun environment, failure propagation and signal forwarding.
#include <chrono>
#include <string>

#include "catch_torch.h"
#include "dist_helpers.h"
#include "test_support.h"

using wtp::test::bin_dir;
using wtp::test::run_command;

namespace {
std::string launch() { return (bin_dir() / "wtp-launch").string(); }
}  // namespace

TEST_CASE("wtp-launch starts the ranks with the torchrun environment", "[dist][launch]") {
  const std::string show =
      " -- sh -c 'echo \"rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK/$LOCAL_WORLD_SIZE "
      "master=$MASTER_ADDR:$MASTER_PORT timeout=$WTP_DIST_TIMEOUT\"'";
  auto one = run_command(launch() + " --nproc 2 --master-port 29777 --dist-timeout 7" + show);
  INFO(one.output);
  REQUIRE(one.status == 0);
  CHECK_THAT(one.output,
             Catch::Contains("rank=0 world=2 local=0/2 master=127.0.0.1:29777 timeout=7"));
  CHECK_THAT(one.output,
             Catch::Contains("rank=1 world=2 local=1/2 master=127.0.0.1:29777 timeout=7"));
  // Node 1 of 2 with 2 ranks each: global ranks 2 and 3.
  auto node = run_command(launch() +
                          " --nproc 2 --nnodes 2 --node-rank 1 --master-addr 10.1.2.3 "
                          "--master-port 29001" +
                          show);
  INFO(node.output);
  REQUIRE(node.status == 0);
  CHECK_THAT(node.output, Catch::Contains("rank=2 world=4 local=0/2 master=10.1.2.3:29001"));
  CHECK_THAT(node.output, Catch::Contains("rank=3 world=4 local=1/2 master=10.1.2.3:29001"));
}

TEST_CASE("wtp-launch stops the other ranks when one fails and exits with its code",
          "[dist][launch]") {
  const auto started = std::chrono::steady_clock::now();
  auto r = run_command(launch() +
                       " --nproc 3 --grace 1 -- sh -c "
                       "'if [ \"$RANK\" = 1 ]; then sleep 0.3; exit 7; fi; exec sleep 60'");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.output);
  CHECK(r.status == 7);
  CHECK_THAT(r.output, Catch::Contains("rank 1 (pid") &&
                           Catch::Contains("exited with code 7; stopping the other ranks"));
  CHECK(seconds < 20);  // not the sleeping ranks' 60 s
  // A rank that ignores SIGTERM is killed after the grace period.
  auto stubborn = run_command(launch() +
                              " --nproc 2 --grace 0.5 -- sh -c "
                              "'if [ \"$RANK\" = 0 ]; then sleep 0.5; exit 3; fi; trap \"\" TERM; "
                              "while true; do sleep 0.1; done'");
  INFO(stubborn.output);
  CHECK(stubborn.status == 3);
  CHECK_THAT(stubborn.output, Catch::Contains("rank 1 (pid") && Catch::Contains("signal 9"));
}

TEST_CASE("wtp-launch forwards SIGTERM to the ranks", "[dist][launch]") {
  auto r = run_command("sh -c '" + launch() +
                       " --nproc 2 -- sh -c \"exec sleep 30\" & pid=$!; sleep 1; kill -TERM "
                       "$pid; wait $pid; echo code=$?'");
  INFO(r.output);
  CHECK_THAT(r.output, Catch::Contains("code=143"));  // 128 + SIGTERM, from the ranks
}

TEST_CASE("wtp-launch refuses bad arguments with exit 2", "[dist][launch]") {
  CHECK(run_command(launch() + " --nproc 0 -- true").status == 2);
  CHECK(run_command(launch() + " --nproc 2 --node-rank 1 -- true").status == 2);
  CHECK(run_command(launch() + " --nproc 2 --dist-timeout abc -- true").status == 2);
  auto missing = run_command(launch() + " --nproc 1 -- /nonexistent/program");
  CHECK(missing.status == 127);
  CHECK_THAT(missing.output, Catch::Contains("cannot run '/nonexistent/program'"));
}
