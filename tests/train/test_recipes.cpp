#include <filesystem>

#include "catch_torch.h"
#include "core/config.h"
#include "core/threads.h"
#include "synth/synth_faces.h"
#include "test_support.h"
#include "train/trainer.h"

namespace config = wtp::config;
namespace fs = std::filesystem;

namespace {

void set(config::Node& root, const std::string& assignment) {
  config::apply_override(root, assignment);
}

/// Loads configs/<name>.yaml and shrinks it to one step per stage on the synthetic data.
config::Node shrunk(const std::string& name, const fs::path& synth, const fs::path& out) {
  auto node = config::load_file((wtp::test::source_dir() / "configs" / (name + ".yaml")).string());
  node.erase("synth");  // the test's own synthetic data instead
  set(node, "out=" + (out / name).string());
  set(node, "data.workers=1");
  set(node, "data.min_images=2");
  set(node, "data.eval_batch_size=16");
  set(node, "data.valid_pairs=100");
  config::Node* stages = node.find("stages");
  REQUIRE(stages);
  for (auto& stage : stages->items()) {
    stage.set("epochs", config::Node::scalar("1"));
    stage.set("max_steps_per_epoch", config::Node::scalar("1"));
    config::Node* sampler = stage.find("sampler");
    REQUIRE(sampler);
    if (sampler->is_map() && sampler->find("classes_per_batch")) {
      sampler->set("classes_per_batch", config::Node::scalar("4"));
      sampler->set("images_per_class", config::Node::scalar("2"));
    }
    if (sampler->is_map() && sampler->find("batch_size"))
      sampler->set("batch_size", config::Node::scalar("4"));
  }
  const std::string lfw = (synth / "lfw").string();
  const std::string celeba = (synth / "celeba").string();
  // The pretrained backbones are not downloaded in tests (test_init_weights.cpp checks
  // their key mapping on files Python writes).
  if (name == "group_loss" || name == "siamese_bce") set(node, "init.checkpoint=''");
  if (name == "group_loss") {
    set(node, "data.dataset.root=" + celeba);
    set(node, "data.valid.root=" + celeba);
    set(node, "data.test.root=" + lfw);
    set(node, "data.test_pairs=" + lfw + "/pairs.txt");
  } else if (name == "arcface_iresnet50") {  // the synthetic images, resized, no alignment
    node.erase("align");
    for (const char* split : {"dataset", "valid"}) {
      set(node, std::string("data.") + split + ".root=" + celeba);
      set(node, std::string("data.") + split + ".images=img_align_celeba");
    }
    set(node, "data.test.root=" + lfw);
    set(node, "data.test.images=auto");
    set(node, "data.test_pairs=" + lfw + "/pairs.txt");
    set(node, "data.transforms.train=[{name: resize, size: 112}]");
    set(node, "data.transforms.eval=[{name: resize, size: 112}]");
    set(node, "model.backbone.depth=18");         // the same family, a quarter of the compute
  } else if (name.rfind("quickstart", 0) == 0) {  // synthetic CelebA, split by identity
    set(node, "data.dataset.root=" + celeba);
  } else if (name == "liveness") {
    set(node, "data.dataset.root=" + (synth / "cew").string());
    set(node, "init.checkpoint=" + (out / "group_loss" / "checkpoints" / "best.pt").string());
  } else {
    set(node, "data.dataset.root=" + lfw);
    set(node, "data.split.train=0.5");
    set(node, "data.split.valid=0.25");
    set(node, "data.split.test=0.25");
  }
  return node;
}

}  // namespace

TEST_CASE("every recipe runs one short step per stage on synthetic data", "[train][recipes]") {
  wtp::set_threads(2);
  wtp::test::TempDir dir;
  wtp::synth::SynthOptions synth;
  synth.out = (dir / "synth").string();
  synth.identities = 12;
  synth.images_per_identity = 4;
  synth.size = 32;
  synth.threads = 1;
  wtp::synth::run_synth(synth);
  wtp::train::RunOptions quiet;
  quiet.progress = false;
  // group_loss first: liveness starts from its backbone.
  for (const std::string name :
       {"contrastive", "siamese_bce", "group_loss", "liveness", "quickstart", "quickstart_arcface",
        "quickstart_cosface", "quickstart_proxy_anchor", "quickstart_triplet",
        "quickstart_multi_similarity", "arcface_iresnet50"}) {
    INFO(name);
    auto result = wtp::train::run_train(shrunk(name, dir / "synth", dir.path()), quiet);
    CHECK_FALSE(result.interrupted);
    CHECK(result.steps >= 1);
    CHECK(fs::exists(dir / name / "eval.json"));
    CHECK_FALSE(result.test.empty());
  }
}

TEST_CASE("a recipe's align step aligns its data before training, once", "[train][recipes]") {
  wtp::set_threads(1);
  wtp::test::TempDir dir;
  const std::string d = dir.path().string();
  const std::string recipe =
      "out: " + d + "/run\n" +
      "test: false\n"
      "synth: {out: " +
      d +
      "/synth, identities: 12, images_per_identity: 4, size: 128, "
      "seed: 12, threads: 1}\n"
      "align: {input: " +
      d + "/synth/cew, output: " + d +
      "/aligned, size: 32, "
      "no_face: skip, threads: 1}\n"
      "data:\n"
      "  dataset: {name: cew, root: " +
      d +
      "/aligned}\n"
      "  label: eye_state\n"
      "  split: {mode: image, train: 0.75, valid: 0.25, test: 0.0, seed: 0}\n"
      "  workers: 1\n"
      "  transforms: {train: [{name: resize, size: 32}], eval: [{name: resize, size: 32}]}\n"
      "model:\n"
      "  name: liveness\n"
      "  backbone: {name: siamese_cnn, input_size: 32, channels: [4], hidden: [8],\n"
      "             embedding_dim: 4}\n"
      "  freeze_backbone: false\n"
      "validation: {kind: classification, metric: accuracy}\n"
      "stages:\n"
      "  - {name: s, epochs: 1, max_steps_per_epoch: 1, loss: bce,\n"
      "     sampler: {name: random, batch_size: 4}}\n";
  wtp::train::RunOptions quiet;
  quiet.progress = false;
  auto result = wtp::train::run_train(config::parse(recipe, "align_recipe.yaml"), quiet);
  CHECK(result.steps == 1);
  // The run trained on the aligned tree: 32 x 32 faces in CEW's layout, no image without a
  // face, every split image among them.
  const fs::path faces = dir / "aligned" / "dataset_B_FacialImages";
  REQUIRE(fs::exists(dir / "aligned" / "alignment.csv"));
  std::size_t aligned = 0;
  fs::path one_face;
  for (const auto& e : fs::recursive_directory_iterator(faces))
    if (e.path().extension() == ".jpg") {
      ++aligned;
      one_face = e.path();
    }
  std::size_t synthetic = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "synth" / "cew"))
    if (e.path().extension() == ".jpg") ++synthetic;
  CHECK(aligned > 0);
  CHECK(aligned < synthetic);  // Haar misses some of the small synthetic faces: skipped
  // A second run resumes: no face is aligned again.
  const auto before = fs::last_write_time(one_face);
  auto again = config::parse(recipe, "align_recipe.yaml");
  config::apply_override(again, "out=" + d + "/run2");
  result = wtp::train::run_train(again, quiet);
  CHECK(result.steps == 1);
  CHECK(fs::last_write_time(one_face) == before);
}
