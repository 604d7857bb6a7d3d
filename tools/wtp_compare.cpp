// wtp-compare: trains several recipes with the same seeds and tabulates their test metrics
// (see src/train/compare.h and configs/compare/).
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/cli.h"
#include "train/compare.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-compare",
                      "Train recipes with the same seeds and compare their test metrics");
  tool.bind("--out", "out", "output folder (runs, compare.md, compare.csv, curves.png)");
  bool no_progress = false;
  tool.app().add_flag("--no-progress", no_progress, "no progress bars (log lines only)");
  return tool.run(argc, argv, [&] {
    if (tool.config_path().empty())
      throw wtp::UsageError("give the comparison with --config FILE (see configs/compare/)");
    const auto options = wtp::config::decode<wtp::train::CompareOptions>(tool.config());
    wtp::train::RunOptions run;
    run.progress = !no_progress;
    const auto base = std::filesystem::path(tool.config_path()).parent_path();
    const auto result = wtp::train::run_compare(options, base, run);
    if (result.interrupted) {
      std::fprintf(stderr, "wtp-compare: interrupted; run the same command to continue\n");
      std::exit(130);
    }
    std::printf("%s\nwritten: %s/compare.md, compare.csv, curves.png\n", result.markdown.c_str(),
                options.out.c_str());
  });
}
