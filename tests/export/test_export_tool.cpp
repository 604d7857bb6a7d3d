// Export of trained runs: wtp-train's export at the end of a run, wtp-export on a checkpoint
// (metadata from the run), and wtp-eval --model on good, damaged and modified archives.
#include <caffe2/serialize/inline_container.h>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "catch_torch.h"
#include "core/config.h"
#include "data/image_folder.h"
#include "download/md5.h"
#include "eval/liveness.h"
#include "export/export_checkpoint.h"
#include "export/export_model.h"
#include "export/exported_eval.h"
#include "export/traced_module.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/metrics_csv.h"
#include "train/trained_model.h"
#include "train/trainer.h"

namespace ex = wtp::exporter;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

wtp::test::CommandResult tool(const std::string& name, const std::string& args) {
  return wtp::test::run_command((wtp::test::bin_dir() / name).string() +
                                " --log-level warn --threads 1 " + args + " 2>&1");
}

/// A tiny run validated by verification (so metrics.csv has threshold_mean), with the
/// export at the end switched on: 12 synthetic identities x 5 images at 32 px, one epoch.
fs::path train_tiny_run(const fs::path& dir) {
  std::ofstream(dir / "recipe.yaml")
      << "out: " << (dir / "run").string() << "\n"
      << "export: {enabled: true, what: [embedding]}\n"
      << "synth: {out: " << (dir / "synth").string()
      << ", identities: 12, images_per_identity: 5, size: 32, threads: 1}\n"
      << "data:\n"
      << "  dataset: {name: celeba, root: " << (dir / "synth" / "celeba").string() << "}\n"
      << "  split: {train: 0.5, valid: 0.25, test: 0.25}\n"
      << "  workers: 1\n"
      << "  valid_pairs: 60\n"
      << "  transforms: {train: [{name: resize, size: 32}], eval: [{name: resize, size: 32}]}\n"
      << "model:\n"
      << "  name: embedding_head\n"
      << "  backbone: {name: siamese_cnn, input_size: 32, channels: [4, 8], hidden: [16],\n"
      << "             embedding_dim: 8}\n"
      << "  num_classes: auto\n"
      << "validation: {kind: verification, metric: accuracy_mean}\n"
      << "test: false\n"
      << "stages:\n"
      << "  - {name: only, epochs: 1, loss: cross_entropy,\n"
      << "     sampler: {name: class_balanced, classes_per_batch: 3, images_per_class: 2}}\n";
  auto r = tool("wtp-train", "--no-progress --config " + (dir / "recipe.yaml").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Contains("exported: " + (dir / "run" / "model.ts").string()));
  return dir / "run";
}

/// The valid threshold_mean rows of a metrics.csv.
std::vector<double> valid_thresholds(const fs::path& metrics) {
  std::vector<double> out;
  for (const auto& r : wtp::train::read_metric_rows(metrics))
    if (r.split == "valid" && r.metric == "threshold_mean") out.push_back(r.value);
  return out;
}

}  // namespace

TEST_CASE("a trained run exports at the end, then wtp-export and wtp-eval --model use it",
          "[export][tool]") {
  wtp::test::TempDir dir;
  const fs::path run = train_tiny_run(dir.path());
  const fs::path best = run / "checkpoints" / "best.pt";

  {  // wtp-train wrote model.ts with the run's metadata
    const auto meta = ex::read_meta((run / "model.ts").string());
    CHECK(meta["what"] == "embedding");
    CHECK(meta["model"] == "embedding_head");
    CHECK(meta["checkpoint"]["epoch"] == 1);
    CHECK(meta["checkpoint"]["stage_name"] == "only");
    wtp::download::Md5 md5;
    md5.update(wtp::train::read_checkpoint_state(best.string()).config_yaml);
    CHECK(meta["config_md5"] == md5.hex_digest());
    const auto thresholds = valid_thresholds(run / "metrics.csv");
    REQUIRE(thresholds.size() == 1);  // one epoch validated
    CHECK(meta["verification"]["threshold"].get<double>() == thresholds[0]);
    // The operating points on every validation pair: each within its FMR target, stricter
    // targets at smaller distances.
    const auto& points = meta["verification"]["operating_points"];
    INFO(meta["verification"].dump());
    REQUIRE(points.is_array());
    REQUIRE_FALSE(points.empty());
    double previous_target = 1.0, previous_threshold = 3.0;
    for (const auto& p : points) {
      CHECK(p["fmr"].get<double>() <= p["fmr_target"].get<double>());
      CHECK(p["fnmr"].get<double>() >= 0.0);
      CHECK(p["fnmr"].get<double>() <= 1.0);
      CHECK(p["fmr_target"].get<double>() < previous_target);
      CHECK(p["threshold"].get<double>() <= previous_threshold);
      previous_target = p["fmr_target"].get<double>();
      previous_threshold = p["threshold"].get<double>();
    }
    CHECK_THAT(meta["verification"]["operating_points_source"].get<std::string>(),
               Contains("impostor pairs"));
    CHECK(ex::validation_threshold(run / "metrics.csv", "only", 1) == thresholds[0]);
    CHECK_FALSE(ex::validation_threshold(run / "metrics.csv", "only", 2).has_value());
    CHECK_FALSE(ex::validation_threshold(run / "missing.csv", "only", 1).has_value());
  }

  {  // wtp-export writes an archive equal to the trained model
    const fs::path out = dir / "exported" / "m.ts";
    auto r = tool("wtp-export", "--checkpoint " + best.string() + " --out " + out.string());
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("max abs difference"));
    auto loaded = ex::load_exported(out.string());
    auto trained = wtp::train::load_trained_model(best.string(), "cpu");
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({3, 3, 32, 32});
    auto expected = trained.model->forward(x).embedding;
    expected = expected / expected.norm(2, 1, true);
    auto got = ex::run_method(loaded.module, "forward", {x})[0];
    const double diff = (got - expected).abs().max().item<double>();
    CHECK(diff <= 1e-5);
  }

  {  // wtp-export refuses what the model cannot do, with exit 2
    auto r = tool("wtp-export", "--checkpoint " + best.string() + " --what siamese --out " +
                                    (dir / "s.ts").string());
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("no pair head"));
    CHECK_FALSE(fs::exists(dir / "s.ts"));
    r = tool("wtp-export", "--what detector --out " + (dir / "d.ts").string());
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("--weights"));
    r = tool("wtp-export", "--checkpoint " + (dir / "none.pt").string() + " --out x.ts");
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("does not exist"));
    r = tool("wtp-export", "--checkpoint " + best.string() + " --what nonsense --out x.ts");
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("embedding, siamese, liveness, detector"));
  }

  {  // wtp-eval --model describes a good archive and evaluates an image folder
    auto r = tool("wtp-eval", "--model " + (run / "model.ts").string());
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("embedding size: 8"));
    CHECK_THAT(r.output, Contains("32 x 32"));
    // The synthetic LFW tree is an image folder (one sub-folder per identity).
    const fs::path lfw = dir / "synth" / "lfw" / "lfw-deepfunneled";
    REQUIRE(fs::is_directory(lfw));
    r = tool("wtp-eval", "--model " + (run / "model.ts").string() + " --images " + lfw.string() +
                             " --out " + (dir / "report" / "report.json").string() +
                             " --k 1 --restarts 1");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(fs::exists(dir / "report" / "report.json"));
    CHECK(fs::exists(dir / "report" / "embeddings.npy"));
    CHECK_THAT(r.output, Contains("recall_at_1"));
  }

  {  // wtp-eval --model: a truncated or modified archive fails with a clear error
    const std::string bytes = wtp::test::read_file(run / "model.ts");
    std::ofstream(dir / "truncated.ts", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
    auto r = tool("wtp-eval", "--model " + (dir / "truncated.ts").string());
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("not a readable TorchScript archive"));
    CHECK_THAT(r.output, Contains("export it again"));
    // Flip one byte inside the largest weight record.
    std::string modified = bytes;
    {
      caffe2::serialize::PyTorchStreamReader reader((run / "model.ts").string());
      std::string largest;
      std::size_t size = 0;
      for (const auto& name : reader.getAllRecords()) {
        auto [data, n] = reader.getRecord(name);
        if (name.rfind("data/", 0) == 0 && n > size) {
          size = n;
          largest = name;
        }
      }
      const std::size_t at = reader.getRecordOffset(largest) + size / 2;
      modified[at] = static_cast<char>(modified[at] ^ 0x01);
    }
    std::ofstream(dir / "modified.ts", std::ios::binary) << modified;
    r = tool("wtp-eval", "--model " + (dir / "modified.ts").string());
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Contains("modified.ts' was modified or is damaged"));
    CHECK_THAT(r.output, Contains("export it again"));
  }
}

TEST_CASE("a run validated by retrieval gets its threshold chosen at export", "[export]") {
  wtp::test::TempDir dir;
  std::ostringstream y;
  y << "out: " << (dir / "run").string() << "\n"
    << "synth: {out: " << (dir / "synth").string()
    << ", identities: 12, images_per_identity: 5, size: 32, threads: 1}\n"
    << "data:\n"
    << "  dataset: {name: celeba, root: " << (dir / "synth" / "celeba").string() << "}\n"
    << "  split: {train: 0.5, valid: 0.25, test: 0.25}\n"
    << "  workers: 1\n"
    << "  valid_pairs: 60\n"
    << "  transforms: {train: [{name: resize, size: 32}], eval: [{name: resize, size: 32}]}\n"
    << "model: {name: siamese_cnn, input_size: 32, channels: [4, 8], hidden: [16], "
       "embedding_dim: 8}\n"
    << "validation: {kind: retrieval, metric: recall_at_1, retrieval: {ks: [1]}}\n"
    << "test: false\n"
    << "stages:\n"
    << "  - {name: only, epochs: 1, loss: contrastive, sampler: {name: pairs, batch_size: 8}}\n";
  {  // export.what is checked with the rest of the config, before any training
    auto node = wtp::config::parse(y.str() + "export: {enabled: true, what: [embeding]}\n", "bad");
    CHECK_THROWS_WITH(wtp::train::decode_train_config(node),
                      Contains("export.what[0]") && Contains("unknown value 'embeding'") &&
                          Contains("embedding, siamese"));
    node = wtp::config::parse(y.str() + "export: {enabled: true, what: [detector]}\n", "bad");
    CHECK_THROWS_WITH(wtp::train::decode_train_config(node),
                      Contains("'detector' is not an archive of a trained model"));
  }
  wtp::train::RunOptions run_options;
  run_options.progress = false;
  const auto result =
      wtp::train::run_train(wtp::config::parse(y.str(), "retrieval_run.yaml"), run_options);
  const auto best = fs::path(result.run_dir) / "checkpoints" / "best.pt";
  ex::ExportOptions options;
  const auto report = ex::export_checkpoint(best.string(), (dir / "m.ts").string(), options);
  const auto& v = report.meta["verification"];
  INFO(v.dump());
  REQUIRE(v["threshold"].is_number());
  // A distance between unit vectors, chosen on pairs of the validation split.
  CHECK(v["threshold"].get<double>() > 0.0);
  CHECK(v["threshold"].get<double>() < 2.0);
  CHECK(v["accuracy"].get<double>() >= 0.5);
  CHECK_THAT(v["source"].get<std::string>(), Contains("chosen at export"));
  // The siamese kind needs a pair head; liveness a single logit.
  options.what = ex::ExportKind::kSiamese;
  CHECK_THROWS_WITH(ex::export_checkpoint(best.string(), (dir / "s.ts").string(), options),
                    Contains("no pair head"));
}

TEST_CASE("a liveness run exports the hysteresis pair chosen on its validation split",
          "[export][tool]") {
  wtp::test::TempDir dir;
  const fs::path synth = dir / "synth";
  std::ofstream(dir / "recipe.yaml")
      << "out: " << (dir / "run").string() << "\n"
      << "export: {enabled: true, what: [liveness], file: live.ts}\n"
      << "synth: {out: " << synth.string()
      << ", identities: 12, images_per_identity: 5, size: 32, threads: 1}\n"
      << "data:\n"
      << "  dataset: {name: cew, root: " << (synth / "cew").string() << "}\n"
      << "  label: eye_state\n"
      << "  split: {mode: image, train: 0.5, valid: 0.5, test: 0.0}\n"
      << "  workers: 1\n"
      << "  transforms: {train: [{name: resize, size: 32}], eval: [{name: resize, size: 32}]}\n"
      << "model:\n"
      << "  name: liveness\n"
      << "  freeze_backbone: false\n"
      << "  backbone: {name: siamese_cnn, input_size: 32, channels: [4, 8], hidden: [16],\n"
      << "             embedding_dim: 8}\n"
      << "validation: {kind: classification, metric: accuracy}\n"
      << "test: false\n"
      << "stages:\n"
      << "  - {name: only, epochs: 1, loss: bce, sampler: {name: random, batch_size: 8}}\n";
  auto r = tool("wtp-train", "--no-progress --config " + (dir / "recipe.yaml").string());
  INFO(r.output);
  REQUIRE(r.status == 0);
  const fs::path archive = dir / "run" / "live.ts";
  CHECK_THAT(r.output, Contains("exported: " + archive.string()));
  const auto meta = ex::read_meta(archive.string());
  const auto& live = meta["liveness"];
  INFO(live.dump());
  REQUIRE(live.contains("open_threshold"));
  CHECK(live["open_threshold"].get<double>() < live["closed_threshold"].get<double>());
  CHECK(live["blink"]["open_threshold"] == live["open_threshold"]);
  CHECK(live["blink"]["closed_threshold"] == live["closed_threshold"]);

  // Independently: the archive itself on the validation images listed in splits.txt.
  auto loaded = ex::load_exported(archive.string());
  std::ifstream splits(dir / "run" / "splits.txt");
  std::string line;
  std::vector<double> scores;
  std::vector<std::int64_t> labels;
  while (std::getline(splits, line)) {
    if (line.rfind("valid\t", 0) != 0) continue;
    const std::string file = line.substr(6);
    cv::Mat bgr = cv::imread((synth / "cew" / "dataset_B_FacialImages" / file).string());
    REQUIRE(!bgr.empty());
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    auto input = torch::from_blob(rgb.data, {1, 32, 32, 3}, torch::kUInt8).clone();
    scores.push_back(
        loaded.module.get_method("forward_uint8")({input}).toTensor().flatten()[0].item<double>());
    labels.push_back(file.rfind("ClosedFace/", 0) == 0 ? 1 : 0);
  }
  REQUIRE(scores.size() == 30);
  const auto t = wtp::eval::choose_eye_state_thresholds(torch::tensor(scores),
                                                        torch::tensor(labels), ex::kEyeStateError);
  CHECK(live["open_threshold"].get<double>() == Approx(t.open_threshold).margin(1e-5));
  CHECK(live["closed_threshold"].get<double>() == Approx(t.closed_threshold).margin(1e-5));
  CHECK(live["thresholds"]["open_frames"] == t.open_frames);
  CHECK(live["thresholds"]["closed_frames"] == t.closed_frames);
  CHECK(live["thresholds"]["error"] == ex::kEyeStateError);
}
