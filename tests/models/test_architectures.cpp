// Forward shapes, exact parameter counts and parameter names of every model, checked
// against the architectures (facenet-pytorch InceptionResnetV1, the Caffe BN-Inception
// port, the old small CNN).
#include <algorithm>
#include <set>

#include "catch_torch.h"
#include "core/config.h"
#include "models/bn_inception.h"
#include "models/heads.h"
#include "models/inception_resnet_v1.h"
#include "models/model_registry.h"
#include "models/siamese_cnn.h"
#include "models/weights.h"

using namespace wtp::models;

namespace {

std::set<std::string> names_of(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& kv : state_dict(m)) out.insert(kv.first);
  return out;
}

std::int64_t conv_bn_count(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw,
                           bool bias) {
  return in * out * kh * kw + (bias ? out : 0) + 2 * out;  // conv (+ bias) + BN affine
}

wtp::config::Component component(const std::string& yaml) {
  return wtp::config::decode_component(wtp::config::parse(yaml, "test"), "model");
}

}  // namespace

TEST_CASE("siamese_cnn: shapes, exact parameter count and names", "[models]") {
  SiameseCnn model;
  // Hand formula: conv 3x3 (+bias), PReLU (1), BN2d (2c) per block; FC with bias, PReLU,
  // BN1d per hidden block; output Linear.
  const std::int64_t convs =
      (3 * 4 * 9 + 4 + 1 + 8) + (4 * 8 * 9 + 8 + 1 + 16) + (8 * 16 * 9 + 16 + 1 + 32);
  const std::int64_t fcs = (4096 * 4096 + 4096 + 1 + 2 * 4096) +
                           (4096 * 2048 + 2048 + 1 + 2 * 2048) + (2048 * 128 + 128);
  CHECK(convs + fcs == 25448165);
  CHECK(parameter_count(*model) == 25448165);

  const auto names = names_of(*model);
  for (const char* n :
       {"cnn.0.weight", "cnn.0.bias", "cnn.2.weight", "cnn.3.running_mean",
        "cnn.3.num_batches_tracked", "cnn.11.running_var", "fc.0.weight", "fc.1.weight",
        "fc.2.running_var", "fc.4.weight", "fc.6.bias", "fc.7.weight", "fc.7.bias"})
    CHECK(names.count(n) == 1);
  CHECK(names.count("fc.3.weight") == 0);  // dropout has no parameters
  // Per block: conv weight/bias, PReLU weight, 5 BN entries; same per hidden FC block.
  CHECK(names.size() == 3 * (2 + 1 + 5) + 2 * (2 + 1 + 5) + 2);

  model->train();
  auto out = model->forward(torch::rand({2, 3, 128, 128}));
  CHECK(out.embedding.sizes() == torch::IntArrayRef({2, 128}));
  CHECK_FALSE(out.logits.defined());
  CHECK(model->input_spec().height == 128);
  CHECK(model->input_spec().normalization == Normalization::kUnit);
  CHECK_THROWS_WITH(model->forward(torch::rand({2, 3, 64, 64})),
                    Catch::Contains("siamese_cnn expects images [N, 3, 128, 128]"));
}

TEST_CASE("siamese_cnn: configurable widths, Xavier-normal gain 2 init, seeded", "[models]") {
  SiameseCnnOptions o;
  o.channels = {2, 3};
  o.input_size = 32;
  o.hidden = {10};
  o.embedding_dim = 5;
  SiameseCnn a(o), b(o);
  // flat = 3 * 8 * 8 = 192
  const std::int64_t expect =
      (3 * 2 * 9 + 2 + 1 + 4) + (2 * 3 * 9 + 3 + 1 + 6) + (192 * 10 + 10 + 1 + 20) + (10 * 5 + 5);
  CHECK(parameter_count(*a) == expect);
  a->eval();
  CHECK(a->forward(torch::rand({3, 3, 32, 32})).embedding.sizes() == torch::IntArrayRef({3, 5}));
  // Same seed, same weights; biases zero.
  auto sa = state_dict(*a), sb = state_dict(*b);
  for (std::size_t i = 0; i < sa.size(); ++i) CHECK(torch::equal(sa[i].second, sb[i].second));
  // Xavier-normal std = gain * sqrt(2 / (fan_in + fan_out)) on a big layer.
  SiameseCnn big;
  auto w = big->named_parameters()["fc.0.weight"];
  const double expected_std = 2.0 * std::sqrt(2.0 / (4096 + 4096));
  CHECK(w.std().item<double>() == Approx(expected_std).epsilon(0.01));
  CHECK(w.mean().item<double>() == Approx(0).margin(1e-3));
  CHECK(big->named_parameters()["fc.0.bias"].abs().sum().item<double>() == 0);
  o.seed = 1;
  SiameseCnn c(o);
  CHECK_FALSE(
      torch::equal(c->named_parameters()["cnn.0.weight"], a->named_parameters()["cnn.0.weight"]));

  SiameseCnnOptions bad;
  bad.input_size = 100;  // not a multiple of 8
  CHECK_THROWS_AS(SiameseCnn(bad), wtp::UsageError);
}

TEST_CASE("inception_resnet_v1: facenet-pytorch parameter count and names", "[models]") {
  InceptionResnetV1 model;
  // From the architecture: BasicConv2d = conv (no bias) + BN affine; residual 1x1 convs
  // with bias; last_linear without bias; last_bn affine.
  auto bc = [](std::int64_t i, std::int64_t o, std::int64_t kh, std::int64_t kw = -1) {
    return conv_bn_count(i, o, kh, kw < 0 ? kh : kw, false);
  };
  const std::int64_t stem = bc(3, 32, 3) + bc(32, 32, 3) + bc(32, 64, 3) + bc(64, 80, 1) +
                            bc(80, 192, 3) + bc(192, 256, 3);
  const std::int64_t b35 = bc(256, 32, 1) + bc(256, 32, 1) + bc(32, 32, 3) + bc(256, 32, 1) +
                           2 * bc(32, 32, 3) + 96 * 256 + 256;
  const std::int64_t m6a = bc(256, 384, 3) + bc(256, 192, 1) + bc(192, 192, 3) + bc(192, 256, 3);
  const std::int64_t b17 =
      2 * bc(896, 128, 1) + bc(128, 128, 1, 7) + bc(128, 128, 7, 1) + 256 * 896 + 896;
  const std::int64_t m7a = 3 * bc(896, 256, 1) + bc(256, 384, 3) + 3 * bc(256, 256, 3);
  const std::int64_t b8 =
      2 * bc(1792, 192, 1) + bc(192, 192, 1, 3) + bc(192, 192, 3, 1) + 384 * 1792 + 1792;
  const std::int64_t head = 1792 * 512 + 2 * 512;
  const std::int64_t expected = stem + 5 * b35 + m6a + 10 * b17 + m7a + 6 * b8 + head;
  CHECK(expected == 23482624);  // facenet-pytorch InceptionResnetV1(classify=False)
  CHECK(parameter_count(*model) == 23482624);

  // Names as in facenet-pytorch's state dict (spot checks across every part).
  const auto names = names_of(*model);
  for (const char* n : {"conv2d_1a.conv.weight",
                        "conv2d_1a.bn.weight",
                        "conv2d_1a.bn.bias",
                        "conv2d_1a.bn.running_mean",
                        "conv2d_1a.bn.running_var",
                        "conv2d_1a.bn.num_batches_tracked",
                        "conv2d_4b.conv.weight",
                        "repeat_1.0.branch0.conv.weight",
                        "repeat_1.0.branch1.1.conv.weight",
                        "repeat_1.4.branch2.2.bn.running_var",
                        "repeat_1.4.conv2d.weight",
                        "repeat_1.4.conv2d.bias",
                        "mixed_6a.branch0.conv.weight",
                        "mixed_6a.branch1.2.bn.weight",
                        "repeat_2.9.branch1.2.conv.weight",
                        "mixed_7a.branch2.2.conv.weight",
                        "repeat_3.4.conv2d.bias",
                        "block8.branch1.2.bn.running_mean",
                        "block8.conv2d.weight",
                        "last_linear.weight",
                        "last_bn.weight",
                        "last_bn.bias",
                        "last_bn.running_mean",
                        "last_bn.running_var"})
    CHECK(names.count(n) == 1);
  CHECK(names.count("last_linear.bias") == 0);
  CHECK(names.count("logits.weight") == 0);
  CHECK(names.count("conv2d_1a.conv.bias") == 0);
  // Parameter tensors: each BasicConv2d 3, residual conv2d 2, last_linear 1, last_bn 2.
  const std::size_t basic_convs = 6 + 5 * 6 + 4 + 10 * 4 + 7 + 6 * 4;
  CHECK(model->parameters().size() == basic_convs * 3 + (5 + 10 + 6) * 2 + 1 + 2);

  model->eval();
  auto out = model->forward(torch::rand({2, 3, 160, 160}) * 2 - 1);
  REQUIRE(out.embedding.sizes() == torch::IntArrayRef({2, 512}));
  CHECK_FALSE(out.logits.defined());
  CHECK(torch::allclose(out.embedding.norm(2, 1), torch::ones({2}), 1e-5, 1e-5));
  CHECK(model->input_spec().normalization == Normalization::kFacenet);
  CHECK(model->input_spec().width == 160);
}

TEST_CASE("inception_resnet_v1: classifier and pooled variants", "[models]") {
  InceptionResnetV1Options o;
  o.num_classes = 8631;
  InceptionResnetV1 classify(o);
  CHECK(parameter_count(*classify) == 23482624 + 512 * 8631 + 8631);
  o.num_classes = 7;
  o.embedding_dim = 0;  // the old BCE Siamese cut: 1792-d pooled features
  o.normalize = false;
  InceptionResnetV1 pooled(o);
  CHECK(pooled->embedding_dim() == 1792);
  CHECK(parameter_count(*pooled) == 23482624 - (1792 * 512 + 2 * 512) + 1792 * 7 + 7);
  pooled->eval();
  auto out = pooled->forward(torch::rand({1, 3, 160, 160}));
  CHECK(out.embedding.sizes() == torch::IntArrayRef({1, 1792}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({1, 7}));
}

TEST_CASE("bn_inception: Caffe-port parameter count, names and outputs", "[models]") {
  BnInception model;
  struct B {
    std::int64_t in, c1, r3, c3, dr, d1, d2, proj;
  };
  const B blocks[] = {
      {192, 64, 64, 64, 64, 96, 96, 32},         {256, 64, 64, 96, 64, 96, 96, 64},
      {320, 0, 128, 160, 64, 96, 96, 0},         {576, 224, 64, 96, 96, 128, 128, 128},
      {576, 192, 96, 128, 96, 128, 128, 128},    {576, 160, 128, 160, 128, 160, 160, 128},
      {608, 96, 128, 192, 160, 192, 192, 128},   {608, 0, 128, 192, 192, 256, 256, 0},
      {1056, 352, 192, 320, 160, 224, 224, 128}, {1024, 352, 192, 320, 192, 224, 224, 128}};
  auto cb = [](std::int64_t i, std::int64_t o, std::int64_t k) {
    return conv_bn_count(i, o, k, k, true);
  };
  std::int64_t expected = cb(3, 64, 7) + cb(64, 64, 1) + cb(64, 192, 3);
  for (const auto& b : blocks) {
    if (b.c1) expected += cb(b.in, b.c1, 1);
    expected += cb(b.in, b.r3, 1) + cb(b.r3, b.c3, 3) + cb(b.in, b.dr, 1) + cb(b.dr, b.d1, 3) +
                cb(b.d1, b.d2, 3);
    if (b.proj) expected += cb(b.in, b.proj, 1);
  }
  CHECK(expected == 10270240);
  CHECK(parameter_count(*model) == 10270240);
  // Each block's output width is the next block's input.
  const std::int64_t widths[] = {256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024};
  for (int i = 0; i < 10; ++i) {
    const auto& b = blocks[i];
    const std::int64_t out = b.c1 + b.c3 + b.d2 + (b.proj ? b.proj : b.in);
    CHECK(out == widths[i]);
    if (i + 1 < 10) CHECK(blocks[i + 1].in == out);
  }

  const auto names = names_of(*model);
  for (const char* n :
       {"conv1_7x7_s2.weight", "conv1_7x7_s2.bias", "conv1_7x7_s2_bn.weight",
        "conv1_7x7_s2_bn.running_var", "conv2_3x3_reduce.weight", "conv2_3x3_bn.bias",
        "inception_3a_1x1.weight", "inception_3a_1x1_bn.running_mean",
        "inception_3a_double_3x3_2_bn.bias", "inception_3a_pool_proj.weight",
        "inception_3c_3x3.weight", "inception_3c_double_3x3_2_bn.weight",
        "inception_4e_double_3x3_reduce.bias", "inception_5b_pool_proj_bn.num_batches_tracked",
        "inception_5b_double_3x3_2.weight"})
    CHECK(names.count(n) == 1);
  for (const char* n : {"inception_3c_1x1.weight", "inception_3c_pool_proj.weight",
                        "inception_4e_1x1.weight", "last_linear.weight", "projection.weight"})
    CHECK(names.count(n) == 0);
  // 3 stem + 10 blocks; 3c/4e have 5 conv units, the others 7; 7 state entries each
  // (conv weight and bias; BN weight, bias, running mean/var, num_batches_tracked).
  CHECK(names.size() == (3 + 8 * 7 + 2 * 5) * 7u);

  // With the ImageNet classifier: 11.3 M as in the published port.
  BnInceptionOptions o;
  o.num_classes = 1000;
  CHECK(parameter_count(*BnInception(o)) == 10270240 + 1024 * 1000 + 1000);
}

TEST_CASE("bn_inception: 224x224 forward gives 1024-d features and logits", "[models]") {
  BnInceptionOptions o;
  o.num_classes = 10;
  o.embedding_dim = 64;  // projection
  o.normalize = true;
  BnInception model(o);
  CHECK(names_of(*model).count("projection.weight") == 1);
  CHECK(parameter_count(*model) == 10270240 + 1024 * 64 + 64 + 64 * 10 + 10);
  model->eval();
  auto images = torch::rand({1, 3, 224, 224}) * 255 - 120;
  auto features = model->features(images);
  CHECK(features.sizes() == torch::IntArrayRef({1, 1024}));
  auto out = model->forward(images);
  CHECK(out.embedding.sizes() == torch::IntArrayRef({1, 64}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({1, 10}));
  CHECK(out.embedding.norm().item<double>() == Approx(1.0).epsilon(1e-5));
  CHECK(model->input_spec().normalization == Normalization::kCaffe);
  CHECK(model->input_spec().color() == ColorOrder::kBgr);
}

TEST_CASE("heads: siamese_bce, embedding_head and liveness", "[models]") {
  const std::string small =
      "{name: siamese_cnn, channels: [2, 2, 2], hidden: [8], embedding_dim: 6, input_size: 16}";
  auto siamese = model_registry().create(component("{name: siamese_bce, backbone: " + small + "}"));
  CHECK(siamese->name() == "siamese_bce");
  CHECK(siamese->has_pair_head());
  CHECK(siamese->embedding_dim() == 1024);
  const auto names = names_of(*siamese);
  for (const char* n :
       {"backbone.cnn.0.weight", "branch.0.weight", "branch.1.weight", "branch.2.running_mean",
        "pair.0.weight", "pair.1.weight", "pair.2.running_var", "pair.4.weight", "pair.4.bias"})
    CHECK(names.count(n) == 1);
  const std::int64_t backbone =
      parameter_count(*std::dynamic_pointer_cast<SiameseBceImpl>(siamese.ptr())->backbone());
  CHECK(parameter_count(*siamese) ==
        backbone + (6 * 1024 + 1024 + 1 + 2 * 1024) + (1024 * 512 + 512 + 1 + 2 * 512) + 513);
  // Frozen backbone by default: only head parameters train.
  CHECK(parameter_count(*siamese, true) == parameter_count(*siamese) - backbone);
  siamese->train();
  auto left = torch::rand({3, 3, 16, 16}), right = torch::rand({3, 3, 16, 16});
  auto logits = std::dynamic_pointer_cast<SiameseBceImpl>(siamese.ptr())->forward_pair(left, right);
  CHECK(logits.sizes() == torch::IntArrayRef({3}));
  // The pair head is symmetric: |a - b| == |b - a|.
  siamese->eval();
  auto e = siamese->forward(torch::cat({left, right})).embedding;
  CHECK(torch::allclose(siamese->pair_logits(e.narrow(0, 0, 3), e.narrow(0, 3, 3)),
                        siamese->pair_logits(e.narrow(0, 3, 3), e.narrow(0, 0, 3))));

  // The old model's cut: 1792-d pooled facenet features into the 1024-wide branch.
  auto old = model_registry().create(
      component("{name: siamese_bce, backbone: {name: inception_resnet_v1, embedding_dim: 0, "
                "normalize: false}}"));
  for (const auto& kv : state_dict(*old))
    if (kv.first == "branch.0.weight") CHECK(kv.second.sizes() == torch::IntArrayRef({1024, 1792}));
  CHECK(names_of(*old).count("backbone.last_linear.weight") == 0);

  auto head =
      model_registry().create(component("{name: embedding_head, backbone: " + small +
                                        ", embedding_dim: 4, num_classes: 3, normalize: true}"));
  head->eval();
  auto out = head->forward(torch::rand({2, 3, 16, 16}));
  CHECK(out.embedding.sizes() == torch::IntArrayRef({2, 4}));
  CHECK(out.logits.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(torch::allclose(out.embedding.norm(2, 1), torch::ones({2})));
  CHECK(head->num_classes() == 3);
  CHECK_THROWS_AS(head->pair_logits(out.embedding, out.embedding), wtp::UsageError);

  // The normalised-weight (cosine) classifier: no bias; logits are the cosines between the
  // embedding and the class centres (rows of classifier.weight), whatever `normalize` says.
  auto cosine =
      model_registry().create(component("{name: embedding_head, backbone: " + small +
                                        ", embedding_dim: 4, num_classes: 3, classifier: cosine}"));
  cosine->eval();
  CHECK(names_of(*cosine).count("classifier.weight") == 1);
  CHECK(names_of(*cosine).count("classifier.bias") == 0);
  const auto co = cosine->forward(torch::rand({2, 3, 16, 16}));
  torch::Tensor centres;
  for (const auto& kv : state_dict(*cosine))
    if (kv.first == "classifier.weight") centres = kv.second;
  const auto expected = (co.embedding / co.embedding.norm(2, 1, true))
                            .matmul((centres / centres.norm(2, 1, true)).t());
  CHECK(torch::allclose(co.logits, expected, 1e-5, 1e-6));
  CHECK(co.logits.abs().max().item<float>() <= 1.0f + 1e-6f);
  CHECK_THROWS_WITH(model_registry().create(component("{name: embedding_head, backbone: " + small +
                                                      ", num_classes: 3, classifier: angular}")),
                    Catch::Matchers::Contains("linear, cosine"));

  auto live = model_registry().create(component("{name: liveness, backbone: " + small + "}"));
  live->train();
  auto lo = live->forward(torch::rand({2, 3, 16, 16}));
  CHECK(lo.logits.sizes() == torch::IntArrayRef({2}));
  CHECK(lo.embedding.sizes() == torch::IntArrayRef({2, 6}));
  CHECK(names_of(*live).count("classifier.weight") == 1);
  CHECK(parameter_count(*live, true) == 6 + 1);
}

TEST_CASE("registry: names, unknown names and strict options", "[models]") {
  const std::vector<std::string> expected = {
      "bn_inception",  "embedding_head", "inception_resnet_v1", "iresnet",    "liveness",
      "mobilefacenet", "resnet",         "siamese_bce",         "siamese_cnn"};
  CHECK(model_registry().names() == expected);
  CHECK_THROWS_WITH(model_registry().create(component("resnet50")),
                    Catch::Contains("unknown model 'resnet50'") && Catch::Contains("bn_inception"));
  CHECK_THROWS_WITH(model_registry().create(component("{name: siamese_cnn, embeding_dim: 3}")),
                    Catch::Contains("embeding_dim"));
  CHECK_THROWS_AS(model_registry().create(component("{name: bn_inception, normalization: yuv}")),
                  wtp::UsageError);
  auto m = model_registry().create(
      component("{name: siamese_cnn, embedding_dim: 32, normalization: imagenet}"));
  CHECK(m->embedding_dim() == 32);
  CHECK(m->input_spec().normalization == Normalization::kImagenet);
  auto resolved = model_registry().resolve(component("siamese_cnn"));
  REQUIRE(resolved.options.find("init_gain") != nullptr);
  CHECK(std::stod(resolved.options.find("init_gain")->text()) == 2.0);
  CHECK(model_registry().describe().find("liveness") != std::string::npos);
  auto head =
      model_registry().resolve(component("{name: liveness, backbone: {name: bn_inception}}"));
  const auto* backbone = head.options.find("backbone");
  REQUIRE(backbone != nullptr);
  CHECK(backbone->find("name")->text() == "bn_inception");
  REQUIRE(backbone->find("bn_momentum") != nullptr);
  CHECK(std::stod(backbone->find("bn_momentum")->text()) == 0.9);
  CHECK(head.options.find("freeze_backbone")->text() == "true");
}

TEST_CASE("preprocess: normalisation presets and channel order", "[models]") {
  // One pixel per channel: R = 1, G = 0.5, B = 0.
  auto x = torch::tensor({1.0f, 0.5f, 0.0f}).view({1, 3, 1, 1});
  auto v = [](const torch::Tensor& t) {
    auto f = t.flatten();
    return std::vector<float>{f[0].item<float>(), f[1].item<float>(), f[2].item<float>()};
  };
  CHECK(torch::equal(preprocess(x, Normalization::kUnit), x));
  auto facenet = v(preprocess(x, Normalization::kFacenet));
  CHECK(facenet[0] == Approx((255 - 127.5) / 128));
  CHECK(facenet[1] == Approx((127.5 - 127.5) / 128).margin(1e-6));
  CHECK(facenet[2] == Approx(-127.5 / 128));
  auto imagenet = v(preprocess(x, Normalization::kImagenet));
  CHECK(imagenet[0] == Approx((1 - 0.485) / 0.229));
  CHECK(imagenet[1] == Approx((0.5 - 0.456) / 0.224));
  CHECK(imagenet[2] == Approx(-0.406 / 0.225));
  auto caffe = v(preprocess(x, Normalization::kCaffe));  // BGR order, 0-255 minus B,G,R means
  CHECK(caffe[0] == Approx(0 - 104.0).margin(1e-4));
  CHECK(caffe[1] == Approx(127.5 - 117.0));
  CHECK(caffe[2] == Approx(255 - 128.0));
  CHECK(preprocess(torch::rand({3, 4, 5}), Normalization::kCaffe).sizes() ==
        torch::IntArrayRef({3, 4, 5}));
  CHECK_THROWS_AS(preprocess(torch::rand({1, 4, 2, 2}), Normalization::kUnit), wtp::UsageError);
}

TEST_CASE("models follow the module's dtype and device", "[models]") {
  SiameseCnnOptions o;
  o.channels = {2};
  o.input_size = 8;
  o.hidden = {4};
  o.embedding_dim = 3;
  auto model = as_embedding_model(SiameseCnn(o));
  model->to(torch::Device(torch::kCPU), torch::kDouble);
  model->train();
  auto x = preprocess(torch::rand({2, 3, 8, 8}, torch::kDouble), model->input_spec().normalization);
  auto out = model->forward(x);
  CHECK(out.embedding.scalar_type() == torch::kDouble);
  for (const auto& kv : state_dict(*model))
    if (kv.first.find("num_batches_tracked") == std::string::npos)
      CHECK(kv.second.scalar_type() == torch::kDouble);
}
