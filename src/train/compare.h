#pragma once
/// Comparing recipes on equal terms: each recipe is trained once per seed (the same seeds
/// for every recipe; data, split and evaluation stay as the recipes say), and the test
/// metrics become one table, mean and sample standard deviation over the seeds, written
/// as Markdown (compare.md) and CSV (compare.csv, one row per run), with the validation
/// curves of every recipe (mean over the seeds) in curves.png.
///
///     # configs/compare/quickstart_losses.yaml
///     recipes: [../quickstart.yaml, ../quickstart_arcface.yaml]
///     seeds: [0, 1, 2]
///     out: runs/compare_quickstart
///
///     build/bin/wtp-compare --config configs/compare/quickstart_losses.yaml
///
/// A run whose eval.json exists is read back instead of trained again, so an interrupted
/// comparison continues where it stopped.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "train/trainer.h"

namespace wtp::train {

struct CompareOptions {
  /// Recipe files; a relative path is taken from the folder of the comparison's own file.
  std::vector<std::string> recipes;
  std::vector<std::int64_t> seeds{0, 1, 2};  ///< the `seed` of every run of every recipe
  std::string out = "runs/compare";          ///< runs go to out/<recipe>/seed_<seed>
  /// Overrides applied to every run after the seed (`key=value`, as wtp-train's --set).
  std::vector<std::string> set;
  /// Test metrics (eval.json keys) in the Markdown table, in this order.
  std::vector<std::string> metrics{"recall_at_1", "map_at_r", "r_precision", "nmi"};

  template <class V>
  void visit(V& v) {
    v("recipes", recipes, "recipe files to compare (relative to this file)");
    v("seeds", seeds, "seeds every recipe is trained with");
    v("out", out, "output folder (runs, compare.md, compare.csv, curves.png)");
    v("set", set, "overrides key=value applied to every run");
    v("metrics", metrics, "test metrics of the table (eval.json keys)");
  }
  void validate() const;
};

/// One training run of the comparison.
struct CompareRun {
  std::string recipe;  ///< the recipe's file name without .yaml
  std::int64_t seed = 0;
  std::map<std::string, double> test;  ///< its eval.json
  double minutes = 0;                  ///< training wall time (0 when read back)
  /// (epoch, validation metric) over all stages, from its metrics.csv.
  std::vector<std::pair<double, double>> valid_curve;
  std::string valid_metric;  ///< the recipe's validation.metric
};

struct CompareResult {
  std::vector<CompareRun> runs;  ///< recipe-major, seeds in order
  std::string markdown;          ///< the table written to compare.md
  bool interrupted = false;      ///< stopped by Ctrl-C; run again to continue
};

/// The folder of one run: out/<recipe file stem>/seed_<seed>.
std::filesystem::path run_dir(const std::filesystem::path& recipe, std::int64_t seed,
                              const CompareOptions& options);
/// The config one run trains: the recipe, then seed, out (run_dir) and options.set.
config::Node run_config(const std::filesystem::path& recipe, std::int64_t seed,
                        const CompareOptions& options);
/// The recipe files (relative paths taken from `base`), after checking that each exists,
/// that no two share a name, and that every run's config decodes (so a bad `set` stops the
/// comparison before any training). Throws UsageError (ConfigError) naming the problem.
std::vector<std::filesystem::path> check_compare(const CompareOptions& options,
                                                 const std::filesystem::path& base);

/// Trains what is missing, then writes compare.md, compare.csv and curves.png under
/// options.out. `base` is the folder relative recipe paths start from; `run` is passed to
/// every wtp-train run. Throws UsageError for a missing recipe or a bad option
/// (check_compare(), before any training).
CompareResult run_compare(const CompareOptions& options, const std::filesystem::path& base,
                          const RunOptions& run);

/// "0.912 ± 0.004" (3 decimals; the sample standard deviation, omitted for one value).
std::string mean_and_spread(const std::vector<double>& values);

}  // namespace wtp::train
