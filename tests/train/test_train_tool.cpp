#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>

#include "catch_torch.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

/// A small recipe on synthetic data (tests/support's tiny base with 20 identities and an
/// even smaller CNN), long enough to be interrupted mid-run.
void write_recipe(const fs::path& dir) {
  wtp::test::write_tiny_base(dir, 20);
  std::ofstream(dir / "recipe.yaml")
      << "include: tiny_base.yaml\n"
      << "model:\n"
      << "  backbone: {channels: [4, 8, 8], hidden: [32], embedding_dim: 16}\n"
      << "validation: {retrieval: {ks: [1]}}\n"
      << "stages:\n"
      << "  - {name: long, epochs: 200, loss: cross_entropy,\n"
      << "     sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 2}}\n";
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("wtp-train: Ctrl-C saves last.pt and exits 130; --resume finishes the run",
          "[train][tool]") {
  wtp::test::TempDir dir;
  write_recipe(dir.path());
  const std::string exe = (wtp::test::bin_dir() / "wtp-train").string();
  const std::string recipe = (dir / "recipe.yaml").string();
  const std::string log = (dir / "first.log").string();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen(log.c_str(), "w", stderr);
    execl(exe.c_str(), exe.c_str(), "--config", recipe.c_str(), "--no-progress", "--threads", "1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once training has started (metrics.csv has a step row).
  const auto metrics = dir / "run" / "metrics.csv";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(metrics) && fs::file_size(metrics) > 60) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGINT);
  const int status = wait_exit(pid);
  const std::string output = wtp::test::read_file(log);
  INFO(output);
  CHECK(status == 130);
  CHECK_THAT(output, Catch::Contains("--resume " + (dir / "run").string()));
  CHECK(fs::exists(dir / "run" / "checkpoints" / "last.pt"));
  CHECK_FALSE(fs::exists(dir / "run" / "eval.json"));

  // Shorten nothing: --resume refuses to change the experiment, except the device.
  auto refused =
      wtp::test::run_command(exe + " --resume " + (dir / "run").string() + " --set stages=[]");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("cannot be changed"));
}
