// TorchScript export of every model kind: export, reload, equal outputs on new batch sizes,
// metadata, the uint8 method against the data pipeline's normalisation, Python's
// torch.jit.load, and damaged archives.
#include <ATen/CPUGeneratorImpl.h>
#include <caffe2/serialize/inline_container.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"
#include "data/transforms.h"
#include "export/export_model.h"
#include "export/traced_module.h"
#include "io/npy.h"
#include "models/model_registry.h"
#include "test_support.h"

namespace ex = wtp::exporter;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using torch::Tensor;

namespace {

wtp::models::EmbeddingModel make_model(const std::string& yaml) {
  auto model = wtp::models::model_registry().create(
      wtp::config::decode_component(wtp::config::parse(yaml, "test.yaml"), "model"));
  // Non-trivial BatchNorm statistics, so eval-mode BatchNorm is really exercised.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  torch::NoGradGuard no_grad;
  for (auto& b : model->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos)
      b.value().copy_(torch::randn(b.value().sizes(), gen) * 0.1);
    if (b.key().find("running_var") != std::string::npos)
      b.value().copy_(torch::rand(b.value().sizes(), gen) + 0.5);
  }
  model->eval();
  return model;
}

Tensor random_u8(std::int64_t n, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  return torch::randint(0, 256, {n, h, w, 3}, at::make_generator<at::CPUGeneratorImpl>(seed),
                        torch::kUInt8);
}

/// The data pipeline's normalisation of uint8 RGB images [N, H, W, 3] -> [N, 3, H, W], from
/// its per-value formula (data::Normalization::value), independently of the exporter.
Tensor pipeline_input(const Tensor& rgb_u8, wtp::models::Normalization preset) {
  const auto norm = wtp::data::Normalization::preset(preset);
  std::vector<Tensor> channels;
  for (int c = 0; c < 3; ++c) {
    std::vector<float> lut(256);
    for (int v = 0; v < 256; ++v) lut[static_cast<std::size_t>(v)] = norm.value(c, v);
    const int source = norm.order == wtp::data::ChannelOrder::kBgr ? 2 - c : c;
    channels.push_back(torch::tensor(lut).index({rgb_u8.select(3, source).to(torch::kLong)}));
  }
  return torch::stack(channels, 1);
}

double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>();
}

Tensor run(torch::jit::Module& m, const std::string& method, std::vector<Tensor> inputs) {
  auto out = ex::run_method(m, method, inputs);
  REQUIRE(out.size() == 1);
  return out[0];
}

/// Exports `model` as `what`, reloads it and checks outputs (batch 1 and 3, inputs the
/// export never saw) against the C++ model, the uint8 method against the pipeline's
/// normalisation, and the metadata.
ex::LoadedModel check_export(wtp::models::EmbeddingModel model, ex::ExportKind what,
                             const fs::path& path) {
  ex::ExportOptions options;
  options.what = what;
  auto report = ex::export_model(model, path.string(), options, {{"note", "from the test"}});
  CHECK(report.max_abs_diff <= 1e-5);
  CHECK(fs::exists(path));
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));
  auto loaded = ex::load_exported(path.string());
  const auto& meta = loaded.meta;
  const auto spec = model->input_spec();
  CHECK(meta["format"] == "wtp-torchscript");
  CHECK(meta["what"] == wtp::config::enum_name(what));
  CHECK(meta["model"] == model->name());
  CHECK(meta["note"] == "from the test");
  CHECK(meta["input"]["height"] == spec.height);
  CHECK(meta["input"]["width"] == spec.width);
  CHECK(meta["input"]["color_order"] == wtp::config::enum_name(spec.color()));
  CHECK(meta["input"]["normalization"]["preset"] == wtp::config::enum_name(spec.normalization));
  CHECK(meta["embedding_size"] == model->embedding_dim());
  CHECK(meta["wtp_version"].is_string());
  CHECK_FALSE(meta.contains("config_md5"));  // only checkpoint exports know a config
  CHECK(ex::input_spec_from_meta(meta).normalization == spec.normalization);

  torch::NoGradGuard no_grad;
  auto normalize = [](const Tensor& x) { return x / x.norm(2, 1, true); };
  for (std::int64_t n : {1, 3}) {
    INFO("batch " << n);
    const Tensor u8 = random_u8(n, spec.height, spec.width, 1000 + static_cast<std::uint64_t>(n));
    const Tensor x = pipeline_input(u8, spec.normalization);
    if (what == ex::ExportKind::kSiamese) {
      const Tensor u8b = random_u8(n, spec.height, spec.width, 2000);
      const Tensor xb = pipeline_input(u8b, spec.normalization);
      const Tensor expected =
          model->pair_logits(model->forward(x).embedding, model->forward(xb).embedding);
      const Tensor got = run(loaded.module, "forward", {x, xb});
      CHECK(got.sizes() == torch::IntArrayRef{n});
      CHECK(max_diff(got, expected) <= 1e-5);
      CHECK(max_diff(run(loaded.module, "forward_uint8", {u8, u8b}), got) <= 1e-5);
    } else if (what == ex::ExportKind::kLiveness) {
      const Tensor expected = torch::sigmoid(model->forward(x).logits);
      const Tensor got = run(loaded.module, "forward", {x});
      CHECK(got.sizes() == torch::IntArrayRef{n});
      CHECK(max_diff(got, expected) <= 1e-5);
      CHECK(max_diff(run(loaded.module, "forward_uint8", {u8}), got) <= 1e-5);
    } else {
      const Tensor expected = normalize(model->forward(x).embedding);
      const Tensor got = run(loaded.module, "forward", {x});
      CHECK(got.sizes() == torch::IntArrayRef{n, model->embedding_dim()});
      CHECK(max_diff(got, expected) <= 1e-5);
      CHECK(max_diff(got.norm(2, 1), torch::ones({n})) <= 1e-5);
      CHECK(max_diff(run(loaded.module, "forward_uint8", {u8}), got) <= 1e-5);
    }
  }
  return loaded;
}

const char* kSmallCnn =
    "{name: siamese_cnn, input_size: 32, channels: [4, 8], hidden: [16], embedding_dim: 8, "
    "dropout: 0.3}";

}  // namespace

TEST_CASE("siamese_cnn embedding archive reloads with equal outputs", "[export]") {
  wtp::test::TempDir dir;
  check_export(make_model(kSmallCnn), ex::ExportKind::kEmbedding, dir / "cnn.ts");
}

TEST_CASE("embedding_head (projection, classifier) keeps only the embedding", "[export]") {
  wtp::test::TempDir dir;
  auto model = make_model(std::string("{name: embedding_head, embedding_dim: 6, num_classes: 5, "
                                      "normalize: true, backbone: ") +
                          kSmallCnn + "}");
  auto loaded = check_export(model, ex::ExportKind::kEmbedding, dir / "head.ts");
  CHECK(loaded.meta["embedding_size"] == 6);
  CHECK(loaded.meta["methods"].contains("forward_uint8"));
  // The archive holds the weights under their C++ names.
  bool found = false;
  for (const auto& p : loaded.module.named_parameters())
    found = found || p.name == "projection.weight";
  CHECK(found);
}

TEST_CASE("bn_inception (Caffe BGR preset) at a small input size", "[export]") {
  wtp::test::TempDir dir;
  auto loaded = check_export(
      make_model("{name: bn_inception, input_size: 64, embedding_dim: 32, normalization: caffe}"),
      ex::ExportKind::kEmbedding, dir / "bn.ts");
  CHECK(loaded.meta["input"]["color_order"] == "bgr");
  CHECK(loaded.meta["input"]["normalization"]["mean"][0] == 104.0);
}

TEST_CASE("inception_resnet_v1 (facenet preset) at a small input size", "[export]") {
  wtp::test::TempDir dir;
  auto loaded = check_export(make_model("{name: inception_resnet_v1, input_size: 80}"),
                             ex::ExportKind::kEmbedding, dir / "irv1.ts");
  CHECK(loaded.meta["input"]["normalization"]["preset"] == "facenet");
}

TEST_CASE("siamese_bce pair archive returns the trainer's pair logit", "[export]") {
  wtp::test::TempDir dir;
  auto model = make_model(
      std::string("{name: siamese_bce, branch_dim: 12, pair_dim: 6, backbone: ") + kSmallCnn + "}");
  check_export(model, ex::ExportKind::kSiamese, dir / "pair.ts");
  // Embedding archives of a pair model work too (branch output, normalised).
  check_export(model, ex::ExportKind::kEmbedding, dir / "pair_embedding.ts");
}

TEST_CASE("liveness archive returns P(eyes closed) and the thresholds", "[export]") {
  wtp::test::TempDir dir;
  auto model = make_model(std::string("{name: liveness, backbone: ") + kSmallCnn + "}");
  auto loaded = check_export(model, ex::ExportKind::kLiveness, dir / "live.ts");
  CHECK(loaded.meta["liveness"]["threshold"] == 0.5);
  CHECK(loaded.meta["liveness"]["blink"]["closed_threshold"] == 0.985);
  CHECK_FALSE(loaded.meta["liveness"].contains("open_threshold"));
  // A hysteresis pair given by the caller (export_checkpoint: chosen on validation) joins the
  // exporter's liveness entry and becomes the blink rule's.
  ex::ExportOptions options;
  options.what = ex::ExportKind::kLiveness;
  ex::export_model(model, (dir / "pair.ts").string(), options,
                   {{"liveness", {{"open_threshold", 0.2}, {"closed_threshold", 0.7}}}});
  const auto meta = ex::read_meta((dir / "pair.ts").string());
  CHECK(meta["liveness"]["threshold"] == 0.5);
  CHECK(meta["liveness"]["open_threshold"] == 0.2);
  CHECK(meta["liveness"]["closed_threshold"] == 0.7);
  CHECK(meta["liveness"]["blink"]["open_threshold"] == 0.2);
  CHECK(meta["liveness"]["blink"]["closed_threshold"] == 0.7);
}

TEST_CASE("a kind the model cannot provide is a usage error", "[export]") {
  wtp::test::TempDir dir;
  auto cnn = make_model(kSmallCnn);
  ex::ExportOptions options;
  options.what = ex::ExportKind::kSiamese;
  CHECK_THROWS_WITH(ex::export_model(cnn, (dir / "x.ts").string(), options),
                    Contains("no pair head"));
  options.what = ex::ExportKind::kLiveness;
  CHECK_THROWS_AS(ex::export_model(cnn, (dir / "x.ts").string(), options), wtp::UsageError);
  CHECK_FALSE(fs::exists(dir / "x.ts"));
}

TEST_CASE("the tracer refuses what it cannot capture", "[export]") {
  torch::nn::Module root;
  auto linear = root.register_module("linear", torch::nn::Linear(4, 2));
  ex::TracedModule traced(root, "Probe");
  const Tensor example = torch::randn({2, 4});
  // Through raw data: the graph's output would be a constant.
  CHECK_THROWS_WITH(traced.add_method("raw", {"x"}, {example},
                                      [](const std::vector<Tensor>& in) {
                                        auto out = torch::empty({in[0].size(0)});
                                        for (std::int64_t i = 0; i < in[0].size(0); ++i)
                                          out[i] = in[0][i][0].item<float>();
                                        return std::vector<Tensor>{out.detach().clone()};
                                      }),
                    Contains("does not depend on the inputs"));
  // A batch size read into C++ is baked in: the check at another batch size catches it.
  traced.add_method("baked", {"x"}, {example}, [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{linear->forward(in[0]).view({in[0].size(0) * 2})};
  });
  CHECK_THROWS(ex::run_method(traced.module(), "baked", {torch::randn({3, 4})}));
  traced.add_method("fine", {"x"}, {example}, [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{linear->forward(in[0]).flatten()};
  });
  auto out = ex::run_method(traced.module(), "fine", {torch::randn({3, 4})});
  CHECK(out[0].sizes() == torch::IntArrayRef{6});
}

namespace {

/// A model whose forward reads the batch size into C++ (`view({N, -1})`): traceable, but the
/// trace only works for the batch size it was traced with.
struct BakedBatchImpl : wtp::models::EmbeddingModelImpl {
  BakedBatchImpl() { linear = register_module("linear", torch::nn::Linear(3 * 8 * 8, 4)); }
  wtp::models::ModelOutput forward(const Tensor& images) override {
    return {linear->forward(images.view({images.size(0), -1})), Tensor()};
  }
  std::string name() const override { return "baked_batch"; }
  wtp::models::InputSpec input_spec() const override { return {8, 8}; }
  std::int64_t embedding_dim() const override { return 4; }
  torch::nn::Linear linear{nullptr};
};

/// A model with C++ state: each call adds its call count (the trace bakes in the count at
/// tracing time), so the archive's outputs differ from the C++ model's afterwards.
struct DriftingImpl : BakedBatchImpl {
  wtp::models::ModelOutput forward(const Tensor& images) override {
    return {linear->forward(images.flatten(1)) + static_cast<double>(calls++), Tensor()};
  }
  std::int64_t calls = 0;
};

}  // namespace

TEST_CASE("an archive that fails the check after reloading is not written", "[export]") {
  wtp::test::TempDir dir;
  wtp::models::EmbeddingModel model(
      std::shared_ptr<wtp::models::EmbeddingModelImpl>(std::make_shared<BakedBatchImpl>()));
  ex::ExportOptions options;
  CHECK_THROWS_WITH(
      ex::export_model(model, (dir / "baked.ts").string(), options),
      Contains("export check of forward (batch 1)") && Contains("reloaded archive fails"));
  CHECK_FALSE(fs::exists(dir / "baked.ts"));
  CHECK_FALSE(fs::exists(dir / "baked.ts.tmp"));
  // Outputs that differ from the C++ model's: the check fails on the difference.
  wtp::models::EmbeddingModel drifting(
      std::shared_ptr<wtp::models::EmbeddingModelImpl>(std::make_shared<DriftingImpl>()));
  CHECK_THROWS_WITH(ex::export_model(drifting, (dir / "drift.ts").string(), options),
                    Contains("differs from the C++ model"));
  CHECK_FALSE(fs::exists(dir / "drift.ts"));
}

TEST_CASE("MTCNN detector archive (random weights) matches the C++ networks", "[export]") {
  wtp::test::TempDir dir;
  wtp::align::MtcnnNets nets{wtp::align::PNet(), wtp::align::RNet(), wtp::align::ONet()};
  ex::ExportOptions options;
  options.what = ex::ExportKind::kDetector;
  auto report = ex::export_detector(nets, (dir / "mtcnn.ts").string(), options);
  CHECK(report.methods.size() == 6);
  auto loaded = ex::load_exported((dir / "mtcnn.ts").string());
  CHECK(loaded.meta["what"] == "detector");
  CHECK(loaded.meta["input"]["normalization"]["scale"] == 0.0078125);
  torch::NoGradGuard no_grad;
  // P-Net on a size and batch the export never traced.
  const Tensor img = random_u8(2, 37, 29, 5);
  const Tensor x = (img.permute({0, 3, 1, 2}).to(torch::kFloat) - 127.5) * 0.0078125;
  auto [reg, probs] = nets.pnet->forward(x);
  auto p = ex::run_method(loaded.module, "pnet", {x});
  REQUIRE(p.size() == 2);
  CHECK(max_diff(p[0], reg) <= 1e-5);
  CHECK(max_diff(p[1], probs) <= 1e-5);
  auto pu = ex::run_method(loaded.module, "pnet_uint8", {img});
  CHECK(max_diff(pu[1], probs) <= 1e-5);
  const Tensor crops = torch::rand({5, 3, 48, 48}) * 2 - 1;
  auto [oreg, olm, oprobs] = nets.onet->forward(crops);
  auto o = ex::run_method(loaded.module, "onet", {crops});
  REQUIRE(o.size() == 3);
  CHECK(max_diff(o[1], olm) <= 1e-5);
  CHECK(max_diff(o[2], oprobs) <= 1e-5);
}

TEST_CASE("MTCNN detector archive from facenet-pytorch's weights", "[export]") {
  WTP_REQUIRE_SHARED();
  wtp::test::TempDir dir;
  auto nets = wtp::align::load_mtcnn((*wtp::test::shared_dir() / "weights" / "mtcnn").string());
  ex::ExportOptions options;
  options.what = ex::ExportKind::kDetector;
  auto report = ex::export_detector(nets, (dir / "mtcnn.ts").string(), options);
  CHECK(report.max_abs_diff <= 1e-5);
  torch::NoGradGuard no_grad;
  auto loaded = ex::load_exported((dir / "mtcnn.ts").string());
  const Tensor crops = torch::rand({4, 3, 24, 24}) * 2 - 1;
  auto [reg, probs] = nets.rnet->forward(crops);
  auto r = ex::run_method(loaded.module, "rnet", {crops});
  CHECK(max_diff(r[0], reg) <= 1e-5);
  CHECK(max_diff(r[1], probs) <= 1e-5);
}

TEST_CASE("damaged, modified and foreign archives fail with a clear error", "[export]") {
  wtp::test::TempDir dir;
  ex::ExportOptions options;
  ex::export_model(make_model(kSmallCnn), (dir / "m.ts").string(), options);
  const std::string bytes = wtp::test::read_file(dir / "m.ts");
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  };
  CHECK_THROWS_WITH(ex::load_exported(write("truncated.ts", bytes.substr(0, bytes.size() / 2))),
                    Contains("not a readable TorchScript archive"));
  CHECK_THROWS_WITH(ex::load_exported(write("text.ts", "hello")),
                    Contains("not a readable TorchScript archive"));
  CHECK_THROWS_WITH(ex::load_exported((dir / "missing.ts").string()), Contains("does not exist"));
  // One weight byte changed (in the largest record: the first conv/linear weights).
  {
    caffe2::serialize::PyTorchStreamReader reader((dir / "m.ts").string());
    std::string largest;
    std::size_t size = 0;
    for (const auto& name : reader.getAllRecords()) {
      auto [data, n] = reader.getRecord(name);
      if (name.rfind("data/", 0) == 0 && n > size) {
        size = n;
        largest = name;
      }
    }
    const std::size_t offset = reader.getRecordOffset(largest);
    std::string tampered = bytes;
    tampered[offset + 5] = static_cast<char>(tampered[offset + 5] ^ 0x40);
    CHECK_THROWS_WITH(ex::load_exported(write("weights.ts", tampered)),
                      Contains("code or weights do not match"));
  }
  // meta.json edited: "wtp-torchscript" -> "wtp-torchscripT".
  {
    std::string tampered = bytes;
    const auto at = tampered.find("wtp-torchscript");
    REQUIRE(at != std::string::npos);
    tampered[at + 14] = 'T';
    CHECK_THROWS_WITH(ex::load_exported(write("meta.ts", tampered)),
                      Contains("meta.json does not match"));
  }
  // A TorchScript archive that wtp did not write.
  {
    torch::nn::Module plain;
    plain.register_module("linear", torch::nn::Linear(2, 2));
    ex::TracedModule traced(plain, "Plain");
    traced.add_method("forward", {"x"}, {torch::randn({1, 2})}, [&](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{in[0] * 2};
    });
    traced.module().save((dir / "plain.ts").string());
    CHECK_THROWS_WITH(ex::load_exported((dir / "plain.ts").string()),
                      Contains("not written by wtp-export"));
  }
}

TEST_CASE("Python's torch.jit.load reads the archive and computes the same outputs",
          "[export][python]") {
  if (wtp::test::run_command("/usr/bin/python3 -c 'import torch' 2>&1").status != 0) {
    WTP_SKIP("/usr/bin/python3 cannot import torch (install python3-torch)");
  }
  wtp::test::TempDir dir;
  auto model = make_model("{name: bn_inception, input_size: 64, embedding_dim: 16}");
  ex::ExportOptions options;
  ex::export_model(model, (dir / "m.ts").string(), options);
  const Tensor u8 = random_u8(3, 64, 64, 9);
  const Tensor x = pipeline_input(u8, model->input_spec().normalization);
  Tensor expected;
  {
    torch::NoGradGuard no_grad;
    auto e = model->forward(x).embedding;
    expected = e / e.norm(2, 1, true);
  }
  wtp::io::write_npy(dir / "u8.npy", u8);
  wtp::io::write_npy(dir / "x.npy", x);
  wtp::io::write_npy(dir / "expected.npy", expected);
  std::ofstream(dir / "check.py")
      << "import json, sys, numpy, torch\n"
      << "d = sys.argv[1]\n"
      << "files = {'meta.json': ''}\n"
      << "m = torch.jit.load(d + '/m.ts', _extra_files=files)\n"
      << "meta = json.loads(files['meta.json'])\n"
      << "assert meta['input']['height'] == 64, meta\n"
      << "x = torch.from_numpy(numpy.load(d + '/x.npy'))\n"
      << "u8 = torch.from_numpy(numpy.load(d + '/u8.npy'))\n"
      << "expected = torch.from_numpy(numpy.load(d + '/expected.npy'))\n"
      << "with torch.no_grad():\n"
      << "    a = (m(x) - expected).abs().max().item()\n"
      << "    b = (m.forward_uint8(u8) - expected).abs().max().item()\n"
      << "print('max abs', a, b)\n"
      << "sys.exit(0 if max(a, b) <= 1e-5 else 1)\n";
  auto r = wtp::test::run_command("/usr/bin/python3 " + (dir / "check.py").string() + " " +
                                  dir.path().string());
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Contains("max abs"));
}
