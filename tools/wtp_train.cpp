// wtp-train: trains a model from a YAML recipe (see configs/ and src/train/trainer.h).
#include "common/cli.h"
#include "core/log.h"
#include "core/threads.h"
#include "dist/group.h"
#include "export/export_checkpoint.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-train", "Train a face recognition or liveness model from a YAML recipe");
  std::string resume;
  bool no_progress = false;
  tool.bind("--out", "out", "run directory (checkpoints, metrics.csv, curves.png, eval.json)");
  tool.bind("--device", "device", "cpu | cuda | cuda:N");
  tool.app().add_option("--resume", resume,
                        "continue the run in this directory from its last checkpoint "
                        "(uses the run's own config.yaml)");
  tool.app().add_flag("--no-progress", no_progress, "no progress bars (log lines only)");
  std::string dist_timeout;
  tool.app().add_option("--dist-timeout", dist_timeout,
                        "distributed runs: collective timeout in seconds (WTP_DIST_TIMEOUT; "
                        "default 300)");
  return tool.run(argc, argv, [&] {
    // Distributed (torchrun environment, e.g. from wtp-launch): a rank's default threads are
    // the cores divided among the machine's ranks.
    if (tool.app().count("--threads") == 0 && std::getenv("WORLD_SIZE"))
      wtp::set_threads(wtp::dist::default_threads());
    if (!dist_timeout.empty()) {
      wtp::dist::parse_timeout(dist_timeout, "--dist-timeout");
      setenv("WTP_DIST_TIMEOUT", dist_timeout.c_str(), 1);
    }
    if (resume.empty() && tool.config_path().empty())
      throw wtp::UsageError("give a recipe with --config FILE (see configs/), or --resume RUN_DIR");
    wtp::train::RunOptions options;
    options.resume = resume;
    if (!resume.empty()) {
      // A resumed run is the same experiment: only where it runs may change.
      for (const auto& [key, value] : tool.config().entries()) {
        if (key != "device")
          throw wtp::UsageError("--resume continues with the run's own config.yaml; '" + key +
                                "' cannot be changed (only --device can)");
        options.device = value.text();
      }
    }
    options.progress = !no_progress;
    auto result = wtp::train::run_train(tool.config(), options);
    if (result.interrupted) {
      std::fprintf(stderr, "wtp-train: interrupted; resume with: wtp-train --resume %s\n",
                   result.run_dir.c_str());
      std::exit(130);
    }
    std::printf("run directory: %s\n", result.run_dir.c_str());
    // export: {enabled: true} in the config: TorchScript archives of best.pt (rank 0 only).
    const auto launch = wtp::dist::LaunchEnv::from_environment();
    if (!result.stopped && (!launch || launch->rank == 0))
      for (const auto& r : wtp::exporter::export_configured(result.run_dir))
        std::printf("exported: %s\n", r.path.c_str());
    for (const auto& [k, v] : result.test) std::printf("  test %-24s %.4f\n", k.c_str(), v);
  });
}
