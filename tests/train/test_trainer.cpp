#include <filesystem>
#include <fstream>
#include <torch/torch.h>

#include "catch_torch.h"
#include "core/config.h"
#include "core/threads.h"
#include "test_support.h"
#include "train/metrics_csv.h"
#include "train/trainer.h"

namespace config = wtp::config;
namespace fs = std::filesystem;
using wtp::train::run_train;
using wtp::train::RunOptions;

namespace {

/// A small synthetic run (tests/support's tiny base: 30 identities x 6 images at 32 px, a
/// tiny CNN), a classification stage then a Group Loss stage. `extra` (YAML) is merged on
/// top to override keys.
config::Node small_run(const fs::path& dir, const std::string& extra = "") {
  auto node = config::parse(wtp::test::tiny_base_yaml(dir), "tiny_base.yaml");
  config::merge(node, config::parse(R"(
data:
  transforms: {train: [{name: horizontal_flip}, {name: resize, size: 32}]}
validation: {retrieval: {ks: [1, 2, 4]}}
stages:
  - name: classification
    epochs: 3
    loss: cross_entropy
    sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3}
    optimizer: {name: adam, lr: 0.002}
  - name: group
    epochs: 3
    loss: {name: group_loss, temperature: 12, labelled_per_class: 1}
    sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3}
    optimizer: {name: adam, lr: 0.001}
    scheduler: {name: step, step_size: 2, gamma: 0.5}
)",
                                    "small_run.yaml"));
  if (!extra.empty()) config::merge(node, config::parse(extra, "extra.yaml"));
  return node;
}

RunOptions quiet() {
  RunOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("a small Group Loss run learns and writes a complete run directory", "[train][trainer]") {
  wtp::set_threads(2);
  wtp::test::TempDir dir;
  auto result = run_train(small_run(dir.path()), quiet());
  const fs::path run = dir / "run";
  CHECK_FALSE(result.interrupted);
  for (const char* f : {"config.yaml", "splits.txt", "metrics.csv", "curves.png", "eval.json",
                        "train.log", "checkpoints/last.pt", "checkpoints/best.pt"})
    CHECK(fs::exists(run / f));

  const auto rows = wtp::train::read_metric_rows(run / "metrics.csv");
  std::vector<double> epoch_loss;
  for (const auto& r : rows)
    if (r.metric == "epoch_loss" && r.stage == "classification") epoch_loss.push_back(r.value);
  REQUIRE(epoch_loss.size() == 3);
  // Loss falls: the last classification epoch is at least 20 % below the first.
  CHECK(epoch_loss.back() < 0.8 * epoch_loss.front());
  // Unseen test identities: 6 people x 6 images, chance Recall@1 = 5/35 = 0.14.
  INFO("test recall_at_1 " << result.test.at("recall_at_1"));
  CHECK(result.test.at("recall_at_1") > 0.14 + 0.25);
  CHECK(result.test.count("nmi"));
  CHECK(result.test.count("map_at_r"));
  // The resolved config re-decodes to the same run.
  auto resolved = config::load_file((run / "config.yaml").string());
  CHECK(wtp::train::decode_train_config(resolved).stages.size() == 2);
}

TEST_CASE(
    "a run interrupted mid-epoch and at a stage end, then resumed, equals an uninterrupted one",
    "[train][trainer][resume]") {
  wtp::set_threads(2);
  wtp::test::TempDir a, b;
  const std::string shorter =
      "stages:\n"
      "  - {name: classification, epochs: 2, loss: cross_entropy,\n"
      "     sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3},\n"
      "     optimizer: {name: adam, lr: 0.002}}\n"
      "  - {name: group, epochs: 1, loss: {name: group_loss, labelled_per_class: 1},\n"
      "     sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3},\n"
      "     optimizer: {name: adam, lr: 0.001}}\n";
  auto full = run_train(small_run(a.path(), shorter), quiet());
  REQUIRE_FALSE(full.interrupted);

  RunOptions stop = quiet();
  stop.stop_after_steps = 3;  // mid-epoch of the first stage
  auto first = run_train(small_run(b.path(), shorter), stop);
  REQUIRE(first.interrupted);
  CHECK(first.steps == 3);
  RunOptions resume = quiet();
  resume.resume = (b / "run").string();
  resume.stop_after_steps = 5;  // stops again, in the second epoch
  REQUIRE(run_train(config::Node(), resume).interrupted);
  resume.stop_after_steps = 0;
  // Stops again where the first stage has just finished (the caller's epoch callback), so the
  // last resume starts the second stage from a checkpoint that closed the first.
  RunOptions until_stage_end = resume;
  std::vector<std::pair<std::size_t, std::int64_t>> reported;
  until_stage_end.on_epoch = [&](const wtp::train::EpochReport& r) {
    reported.emplace_back(r.stage, r.epoch);
    REQUIRE(r.metric.has_value());
    CHECK(r.valid.at("recall_at_1") == *r.metric);
    return !(r.stage == 0 && r.epoch == 2);
  };
  auto closed = run_train(config::Node(), until_stage_end);
  CHECK(closed.stopped);
  CHECK_FALSE(closed.interrupted);
  CHECK(closed.test.empty());
  CHECK(reported == std::vector<std::pair<std::size_t, std::int64_t>>{{0, 2}});
  auto rest = run_train(config::Node(), resume);
  CHECK_FALSE(rest.interrupted);
  CHECK_FALSE(rest.stopped);

  CHECK(wtp::test::read_file(a / "run" / "metrics.csv") ==
        wtp::test::read_file(b / "run" / "metrics.csv"));
  CHECK(wtp::test::read_file(a / "run" / "eval.json") ==
        wtp::test::read_file(b / "run" / "eval.json"));
}

TEST_CASE("bad configurations fail before any training, naming the key", "[train][config]") {
  wtp::test::TempDir dir;
  auto expect = [&](const std::string& extra, const std::string& message) {
    try {
      run_train(small_run(dir.path(), extra), quiet());
      FAIL("expected an error for: " << extra);
    } catch (const wtp::UsageError& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(message));
    }
    CHECK_FALSE(fs::exists(dir / "run" / "checkpoints" / "last.pt"));
  };
  expect("stages:\n  - {name: x, epohcs: 2}\n",
         "unknown key 'stages[0].epohcs' (did you mean 'epochs'?)");
  expect("validation: {metric: recall_at_3}\n",
         "validation.metric 'recall_at_3' is not reported by validation.kind 'retrieval' (choose "
         "from: recall_at_1, recall_at_2, recall_at_4, map_at_r, r_precision)");
  expect("stages:\n  - {name: a}\n  - {name: b, optimizer: {name: sgd, nesterof: true}}\n",
         "unknown key 'stages[1].optimizer.nesterof' (did you mean 'nesterov'?)");
  expect("validation: {metric: map_at_r, retrieval: {map_at_r: false}}\n",
         "validation.metric 'map_at_r' is not reported");
  expect("stages:\n  - {name: x, loss: {name: group_loss, temprature: 3}}\n",
         "unknown key 'stages[0].loss.temprature'");
  expect("model: {name: embedding_head, backbone: {name: siamese_cnn, embeding_dim: 3}}\n",
         "unknown key 'model.backbone.embeding_dim'");
  expect("data: {transforms: {eval: [{name: resize, size: 24}, {name: letterbox, sise: 3}]}}\n",
         "unknown key 'data.transforms.eval[1].sise'");
  expect("stages:\n  - {name: x, optimizer: {name: adagrad}}\n", "unknown optimizer 'adagrad'");
  expect("data: {transforms: {train: [{name: normalize}]}}\n", "must not contain normalize");
  expect("stages:\n  - {name: x, loss: contrastive}\n",
         "trains on pairs: use sampler: {name: pairs}");
}

TEST_CASE("every recipe in configs/ decodes strictly and rejects a misspelt key",
          "[train][config]") {
  for (const auto& entry : fs::directory_iterator(wtp::test::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml" || entry.path().filename() == "base.yaml") continue;
    INFO(entry.path().string());
    auto node = config::load_file(entry.path().string());
    CHECK_NOTHROW(wtp::train::decode_train_config(node));
    config::apply_override(node, "data.min_imagse=3");
    CHECK_THROWS_WITH(wtp::train::decode_train_config(node),
                      Catch::Contains("unknown key 'data.min_imagse'") &&
                          Catch::Contains("did you mean 'min_images'"));
  }
}
