// wtp-compare's library side (train/compare.h): every recipe x seed trained once, the table
// and CSV, the curves, read-back instead of retraining, and the errors.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "catch_torch.h"
#include "core/error.h"
#include "core/threads.h"
#include "test_support.h"
#include "train/compare.h"

namespace fs = std::filesystem;
using wtp::train::CompareOptions;
using wtp::train::mean_and_spread;

namespace {

/// Two one-epoch recipes on the tiny synthetic base: cross-entropy and the triplet loss.
CompareOptions two_recipes(const fs::path& dir) {
  wtp::test::write_tiny_base(dir, 20);
  const std::string sampler =
      "     sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3},\n"
      "     optimizer: {name: adam, lr: 0.002}}\n";
  std::ofstream(dir / "ce.yaml") << "include: tiny_base.yaml\nstages:\n"
                                 << "  - {name: s, epochs: 1, loss: cross_entropy,\n"
                                 << sampler;
  std::ofstream(dir / "triplet.yaml") << "include: tiny_base.yaml\nstages:\n"
                                      << "  - {name: s, epochs: 1, loss: triplet,\n"
                                      << sampler;
  CompareOptions o;
  o.recipes = {"ce.yaml", "triplet.yaml"};
  o.seeds = {0, 1};
  o.out = (dir / "cmp").string();
  o.set = {"data.workers=1"};
  o.metrics = {"recall_at_1", "nmi"};
  return o;
}

}  // namespace

TEST_CASE("mean_and_spread: mean and sample standard deviation", "[train][compare]") {
  CHECK(mean_and_spread({1, 2, 3}) == "2.000 ± 1.000");
  CHECK(mean_and_spread({0.5}) == "0.500");
  CHECK(mean_and_spread({}) == "n/a");
}

TEST_CASE("compare trains every recipe with every seed and tabulates the test metrics",
          "[train][compare]") {
  wtp::set_threads(1);
  wtp::test::TempDir dir;
  const auto options = two_recipes(dir.path());
  wtp::train::RunOptions quiet;
  quiet.progress = false;
  const auto result = wtp::train::run_compare(options, dir.path(), quiet);
  REQUIRE_FALSE(result.interrupted);
  REQUIRE(result.runs.size() == 4);
  CHECK(result.runs[0].recipe == "ce");
  CHECK(result.runs[1].seed == 1);
  CHECK(result.runs[3].recipe == "triplet");
  for (const auto& run : result.runs) {
    CHECK(run.test.count("recall_at_1") == 1);
    CHECK(run.valid_metric == "recall_at_1");
    CHECK(run.valid_curve.size() == 1);
    CHECK(
        fs::exists(dir / "cmp" / run.recipe / ("seed_" + std::to_string(run.seed)) / "eval.json"));
  }
  // Each seed is its own run: the seed is in its config, and the first losses differ.
  CHECK_THAT(wtp::test::read_file(dir / "cmp" / "ce" / "seed_1" / "config.yaml"),
             Catch::Matchers::Contains("seed: 1"));
  CHECK(wtp::test::read_file(dir / "cmp" / "ce" / "seed_0" / "metrics.csv") !=
        wtp::test::read_file(dir / "cmp" / "ce" / "seed_1" / "metrics.csv"));
  CHECK_THAT(result.markdown, Catch::Matchers::Contains("| recipe | runs | recall_at_1 | nmi |"));
  CHECK_THAT(result.markdown, Catch::Matchers::Contains("| ce | 2 |"));
  CHECK_THAT(result.markdown, Catch::Matchers::Contains("over seeds 0, 1"));
  CHECK(wtp::test::read_file(dir / "cmp" / "compare.md") == result.markdown);
  const auto csv = wtp::test::read_file(dir / "cmp" / "compare.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);
  CHECK(csv.rfind("recipe,seed,minutes,", 0) == 0);
  CHECK(fs::file_size(dir / "cmp" / "curves.png") > 1000);

  // Finished runs are read back, not trained again.
  const auto again = wtp::train::run_compare(options, dir.path(), quiet);
  REQUIRE(again.runs.size() == 4);
  for (const auto& run : again.runs) CHECK(run.minutes == 0);
  CHECK(again.markdown == result.markdown);
}

TEST_CASE("compare refuses a missing recipe, two recipes of one name and repeated seeds",
          "[train][compare]") {
  wtp::test::TempDir dir;
  auto options = two_recipes(dir.path());
  wtp::train::RunOptions quiet;
  options.recipes.push_back("missing.yaml");
  CHECK_THROWS_WITH(wtp::train::run_compare(options, dir.path(), quiet),
                    Catch::Matchers::Contains("missing.yaml does not exist"));
  fs::create_directories(dir / "other");
  fs::copy_file(dir / "ce.yaml", dir / "other" / "ce.yaml");
  options.recipes = {"ce.yaml", "other/ce.yaml"};
  CHECK_THROWS_WITH(wtp::train::run_compare(options, dir.path(), quiet),
                    Catch::Matchers::Contains("two recipes are named ce"));
  options = two_recipes(dir.path());
  options.seeds = {1, 1};
  CHECK_THROWS_AS(wtp::train::run_compare(options, dir.path(), quiet), wtp::UsageError);
  CHECK(!fs::exists(dir / "cmp"));
}

TEST_CASE("every comparison in configs/compare checks: recipes exist, overrides decode",
          "[train][compare]") {
  const fs::path folder = wtp::test::source_dir() / "configs" / "compare";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    INFO(entry.path().string());
    const auto options =
        wtp::config::decode<CompareOptions>(wtp::config::load_file(entry.path().string()));
    CHECK(wtp::train::check_compare(options, folder).size() == options.recipes.size());
    CHECK(options.seeds.size() >= 3);  // the README reports a spread over seeds
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("compare checks every run's config before training any", "[train][compare]") {
  wtp::test::TempDir dir;
  auto o = two_recipes(dir.path());
  o.set.push_back("stages.*.epochss=4");
  CHECK_THROWS_WITH(wtp::train::run_compare(o, dir.path(), {}), Catch::Contains("epochss"));
  CHECK_FALSE(fs::exists(dir / "cmp"));
}
