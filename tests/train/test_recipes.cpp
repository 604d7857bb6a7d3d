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
  for (const std::string name : {"contrastive", "siamese_bce", "group_loss", "liveness"}) {
    INFO(name);
    auto result = wtp::train::run_train(shrunk(name, dir / "synth", dir.path()), quiet);
    CHECK_FALSE(result.interrupted);
    CHECK(result.steps >= 1);
    CHECK(fs::exists(dir / name / "eval.json"));
    CHECK_FALSE(result.test.empty());
  }
}
