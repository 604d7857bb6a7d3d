// Numerical cross-check against an independent PyTorch implementation
// (tests/models/reference_models.py): our random weights go to Python through a torch.save
// zip file, Python loads them with load_state_dict(strict=True) (so every name and shape
// must match the reference ports) and returns its outputs. Skipped with a message when no
// Python with torch is found (set WTP_PYTHON to choose the interpreter).
#include <ATen/CPUGeneratorImpl.h>
#include <fstream>

#include "catch_torch.h"
#include "models/bn_inception.h"
#include "models/freeze.h"
#include "models/inception_resnet_v1.h"
#include "models/siamese_cnn.h"
#include "models/weights.h"
#include "test_support.h"

using namespace wtp::models;

namespace {

/// Gives every BatchNorm non-trivial affine parameters and running statistics, so the
/// comparison exercises them.
void randomize_bn(torch::nn::Module& m, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  auto fill = [&](torch::Tensor t, double lo, double hi) {
    t.copy_(torch::empty(t.sizes()).uniform_(lo, hi, gen));
  };
  for (auto& item : m.named_modules("", false)) {
    if (auto* bn = dynamic_cast<FreezableBatchNormImpl*>(item.value().get())) {
      fill(bn->weight, 0.5, 1.5), fill(bn->bias, -0.2, 0.2);
      fill(bn->running_mean, -0.2, 0.2), fill(bn->running_var, 0.5, 1.5);
    }
  }
}

struct Case {
  std::string tag, json;
  EmbeddingModel model{nullptr};
  torch::Tensor input;
  bool train = false;
};

double relative_error(const torch::Tensor& ours, const torch::Tensor& ref) {
  return (ours - ref).abs().max().item<double>() / std::max(ref.abs().max().item<double>(), 1e-12);
}

}  // namespace

TEST_CASE("models match an independent PyTorch implementation", "[models][python]") {
  const auto python = wtp::test::python_with_torch();
  if (!python) {
    WTP_SKIP("no python3 with torch (apt-get install python3-torch, or set WTP_PYTHON)");
  }
  torch::manual_seed(0);
  std::vector<Case> cases;
  {
    SiameseCnnOptions o;  // small widths, train mode (batch statistics, running-stat update)
    o.channels = {3, 6};
    o.input_size = 32;
    o.hidden = {20, 10};
    o.embedding_dim = 8;
    o.dropout = 0;
    cases.push_back({"cnn_train",
                     R"({"model": "siamese_cnn", "train": true, "options": {"channels": [3, 6],
                        "input_size": 32, "hidden": [20, 10], "embedding_dim": 8, "dropout": 0}})",
                     as_embedding_model(SiameseCnn(o)), torch::rand({4, 3, 32, 32}), true});
  }
  {
    InceptionResnetV1Options o;
    o.num_classes = 7;
    o.seed = 5;
    cases.push_back({"irv1", R"({"model": "inception_resnet_v1", "options": {"num_classes": 7}})",
                     as_embedding_model(InceptionResnetV1(o)),
                     torch::rand({2, 3, 160, 160}) * 2 - 1});
  }
  {
    BnInceptionOptions o;
    o.num_classes = 5;
    o.seed = 7;
    cases.push_back({"bninc", R"({"model": "bn_inception", "options": {"num_classes": 5}})",
                     as_embedding_model(BnInception(o)),
                     torch::rand({1, 3, 224, 224}) * 255 - 120});
  }

  c10::Dict<std::string, at::Tensor> inputs;
  std::string spec = "{";
  for (auto& c : cases) {
    randomize_bn(*c.model, std::hash<std::string>{}(c.tag));
    for (const auto& [name, value] : state_dict(*c.model))
      inputs.insert(c.tag + "/" + name, value.clone());
    inputs.insert(c.tag + "/__input__", c.input);
    spec += std::string(spec.size() > 1 ? ", " : "") + "\"" + c.tag + "\": " + c.json;
  }
  spec += "}";
  for (char& ch : spec)
    if (ch == '\n') ch = ' ';

  wtp::test::TempDir dir;
  {
    const auto bytes = torch::pickle_save(inputs);
    std::ofstream out(dir / "in.pt", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto script = wtp::test::source_dir() / "tests/models/reference_models.py";
  const auto result =
      wtp::test::run_command(*python + " " + script.string() + " '" + spec + "' " +
                             (dir / "in.pt").string() + " " + (dir / "out.pt").string() + " 2>&1");
  INFO(result.output);
  REQUIRE(result.status == 0);
  const std::string bytes = wtp::test::read_file(dir / "out.pt");
  const auto reference =
      torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
  auto ref = [&](const std::string& key) {
    INFO(key);
    REQUIRE(reference.contains(key));
    return reference.at(key).toTensor();
  };

  for (auto& c : cases) {
    INFO(c.tag);
    c.model->train(c.train);
    torch::NoGradGuard no_grad;
    const auto out = c.model->forward(c.input);
    const double emb_err = relative_error(out.embedding, ref(c.tag + "/embedding"));
    CHECK(emb_err < 1e-4);
    if (out.logits.defined()) CHECK(relative_error(out.logits, ref(c.tag + "/logits")) < 1e-4);
    if (c.train) {
      for (const auto& b : c.model->named_buffers()) {
        INFO(b.key());
        CHECK(relative_error(b.value().to(torch::kDouble),
                             ref(c.tag + "/after/" + b.key()).to(torch::kDouble)) < 1e-5);
      }
    }
  }
}
