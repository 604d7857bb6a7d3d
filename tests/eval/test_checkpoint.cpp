// The checkpoint path of wtp-eval: train::RunEvaluator's flip averaging on a known case, and
// `wtp-eval --checkpoint` on a tiny wtp-train run (its eval.json reproduced exactly).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "catch_torch.h"
#include "core/config.h"
#include "core/random.h"
#include "data/image_folder.h"
#include "eval/evaluate.h"
#include "io/npy.h"
#include "models/model_registry.h"
#include "test_support.h"
#include "train/run_evaluator.h"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
namespace config = wtp::config;

namespace {

/// Writes `count` random-noise 24x24 colour PNGs per class into root/<class>/, and their
/// mirror images (flipped left-right) into mirror_root/<class>/ under the same names.
void write_images(const fs::path& root, const fs::path& mirror_root, int classes, int count) {
  wtp::Rng rng(7);
  for (int c = 0; c < classes; ++c) {
    const std::string name = "c" + std::to_string(c);
    fs::create_directories(root / name);
    fs::create_directories(mirror_root / name);
    for (int i = 0; i < count; ++i) {
      cv::Mat img(24, 24, CV_8UC3);
      for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 24; ++x)
          for (int ch = 0; ch < 3; ++ch)
            img.at<cv::Vec3b>(y, x)[ch] = static_cast<unsigned char>(rng.integer(0, 255));
      cv::Mat mirrored;
      cv::flip(img, mirrored, 1);
      const std::string file = std::to_string(i) + ".png";  // lossless
      REQUIRE(cv::imwrite((root / name / file).string(), img));
      REQUIRE(cv::imwrite((mirror_root / name / file).string(), mirrored));
    }
  }
}

wtp::test::CommandResult tool(const std::string& name, const std::string& args) {
  return wtp::test::run_command((wtp::test::bin_dir() / name).string() +
                                " --log-level warn --threads 2 " + args);
}

nlohmann::json read_json(const fs::path& path) {
  return nlohmann::json::parse(wtp::test::read_file(path));
}

/// A tiny run (tests/support's tiny base: 30 synthetic identities x 6 images at 32 px, a
/// small CNN), one short classification epoch, retrieval validation, test at the end.
void write_tiny_run_config(const fs::path& dir) {
  wtp::test::write_tiny_base(dir);
  std::ofstream(dir / "tiny.yaml")
      << "include: tiny_base.yaml\n"
      << "data:\n"
      << "  eval_batch_size: 16\n"
      << "  transforms: {train: [{name: horizontal_flip}, {name: resize, size: 32}]}\n"
      << "validation: {retrieval: {ks: [1, 2, 4]}}\n"
      << "stages:\n"
      << "  - name: classification\n"
      << "    epochs: 1\n"
      << "    loss: cross_entropy\n"
      << "    sampler: {name: class_balanced, classes_per_batch: 6, images_per_class: 3}\n"
      << "    optimizer: {name: adam, lr: 0.002}\n";
}

}  // namespace

TEST_CASE("RunEvaluator: a flip-averaged embedding is the mean of the image's and its mirror's",
          "[eval][checkpoint]") {
  wtp::test::TempDir dir;
  write_images(dir / "plain", dir / "mirror", 2, 5);
  wtp::data::ImageFolderOptions folder;
  folder.root = (dir / "plain").string();
  const auto plain = wtp::data::load_image_folder(folder);
  folder.root = (dir / "mirror").string();
  const auto mirror = wtp::data::load_image_folder(folder);
  REQUIRE(plain.size() == 10);

  torch::manual_seed(5);
  auto model = wtp::models::model_registry().create(config::decode_component(
      config::parse("name: embedding_head\n"
                    "backbone: {name: siamese_cnn, input_size: 24, channels: [4, 8],\n"
                    "           hidden: [16], embedding_dim: 8, dropout: 0.0}\n"
                    "num_classes: 3\n",
                    "model.yaml"),
      "model"));
  wtp::train::TrainConfig cfg;
  cfg.data.workers = 1;
  cfg.data.eval_batch_size = 4;   // several batches, the last one short
  cfg.data.transforms.eval = {};  // images already at the model's 24 x 24
  cfg.data.transforms.eval.push_back(
      config::decode_component(config::parse("{name: resize, size: 24}", "t.yaml"), "t"));
  wtp::train::RunEvaluator evaluator(model, cfg, torch::kCPU);

  wtp::train::EvalPass pass;
  pass.logits = true;
  const auto a = evaluator.embed(plain, pass);
  const auto b = evaluator.embed(mirror, pass);
  pass.flip = true;
  const auto f = evaluator.embed(plain, pass);
  REQUIRE(a.embeddings.sizes() == torch::IntArrayRef({10, 8}));
  REQUIRE(f.embeddings.sizes() == a.embeddings.sizes());
  REQUIRE(a.logits.sizes() == torch::IntArrayRef({10, 3}));
  // The model sees the mirror image: flipping changes every embedding...
  CHECK((a.embeddings - b.embeddings).abs().max().item<double>() > 1e-3);
  // ... and the flip-averaged one is exactly (up to float rounding) the mean of the two.
  CHECK(torch::allclose(f.embeddings, (a.embeddings + b.embeddings) / 2, 1e-5, 1e-6));
  CHECK(torch::allclose(f.logits, (a.logits + b.logits) / 2, 1e-5, 1e-6));
  // Without flip, embed is deterministic and leaves the model in the mode it found; logits
  // are kept only when asked for (or when validation.kind reads them).
  const auto again = evaluator.embed(plain, {});
  CHECK(torch::equal(again.embeddings, a.embeddings));
  CHECK_FALSE(again.logits.defined());
  CHECK(model->is_training());
}

TEST_CASE("wtp-eval --checkpoint reproduces the run's test numbers", "[eval][checkpoint]") {
  wtp::test::TempDir dir;
  write_tiny_run_config(dir.path());
  auto r = tool("wtp-train", "--config " + (dir / "tiny.yaml").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const fs::path run = dir / "run";
  const std::string best = (run / "checkpoints" / "best.pt").string();
  const auto expected = read_json(run / "eval.json");
  REQUIRE(expected.contains("recall_at_1"));
  REQUIRE(expected.contains("nmi"));

  // Same model, same split (splits.txt), same evaluation: every number identical.
  r = tool("wtp-eval", "--checkpoint " + best + " --out " + (dir / "out").string() +
                           " --save-embeddings " + (dir / "emb" / "test.npy").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto got = read_json(dir / "out" / "report.json");
  for (const auto& [key, value] : expected.items()) {
    INFO(key);
    REQUIRE(got.contains(key));
    CHECK(got[key] == value);
  }
  CHECK(fs::exists(dir / "out" / "report.md"));
  CHECK_THAT(r.output, Contains("recall_at_1"));

  // The saved embeddings read back through --embeddings give the same retrieval numbers.
  const auto emb = wtp::io::read_npy(dir / "emb" / "test.npy");
  const auto labels = wtp::io::read_npy(dir / "emb" / "test.labels.npy");
  CHECK(emb.scalar_type() == torch::kFloat);
  CHECK(labels.scalar_type() == torch::kLong);
  CHECK(emb.size(0) == expected["embeddings"].get<double>());
  CHECK(emb.size(1) == expected["embedding_dim"].get<double>());
  r = tool("wtp-eval", "--embeddings " + (dir / "emb" / "test.npy").string() + " --labels " +
                           (dir / "emb" / "test.labels.npy").string() + " --k 1,2,4 --out " +
                           (dir / "back.json").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto back = read_json(dir / "back.json");
  for (const char* key : {"recall_at_1", "recall_at_4", "map_at_r", "r_precision"})
    CHECK(back[key] == expected[key]);

  // --flip runs and changes the embeddings.
  r = tool("wtp-eval", "--checkpoint " + best + " --flip --out " +
                           (dir / "flip" / "r.json").string() + " --save-embeddings " +
                           (dir / "flip" / "test.npy").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto flipped = wtp::io::read_npy(dir / "flip" / "test.npy");
  REQUIRE(flipped.sizes() == emb.sizes());
  CHECK((flipped - emb).abs().max().item<double>() > 1e-4);
  CHECK(fs::exists(dir / "flip" / "r.json"));

  // --config overrides the run's configuration: the synthetic LFW set with its pairs file
  // gives the 10-fold protocol and the plots.
  std::ofstream(dir / "lfw.yaml") << "data:\n  test: {name: lfw, root: "
                                  << (dir / "synth" / "lfw").string() << "}\n  test_pairs: "
                                  << (dir / "synth" / "lfw" / "pairs.txt").string() << "\n";
  r = tool("wtp-eval", "--checkpoint " + best + " --config " + (dir / "lfw.yaml").string() +
                           " --out " + (dir / "lfw").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto lfw = read_json(dir / "lfw" / "report.json");
  CHECK(lfw["pairs_verification_folds"].get<double>() == 10);
  CHECK(lfw.contains("pairs_accuracy_mean"));
  CHECK(lfw.contains("pairs_auc"));
  CHECK(lfw["embeddings"].get<double>() > expected["embeddings"].get<double>());
  CHECK(fs::file_size(dir / "lfw" / "roc.png") > 1000);
  CHECK(fs::file_size(dir / "lfw" / "threshold_accuracy.png") > 1000);

  // The split is the run's: without splits.txt there is nothing to evaluate, and none is
  // drawn anew.
  fs::rename(run / "splits.txt", dir / "splits.txt.bak");
  r = tool("wtp-eval", "--checkpoint " + best + " --out " + (dir / "none").string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("splits.txt is missing"));
  CHECK_FALSE(fs::exists(run / "splits.txt"));
  fs::rename(dir / "splits.txt.bak", run / "splits.txt");

  // Flags of the other inputs are refused with the reason.
  r = tool("wtp-eval", "--checkpoint " + best + " --restarts 5 --out " + (dir / "x").string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("--restarts"));
  r = tool("wtp-eval", "--embeddings " + (dir / "emb" / "test.npy").string() + " --labels " +
                           (dir / "emb" / "test.labels.npy").string() + " --flip");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("need --checkpoint"));
}
