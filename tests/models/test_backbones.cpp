// The standard backbones (resnet, iresnet, mobilefacenet) against their upstream code:
// tests/models/reference/upstream_backbones.json, written by upstream_backbones.py from
// torchvision's and insightface's own models, holds every state-dict name and shape, the
// parameter count, and the output for a fixed input with every tensor filled by the rule
// of deterministic_fill.py, which fill() below repeats. Each family is also imported from
// a torch.save file that Python writes here.
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "catch_torch.h"
#include "core/config.h"
#include "models/freeze.h"
#include "models/model_registry.h"
#include "models/weights.h"
#include "test_support.h"
#ifdef WTP_MODELS_HAVE_IO
#include "io/torch_file.h"
#endif

using namespace wtp::models;
namespace config = wtp::config;

namespace {

const nlohmann::json& reference() {
  static const nlohmann::json json = [] {
    std::ifstream in(wtp::test::source_dir() / "tests/models/reference/upstream_backbones.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
  }();
  return json;
}

std::int64_t name_hash(const std::string& name) {
  std::int64_t h = 0;
  for (unsigned char c : name) h = (h * 31 + c) % 1000003;
  return h;
}

/// deterministic_fill.fill() for one state-dict tensor.
torch::Tensor filled(const std::string& name, const torch::Tensor& like) {
  if (like.scalar_type() == torch::kLong) return torch::zeros_like(like);
  const std::int64_t n = like.numel();
  auto v = torch::sin(0.001 * static_cast<double>(name_hash(name)) +
                      0.7 * torch::arange(n, torch::kDouble));
  const std::string leaf = name.substr(name.rfind('.') + 1);
  if (like.dim() >= 2)
    v = v * std::sqrt(1.0 / static_cast<double>(n / like.size(0)));
  else if (leaf == "running_var")
    v = 1 + 0.25 * (v + 1);
  else if (leaf == "weight")
    v = 1 + 0.1 * v;
  else
    v = 0.1 * v;
  return v.reshape(like.sizes()).to(like.scalar_type());
}

void fill(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : state_dict(model)) tensor.copy_(filled(name, tensor));
}

torch::Tensor fixed_input(std::int64_t size) {
  return torch::sin(0.37 * torch::arange(2 * 3 * size * size, torch::kDouble))
      .reshape({2, 3, size, size})
      .to(torch::kFloat);
}

/// The model of a reference case, un-normalised (upstream returns raw features).
EmbeddingModel make(const nlohmann::json& c) {
  auto options = config::Node::map();
  for (const auto& [key, value] : c.at("options").items())
    options.set(key, config::Node::scalar(std::to_string(value.get<std::int64_t>())));
  options.set("input_size", config::Node::scalar(std::to_string(c.at("input_size").get<int>())));
  if (c.at("model") != "resnet") options.set("normalize", config::Node::scalar("false"));
  return model_registry().create(config::Component{c.at("model").get<std::string>(), options});
}

torch::Tensor output_of(EmbeddingModel& model, const nlohmann::json& c) {
  model->eval();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(fixed_input(c.at("input_size")));
  return c.at("model") == "resnet" ? out.logits : out.embedding;
}

double relative_error(const torch::Tensor& ours, const torch::Tensor& ref) {
  return (ours - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

std::string label(const nlohmann::json& c) {
  return c.at("model").get<std::string>() + " " + c.at("options").dump();
}

}  // namespace

TEST_CASE("backbones have upstream's names, shapes, parameter count and outputs",
          "[models][backbones]") {
  for (const auto& c : reference().at("cases")) {
    INFO(label(c));
    auto model = make(c);
    std::map<std::string, std::vector<std::int64_t>> ours, theirs;
    for (const auto& [name, tensor] : state_dict(*model)) ours[name] = tensor.sizes().vec();
    for (const auto& entry : c.at("state"))
      theirs[entry.at(0).get<std::string>()] = entry.at(1).get<std::vector<std::int64_t>>();
    CHECK(ours == theirs);
    CHECK(parameter_count(*model) == c.at("parameters").get<std::int64_t>());
    fill(*model);
    const auto out = output_of(model, c);
    const auto expected = torch::tensor(c.at("output").get<std::vector<double>>(), torch::kDouble)
                              .reshape(c.at("output_shape").get<std::vector<std::int64_t>>());
    REQUIRE(out.sizes() == expected.sizes());
    CHECK(relative_error(out.to(torch::kDouble), expected) < 1e-4);
  }
}

TEST_CASE("backbones: options are checked, channels-last weights, cosine head around them",
          "[models][backbones]") {
  CHECK_THROWS_WITH(
      model_registry().create(config::Component{"resnet", config::parse("depth: 20", "t")}),
      Catch::Matchers::Contains("18, 34, 50, 101 or 152"));
  CHECK_THROWS_WITH(
      model_registry().create(config::Component{"iresnet", config::parse("input_size: 100", "t")}),
      Catch::Matchers::Contains("multiple of 16"));
  CHECK_THROWS_WITH(model_registry().create(
                        config::Component{"mobilefacenet", config::parse("blocks: [1, 2]", "t")}),
                    Catch::Matchers::Contains("4 stages"));
  auto mbf = model_registry().create(
      config::Component{"mobilefacenet", config::parse("input_size: 32", "t")});
  for (const auto& [name, tensor] : state_dict(*mbf))
    if (tensor.dim() == 4) CHECK(tensor.is_contiguous(torch::MemoryFormat::ChannelsLast));
  // The embedding is L2-normalised by default, and the 1-d scale of `features` is fixed.
  mbf->eval();
  const auto e = mbf->forward(torch::rand({2, 3, 32, 32})).embedding;
  CHECK(torch::allclose(e.norm(2, 1), torch::ones({2}), 1e-5, 1e-5));
  auto ir = model_registry().create(
      config::Component{"iresnet", config::parse("{depth: 18, input_size: 32}", "t")});
  for (const auto& p : ir->named_parameters())
    if (p.key() == "features.weight") CHECK_FALSE(p.value().requires_grad());
  auto head = model_registry().create(config::Component{
      "embedding_head",
      config::parse("{backbone: {name: iresnet, depth: 18, input_size: 32}, num_classes: 5, "
                    "classifier: cosine}",
                    "t")});
  head->eval();
  const auto out = head->forward(torch::rand({2, 3, 32, 32}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 5}));
  CHECK(out.logits.abs().max().item<float>() <= 1.0f + 1e-6f);
}

#ifdef WTP_MODELS_HAVE_IO
TEST_CASE("backbones import a checkpoint that Python torch writes", "[models][backbones][python]") {
  const auto python = wtp::test::python_with_torch();
  if (!python) {
    WTP_SKIP("no python3 with torch (apt-get install python3-torch, or set WTP_PYTHON)");
  }
  wtp::test::TempDir dir;
  for (const auto& c : reference().at("cases")) {
    if (c.at("model") == "resnet" && c.at("options").at("depth") != 18) continue;  // one per family
    INFO(label(c));
    auto model = make(c);
    nlohmann::json spec = nlohmann::json::array();
    for (const auto& [name, tensor] : state_dict(*model))
      spec.push_back(
          {name, tensor.sizes().vec(), tensor.scalar_type() == torch::kLong ? "int64" : "float32"});
    std::ofstream(dir / "spec.json") << spec.dump();
    const auto script = wtp::test::source_dir() / "tests/models/reference/write_filled_state.py";
    const auto run =
        wtp::test::run_command(*python + " " + script.string() + " " +
                               (dir / "spec.json").string() + " " + (dir / "state.pt").string());
    REQUIRE(run.status == 0);
    const auto file = wtp::io::load_torch_file(dir / "state.pt");
    load_weights(*model, wtp::io::named_tensors(file.root()));
    auto direct = make(c);
    fill(*direct);
    CHECK(relative_error(output_of(model, c), output_of(direct, c)) < 1e-6);
  }
}
#endif
