// `init:` of the recipes: a missing pretrained file stops the run before any data is read
// with the wtp-download command to run; the recipes' key mapping loads files Python writes
// with the upstream layouts (the reference models of tests/models/reference_models.py, whose
// names are those of Cadene's BN-Inception and facenet-pytorch's InceptionResnetV1).
#include <filesystem>

#include "../io/io_test_util.h"
#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"
#include "io/torch_file.h"
#include "models/model_registry.h"
#include "models/weights.h"
#include "test_support.h"
#include "train/init_weights.h"
#include "train/trainer.h"

namespace config = wtp::config;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

TEST_CASE("init: a missing pretrained file stops before any data, naming wtp-download",
          "[train][init]") {
  wtp::test::TempDir dir;
  auto node = config::parse(wtp::test::tiny_base_yaml(dir.path()), "tiny.yaml");
  config::apply_override(node,
                         "stages=[{name: s, epochs: 1, loss: cross_entropy, sampler: "
                         "{name: class_balanced, classes_per_batch: 4, images_per_class: 2}}]");
  const fs::path weights = dir / "data" / "weights" / "bn_inception-52deb4733.pth";
  config::apply_override(node, "init.checkpoint=" + weights.string());
  wtp::train::RunOptions quiet;
  quiet.progress = false;
  CHECK_THROWS_WITH(
      wtp::train::run_train(node, quiet),
      Contains("init.checkpoint '" + weights.string() + "' does not exist") &&
          Contains("run `wtp-download bn-inception-imagenet --root " + (dir / "data").string()));
  CHECK_THROWS_AS(wtp::train::run_train(node, quiet), wtp::UsageError);  // exit code 2
  CHECK_FALSE(fs::exists(dir / "synth"));  // nothing generated or read
  config::apply_override(node, "init.checkpoint=" + (dir / "mine.pt").string());
  CHECK_THROWS_WITH(wtp::train::run_train(node, quiet),
                    Contains("does not exist") && Contains("random weights"));
}

TEST_CASE("init: the recipes load the upstream pretrained layouts written by Python",
          "[train][init][python]") {
  const auto python = wtp::io::test::find_python("torch");
  if (!python) WTP_SKIP("no python3 with torch (apt-get install python3-torch)");
  wtp::test::TempDir dir;
  // Random weights with non-trivial BatchNorm statistics. Cadene's BN-Inception file predates
  // num_batches_tracked and uses the legacy (non-zip) format; facenet-pytorch's is a zip
  // state dict with its VGGFace2 classifier (8631 classes).
  wtp::io::test::run_python(*python, dir.path(),
                            R"(
import sys, torch
sys.path.insert(0, ")" + (wtp::test::source_dir() / "tests" / "models").string() +
                                R"(")
from reference_models import BnInception, InceptionResnetV1
torch.manual_seed(0)
def randomize(model):
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return model.state_dict()
bn = {k: v for k, v in randomize(BnInception(num_classes=1000)).items()
      if not k.endswith("num_batches_tracked")}
torch.save(bn, "bn_inception-52deb4733.pth", _use_new_zipfile_serialization=False)
torch.save(randomize(InceptionResnetV1(num_classes=8631)), "20180402-114759-vggface2.pt")
)");
  struct Recipe {
    std::string name, file, classifier;
  };
  for (const Recipe& recipe : {Recipe{"group_loss", "bn_inception-52deb4733.pth", "last_linear."},
                               Recipe{"siamese_bce", "20180402-114759-vggface2.pt", "logits."}}) {
    INFO(recipe.name);
    auto node =
        config::load_file((wtp::test::source_dir() / "configs" / (recipe.name + ".yaml")).string());
    // The recipe's own path, in its own layout: ROOT/weights/<upstream name>.
    const std::string configured = node.find("init")->find("checkpoint")->text();
    CHECK(configured == "data/weights/" + recipe.file);
    config::apply_override(node, "init.checkpoint=" + (dir / recipe.file).string());
    auto cfg = wtp::train::decode_train_config(node);
    wtp::train::resolve_model(cfg, 10);
    auto model = wtp::models::model_registry().create(cfg.model);
    const auto report = wtp::train::load_init_weights(cfg.init, *model);  // strict: no error

    std::map<std::string, torch::Tensor> ours;
    for (auto& [name, tensor] : wtp::models::state_dict(*model)) ours[name] = tensor;
    const auto file = wtp::io::load_torch_file(dir / recipe.file);
    std::size_t compared = 0, classifier = 0;
    for (const auto& [name, tensor] : wtp::io::named_tensors(file.root())) {
      if (name.rfind(recipe.classifier, 0) == 0) {
        ++classifier;
        CHECK_FALSE(ours.count("backbone." + name));
        continue;
      }
      if (name.find("num_batches_tracked") != std::string::npos) continue;  // a counter
      INFO(name);
      REQUIRE(ours.count("backbone." + name));
      CHECK(torch::equal(ours["backbone." + name].to(torch::kDouble), tensor.to(torch::kDouble)));
      ++compared;
    }
    CHECK(classifier == 2);  // weight and bias, left out by init.ignore
    CHECK(compared > 100);
    CHECK(report.loaded.size() >= compared);
    // Every backbone tensor came from the file (num_batches_tracked aside).
    for (const auto& [name, tensor] : ours)
      if (name.rfind("backbone.", 0) == 0 && name.find("num_batches_tracked") == std::string::npos)
        CHECK(std::count(report.loaded.begin(), report.loaded.end(), name) == 1);
  }
}
