// Weight import: state_dict round trips, prefix stripping, rename rules, shape and dtype
// checks, missing/unexpected keys, num_batches_tracked, and the Lightning-like fixture.
#include <ATen/CPUGeneratorImpl.h>

#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"
#include "models/freeze.h"
#include "models/inception_resnet_v1.h"
#include "models/siamese_cnn.h"
#include "models/weights.h"
#include "test_support.h"

#ifdef WTP_MODELS_HAVE_IO
#include "io/torch_file.h"
#endif

using namespace wtp::models;

namespace {

std::vector<std::string> strings(std::initializer_list<const char*> items) {
  return {items.begin(), items.end()};
}

/// The module the checkpoint fixtures were written from: conv1, bn1, fc.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    bn1 = register_module("bn1", FreezableBatchNorm2d(torch::nn::BatchNormOptions(4)));
    fc = register_module("fc", torch::nn::Linear(4, 6));
  }
  torch::nn::Conv2d conv1{nullptr};
  FreezableBatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Tiny);

/// A state dict for Tiny with distinctive values, keys prefixed with `prefix`.
NamedTensors tiny_source(const std::string& prefix = "", bool with_nbt = true) {
  NamedTensors out;
  auto add = [&](const std::string& k, torch::Tensor t) { out.emplace_back(prefix + k, t); };
  add("conv1.weight", torch::arange(108, torch::kFloat).view({4, 3, 3, 3}) / 100);
  add("conv1.bias", torch::tensor({0.f, 1.f, 2.f, 3.f}));
  add("bn1.weight", torch::tensor({1.f, 2.f, 3.f, 4.f}));
  add("bn1.bias", torch::tensor({-1.f, -2.f, -3.f, -4.f}));
  add("bn1.running_mean", torch::tensor({0.5f, 0.25f, 0.f, -0.5f}));
  add("bn1.running_var", torch::tensor({2.f, 3.f, 4.f, 5.f}));
  if (with_nbt) add("bn1.num_batches_tracked", torch::tensor(7, torch::kLong));
  add("fc.weight", torch::arange(24, torch::kFloat).view({6, 4}));
  add("fc.bias", torch::arange(6, torch::kFloat));
  return out;
}

torch::Tensor get(const torch::nn::Module& m, const std::string& name) {
  for (const auto& kv : state_dict(m))
    if (kv.first == name) return kv.second;
  FAIL("no tensor " << name);
  return {};
}

/// Randomises BN statistics so that eval-mode outputs depend on them.
void randomize_buffers(torch::nn::Module& m, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos)
      b.value().copy_(torch::empty(b.value().sizes()).uniform_(-0.2, 0.2, gen));
    if (b.key().find("running_var") != std::string::npos)
      b.value().copy_(torch::empty(b.value().sizes()).uniform_(0.5, 1.5, gen));
  }
}

}  // namespace

TEST_CASE("state_dict: PyTorch names and order", "[models][weights]") {
  Tiny tiny;
  std::vector<std::string> names;
  for (const auto& kv : state_dict(*tiny)) names.push_back(kv.first);
  CHECK(names ==
        strings({"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
                 "bn1.running_var", "bn1.num_batches_tracked", "fc.weight", "fc.bias"}));
  // Tensors share storage with the module.
  auto sd = state_dict(*tiny);
  sd[1].second.fill_(5);
  CHECK(tiny->conv1->bias.sum().item<float>() == 20);
}

TEST_CASE("load_weights: round trip gives identical outputs", "[models][weights]") {
  SiameseCnnOptions o;
  o.channels = {3, 5};
  o.input_size = 16;
  o.hidden = {12};
  o.embedding_dim = 4;
  SiameseCnn a(o);
  o.seed = 99;
  SiameseCnn b(o);
  randomize_buffers(*a, 1);
  a->eval();
  b->eval();
  auto x = torch::rand({3, 3, 16, 16});
  REQUIRE_FALSE(torch::allclose(a->forward(x).embedding, b->forward(x).embedding));
  auto report = load_weights(*b, state_dict(*a));
  CHECK(report.loaded.size() == state_dict(*a).size());
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  CHECK(report.auto_prefix.empty());
  CHECK(torch::equal(a->forward(x).embedding, b->forward(x).embedding));
}

TEST_CASE("load_weights: facenet-style classifier keys are ignored or rejected",
          "[models][weights]") {
  InceptionResnetV1Options with_logits;
  with_logits.num_classes = 5;
  with_logits.seed = 3;
  InceptionResnetV1 pretrained(with_logits);
  randomize_buffers(*pretrained, 2);
  InceptionResnetV1 model;  // embedding only, like InceptionResnetV1(pretrained='vggface2')

  CHECK_THROWS_WITH(load_weights(*model, state_dict(*pretrained)),
                    Catch::Contains("unexpected 2 (logits.bias, logits.weight)") &&
                        Catch::Contains("strictness: lenient"));
  LoadOptions o;
  o.ignore = {"^logits\\."};
  auto report = load_weights(*model, state_dict(*pretrained), o);
  CHECK(report.ignored == strings({"logits.weight", "logits.bias"}));
  CHECK(report.loaded.size() == state_dict(*model).size());
  pretrained->eval();
  model->eval();
  auto x = torch::rand({1, 3, 160, 160});
  CHECK(torch::equal(pretrained->forward(x).embedding, model->forward(x).embedding));
}

TEST_CASE("load_weights: prefixes are stripped explicitly or found automatically",
          "[models][weights]") {
  SECTION("auto: Lightning's model.model.") {
    Tiny tiny;
    auto report = load_weights(*tiny, tiny_source("model.model."));
    CHECK(report.auto_prefix == "model.model.");
    CHECK(report.loaded.size() == 9);
    CHECK(torch::equal(tiny->fc->weight, torch::arange(24, torch::kFloat).view({6, 4})));
  }
  SECTION("auto: DataParallel's module. with extra keys outside the prefix") {
    Tiny tiny;
    auto source = tiny_source("module.");
    source.emplace_back("optimizer.state.0.exp_avg", torch::zeros({3}));
    auto report = load_weights(*tiny, source);
    CHECK(report.auto_prefix == "module.");
    CHECK(report.unexpected.empty());
    REQUIRE(report.ignored.size() == 1);
    CHECK(report.ignored[0].find("optimizer.state.0.exp_avg") == 0);
    CHECK(get(*tiny, "bn1.num_batches_tracked").item<std::int64_t>() == 7);
  }
  SECTION("explicit strip_prefixes, auto off") {
    Tiny tiny;
    LoadOptions o;
    o.auto_prefix = false;
    o.strip_prefixes = {"nothing.", "state_dict."};
    auto report = load_weights(*tiny, tiny_source("state_dict."), o);
    CHECK(report.loaded.size() == 9);
    o.strip_prefixes = {};
    CHECK_THROWS_WITH(load_weights(*tiny, tiny_source("state_dict."), o),
                      Catch::Contains("missing 8") && Catch::Contains("conv1.weight") &&
                          Catch::Contains("unexpected 8"));
  }
  SECTION("auto prefers no prefix when keys already match") {
    Tiny tiny;
    CHECK(load_weights(*tiny, tiny_source()).auto_prefix.empty());
  }
  SECTION("add_prefix loads a backbone inside a head") {
    auto head = std::make_shared<torch::nn::Module>();
    head->register_module("backbone", Tiny());
    LoadOptions o;
    o.add_prefix = "backbone.";
    auto report = load_weights(*head, tiny_source("model."), o);
    CHECK(report.auto_prefix == "model.");
    CHECK(report.loaded.front() == "backbone.conv1.weight");
    CHECK(report.loaded.size() == 9);
    CHECK(map_key("model.fc.bias", o, "model.") == "backbone.fc.bias");
  }
}

TEST_CASE("load_weights: rename rules", "[models][weights]") {
  Tiny tiny;
  NamedTensors source;  // features_conv1.*, features_bn1.*, classifier.*
  for (auto& [k, v] : tiny_source()) {
    const std::string module = k.substr(0, k.find('.')), rest = k.substr(k.find('.'));
    source.emplace_back(module == "fc" ? "classifier" + rest : "features_" + module + rest, v);
  }
  LoadOptions o;
  o.rename = {{"^features_(\\w+)\\.", "$1."}, {"^classifier\\.", "fc."}};
  auto report = load_weights(*tiny, source, o);
  CHECK(report.loaded.size() == 9);
  CHECK(torch::equal(tiny->bn1->running_var, torch::tensor({2.f, 3.f, 4.f, 5.f})));
  CHECK(map_key("features_conv1.bias", o) == "conv1.bias");

  o.rename = {{"(", "x"}};
  CHECK_THROWS_WITH(load_weights(*tiny, source, o), Catch::Contains("invalid regular expression"));
  o.rename = {{"^features_\\w+\\.", ""}, {"^classifier\\.", "fc."}};  // conv1.* and bn1.* collide
  CHECK_THROWS_WITH(load_weights(*tiny, source, o), Catch::Contains("both map to"));
}

TEST_CASE("load_weights: shape mismatch names the key and both shapes; nothing is modified",
          "[models][weights]") {
  Tiny tiny;
  const auto before = tiny->conv1->weight.clone();
  auto source = tiny_source();
  source.back().second = torch::zeros({2});  // fc.bias
  CHECK_THROWS_WITH(load_weights(*tiny, source),
                    Catch::Contains("'fc.bias'") && Catch::Contains("checkpoint [2] vs model [6]"));
  LoadOptions lenient;
  lenient.strictness = Strictness::kLenient;
  CHECK_THROWS_AS(load_weights(*tiny, source, lenient), wtp::UsageError);  // whatever strictness
  CHECK(torch::equal(tiny->conv1->weight, before));
  lenient.ignore = {"^fc\\.bias$"};
  auto report = load_weights(*tiny, source, lenient);
  CHECK(report.missing == strings({"fc.bias"}));
  CHECK_FALSE(torch::equal(tiny->conv1->weight, before));
}

TEST_CASE("load_weights: missing and unexpected keys, strict or lenient", "[models][weights]") {
  auto source = tiny_source();
  source.erase(source.begin() + 3);  // bn1.bias
  source.emplace_back("fc.scale", torch::ones({6}));
  Tiny tiny;
  CHECK_THROWS_WITH(load_weights(*tiny, source), Catch::Contains("missing 1 (bn1.bias)") &&
                                                     Catch::Contains("unexpected 1 (fc.scale)"));
  LoadOptions lenient;
  lenient.strictness = Strictness::kLenient;
  auto report = load_weights(*tiny, source, lenient);
  CHECK(report.missing == strings({"bn1.bias"}));
  CHECK(report.unexpected == strings({"fc.scale"}));
  CHECK(report.loaded.size() == 8);
  CHECK(report.summary().find("missing 1: bn1.bias") != std::string::npos);
  CHECK(torch::equal(tiny->bn1->weight, torch::tensor({1.f, 2.f, 3.f, 4.f})));
}

TEST_CASE("load_weights: num_batches_tracked absent on either side is fine", "[models][weights]") {
  Tiny tiny;
  auto report = load_weights(*tiny, tiny_source("", /*with_nbt=*/false));  // pre-0.4.1 file
  CHECK(report.missing.empty());
  CHECK(report.loaded.size() == 8);
  CHECK(get(*tiny, "bn1.num_batches_tracked").item<std::int64_t>() == 0);

  auto no_nbt = std::make_shared<torch::nn::Module>();  // a target without the buffer
  auto bn = std::make_shared<torch::nn::Module>();
  bn->register_parameter("weight", torch::zeros({4}));
  bn->register_parameter("bias", torch::zeros({4}));
  bn->register_buffer("running_mean", torch::zeros({4}));
  bn->register_buffer("running_var", torch::zeros({4}));
  no_nbt->register_module("bn1", bn);
  NamedTensors source = {{"bn1.weight", torch::ones({4})},
                         {"bn1.bias", torch::zeros({4})},
                         {"bn1.running_mean", torch::zeros({4})},
                         {"bn1.running_var", torch::ones({4})},
                         {"bn1.num_batches_tracked", torch::tensor(3, torch::kLong)},
                         {"extra.num_batches_tracked", torch::tensor(3, torch::kLong)}};
  report = load_weights(*no_nbt, source);
  CHECK(report.unexpected.empty());
  CHECK(report.ignored == strings({"bn1.num_batches_tracked", "extra.num_batches_tracked"}));
}

TEST_CASE("load_weights: dtype conversion and singleton dimensions", "[models][weights]") {
  Tiny tiny;
  auto source = tiny_source();
  source[0].second = source[0].second.to(torch::kDouble);
  source[2].second = source[2].second.to(torch::kHalf);
  auto report = load_weights(*tiny, source);
  CHECK(report.converted == strings({"conv1.weight", "bn1.weight"}));
  CHECK(tiny->conv1->weight.scalar_type() == torch::kFloat);
  CHECK(tiny->conv1->weight[3][2][2][2].item<float>() == Approx(1.07));
  LoadOptions exact;
  exact.convert_dtype = false;
  CHECK_THROWS_WITH(load_weights(*tiny, source, exact),
                    Catch::Contains("'conv1.weight': checkpoint Double vs model Float"));

  source = tiny_source();
  source[4].second = source[4].second.view({1, 4});  // a [1, C] running mean
  CHECK_THROWS_WITH(load_weights(*tiny, source), Catch::Contains("checkpoint [1, 4] vs model [4]"));
  LoadOptions squeeze;
  squeeze.squeeze_singleton_dims = true;
  load_weights(*tiny, source, squeeze);
  CHECK(torch::equal(tiny->bn1->running_mean, torch::tensor({0.5f, 0.25f, 0.f, -0.5f})));
}

TEST_CASE("LoadOptions decode from YAML strictly", "[models][weights]") {
  auto node = wtp::config::parse(
      "strip_prefixes: [state_dict.]\n"
      "rename: [{pattern: '^net\\.(.*)', replacement: 'backbone.$1'}]\n"
      "ignore: ['^logits\\.']\n"
      "strictness: lenient\n",
      "init.yaml");
  auto o = wtp::config::decode<LoadOptions>(node);
  REQUIRE(o.rename.size() == 1);
  CHECK(o.rename[0].replacement == "backbone.$1");
  CHECK(o.strictness == Strictness::kLenient);
  CHECK(map_key("state_dict.net.fc.weight", o) == "backbone.fc.weight");
  CHECK_THROWS_AS(wtp::config::decode<LoadOptions>(wtp::config::parse("ignore: ['[']", "x")),
                  wtp::ConfigError);
  CHECK_THROWS_AS(wtp::config::decode<LoadOptions>(wtp::config::parse("strict: true", "x")),
                  wtp::ConfigError);
}

#ifdef WTP_MODELS_HAVE_IO
TEST_CASE("load_weights: the Lightning-like fixture checkpoint", "[models][weights][io]") {
  WTP_REQUIRE_SHARED();
  const auto path = *wtp::test::shared_dir() / "fixtures/checkpoints/lightning_like.ckpt";
  auto file = wtp::io::load_torch_file(path);
  // The whole file: state_dict.model.model.*, optimizer state, callback tensors.
  const auto tensors = wtp::io::named_tensors(file.root());
  Tiny tiny;
  // Strict: the fixture is not a complete Tiny (no bn1.bias/running_var, fc.bias is a
  // 2-element view) and carries extra tensors.
  CHECK_THROWS_WITH(load_weights(*tiny, tensors),
                    Catch::Contains("missing 3 (bn1.bias, bn1.running_var, fc.bias)"));

  LoadOptions o;
  o.strictness = Strictness::kLenient;
  auto report = load_weights(*tiny, tensors, o);
  CHECK(report.auto_prefix == "state_dict.model.model.");
  CHECK(report.loaded == strings({"conv1.weight", "conv1.bias", "bn1.weight", "bn1.running_mean",
                                  "bn1.num_batches_tracked", "fc.weight"}));
  CHECK(report.unexpected ==
        strings({"emb.half", "fc.bias_view", "ids.int32", "mask.bool", "scalar.double"}));
  CHECK(report.ignored.size() == tensors.size() - 11);  // optimizer / callback tensors
  // Values from expected.tsv.
  CHECK(tiny->conv1->weight.sum().item<double>() == Approx(1.454377).epsilon(1e-5));
  CHECK(tiny->conv1->weight.flatten()[0].item<float>() == Approx(-1.12584).epsilon(1e-5));
  CHECK(tiny->conv1->weight.flatten()[3].item<float>() == Approx(-0.433879).epsilon(1e-5));
  CHECK(torch::equal(tiny->conv1->bias, torch::tensor({0.f, 1.f, 2.f, 3.f})));
  CHECK(torch::allclose(tiny->bn1->running_mean, torch::tensor({-1.f, -1.f / 3, 1.f / 3, 1.f})));
  CHECK(get(*tiny, "bn1.num_batches_tracked").item<std::int64_t>() == 7);
  CHECK(tiny->fc->weight.sum().item<double>() == 276);
  CHECK(tiny->fc->weight.flatten()[1].item<float>() == 6);

  // Mapping the view onto fc.bias is caught by the shape check.
  o.rename = {{"^fc\\.bias_view$", "fc.bias"}};
  CHECK_THROWS_WITH(load_weights(*tiny, tensors, o),
                    Catch::Contains("'fc.bias' (from 'state_dict.model.model.fc.bias_view')") &&
                        Catch::Contains("checkpoint [2] vs model [6]"));

  // Extra fixture tensors go into modules with matching names, converting dtypes.
  auto holder = std::make_shared<torch::nn::Module>();
  auto emb = std::make_shared<torch::nn::Module>();
  emb->register_parameter("half", torch::zeros({3}));
  auto ids = std::make_shared<torch::nn::Module>();
  ids->register_buffer("int32", torch::zeros({3}, torch::kLong));
  holder->register_module("emb", emb);
  holder->register_module("ids", ids);
  LoadOptions partial;
  partial.strictness = Strictness::kLenient;
  report = load_weights(*holder, tensors, partial);
  CHECK(report.converted == strings({"emb.half", "ids.int32"}));
  CHECK(torch::equal(emb->named_parameters()["half"], torch::tensor({0.5f, -2.f, 3.25f})));
  CHECK(torch::equal(ids->named_buffers()["int32"], torch::tensor({1, -2, 3}, torch::kLong)));
}
#endif
