// Freezing: requires_grad off *and* BatchNorm/Dropout of frozen parts kept in eval mode,
// whatever model->train() does (the old code let frozen BN statistics drift).
#include "catch_torch.h"
#include "core/error.h"
#include "models/freeze.h"
#include "models/model_registry.h"
#include "models/siamese_cnn.h"
#include "models/weights.h"

using namespace wtp::models;

namespace {

SiameseCnn small_cnn() {
  SiameseCnnOptions o;
  o.channels = {3, 4};
  o.input_size = 16;
  o.hidden = {12, 10};
  o.embedding_dim = 6;
  o.dropout = 0.5;
  return SiameseCnn(o);
}

/// Copies of every buffer whose name contains `part`.
std::map<std::string, torch::Tensor> buffers_under(const torch::nn::Module& m,
                                                   const std::string& part) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& b : m.named_buffers())
    if (b.key().rfind(part, 0) == 0) out[b.key()] = b.value().clone();
  return out;
}

}  // namespace

TEST_CASE("freeze: frozen BatchNorm statistics do not move in train mode", "[models][freeze]") {
  auto model = small_cnn();
  const int frozen = freeze(*model, {"cnn"});
  CHECK(frozen == 2 * (2 + 1 + 2));  // per block: conv w/b, PReLU, BN w/b
  model->train();                    // must not undo the freeze
  for (const auto& m : model->named_modules("", false)) {
    if (auto* bn = dynamic_cast<FreezableBatchNorm2dImpl*>(m.value().get())) {
      CHECK_FALSE(bn->is_training());
      CHECK(bn->frozen());
    }
  }
  auto before_cnn = buffers_under(*model, "cnn.");
  auto before_fc = buffers_under(*model, "fc.");
  REQUIRE(before_cnn.size() == 2 * 3);  // running mean, var, num_batches_tracked per BN
  auto out = model->forward(torch::rand({4, 3, 16, 16}) * 3 + 1);
  out.embedding.pow(2).sum().backward();

  for (const auto& [name, value] : buffers_under(*model, "cnn."))
    CHECK(torch::equal(value, before_cnn.at(name)));
  int fc_changed = 0;
  for (const auto& [name, value] : buffers_under(*model, "fc."))
    fc_changed += torch::equal(value, before_fc.at(name)) ? 0 : 1;
  CHECK(fc_changed == 2 * 3);  // the trainable part's BN statistics did update

  for (const auto& p : model->named_parameters()) {
    const bool in_cnn = p.key().rfind("cnn.", 0) == 0;
    CHECK(p.value().requires_grad() == !in_cnn);
    CHECK(p.value().grad().defined() == !in_cnn);
  }
  CHECK(trainable_parameters(*model).size() == model->parameters().size() - 10);
  CHECK(parameter_count(*model, true) ==
        parameter_count(*model) - ((3 * 3 * 9 + 3 + 1 + 6) + (3 * 4 * 9 + 4 + 1 + 8)));
}

TEST_CASE("freeze: train() on the frozen layer itself cannot re-enable it", "[models][freeze]") {
  auto model = small_cnn();
  freeze(*model, {"cnn.3"});  // the first block's BatchNorm only
  auto bn = model->named_modules("", false)["cnn.3"];
  bn->train(true);
  CHECK_FALSE(bn->is_training());
  model->train(true);
  CHECK_FALSE(bn->is_training());
  CHECK(model->named_modules("", false)["cnn.7"]->is_training());
}

TEST_CASE("freeze: a fully frozen model computes in train mode what it computes in eval",
          "[models][freeze]") {
  auto model = small_cnn();  // has Dropout(0.5) and BatchNorm
  auto x = torch::rand({3, 3, 16, 16});
  model->eval();
  auto expected = model->forward(x).embedding;
  freeze(*model, {"*"});
  model->train();
  CHECK(torch::equal(model->forward(x).embedding, expected));
  CHECK(trainable_parameters(*model).empty());

  // Unfreezing gives back gradients and training behaviour (batch statistics).
  const int unfrozen = unfreeze(*model, {"*"});
  CHECK(unfrozen == static_cast<int>(model->parameters().size()));
  for (const auto& m : model->modules(false)) CHECK(m->is_training());
  CHECK_FALSE(torch::allclose(model->forward(x).embedding, expected));
}

TEST_CASE("freeze: optimiser steps leave frozen weights unchanged", "[models][freeze]") {
  auto model = small_cnn();
  freeze(*model, {"cnn"});
  model->train();
  auto snapshot = state_dict(*model);
  for (auto& kv : snapshot) kv.second = kv.second.clone();
  torch::optim::SGD sgd(trainable_parameters(*model), torch::optim::SGDOptions(0.1));
  for (int i = 0; i < 3; ++i) {
    sgd.zero_grad();
    model->forward(torch::rand({4, 3, 16, 16})).embedding.pow(2).sum().backward();
    sgd.step();
  }
  const auto now = state_dict(*model);
  for (std::size_t i = 0; i < now.size(); ++i) {
    const bool in_cnn = now[i].first.rfind("cnn.", 0) == 0;
    INFO(now[i].first);
    CHECK(torch::equal(now[i].second, snapshot[i].second) == in_cnn);
  }
}

TEST_CASE("freeze: liveness head keeps its BN-Inception backbone statistics", "[models][freeze]") {
  auto model = model_registry().create(wtp::config::decode_component(
      wtp::config::parse("{name: liveness, backbone: {name: bn_inception, input_size: 64}}", "t"),
      "model"));
  model->train();
  auto before = buffers_under(*model, "backbone.");
  REQUIRE(before.size() == (3 + 8 * 7 + 2 * 5) * 3u);
  auto out = model->forward(torch::rand({2, 3, 64, 64}) * 255 - 120);
  torch::binary_cross_entropy_with_logits(out.logits, torch::tensor({0.0f, 1.0f})).backward();
  for (const auto& [name, value] : buffers_under(*model, "backbone."))
    CHECK(torch::equal(value, before.at(name)));
  for (const auto& p : model->named_parameters())
    CHECK(p.value().grad().defined() == (p.key().rfind("classifier.", 0) == 0));
}

TEST_CASE("freeze: bad parts are clear errors", "[models][freeze]") {
  auto model = small_cnn();
  CHECK_THROWS_WITH(freeze(*model, {"backbone"}),
                    Catch::Contains("no part named 'backbone'") && Catch::Contains("cnn, fc"));
  CHECK_THROWS_AS(freeze(*model, {"cn"}), wtp::UsageError);  // prefixes are whole components

  auto plain = std::make_shared<torch::nn::Module>();
  plain->register_module("bn", torch::nn::BatchNorm1d(3));
  CHECK_THROWS_WITH(freeze(*plain, {"bn"}), Catch::Contains("plain LibTorch BatchNorm"));
}

TEST_CASE("FreezableBatchNorm matches torch::nn::BatchNorm in train and eval modes",
          "[models][freeze]") {
  for (const bool cumulative : {false, true}) {
    INFO("cumulative moving average: " << cumulative);
    auto opts = torch::nn::BatchNormOptions(3).eps(1e-3);
    if (cumulative) opts.momentum(c10::nullopt);
    torch::nn::BatchNorm2d reference(opts);
    FreezableBatchNorm2d ours(opts);
    {
      torch::NoGradGuard no_grad;
      auto w = torch::tensor({0.5f, 1.0f, 2.0f}), b = torch::tensor({0.1f, -0.2f, 0.3f});
      reference->weight.copy_(w), ours->weight.copy_(w);
      reference->bias.copy_(b), ours->bias.copy_(b);
    }
    for (int step = 0; step < 3; ++step) {
      auto x = torch::randn({4, 3, 5, 5}) * (step + 1) + step;
      auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
      auto ya = reference->forward(xa), yb = ours->forward(xb);
      CHECK(torch::allclose(ya, yb, 1e-5, 1e-6));
      (ya * ya).sum().backward();
      (yb * yb).sum().backward();
      CHECK(torch::allclose(xa.grad(), xb.grad(), 1e-4, 1e-5));
      CHECK(torch::allclose(reference->weight.grad(), ours->weight.grad(), 1e-4, 1e-5));
    }
    CHECK(torch::allclose(reference->running_mean, ours->running_mean, 1e-5, 1e-6));
    CHECK(torch::allclose(reference->running_var, ours->running_var, 1e-5, 1e-6));
    CHECK(ours->num_batches_tracked.item<std::int64_t>() == 3);
    reference->eval();
    ours->eval();
    auto x = torch::randn({2, 3, 4, 4});
    CHECK(torch::allclose(reference->forward(x), ours->forward(x), 1e-5, 1e-6));
  }
  FreezableBatchNorm1d bn1(torch::nn::BatchNormOptions(4));
  CHECK(bn1->forward(torch::randn({5, 4})).sizes() == torch::IntArrayRef({5, 4}));
  CHECK_THROWS_WITH(bn1->forward(torch::randn({5, 4, 2, 2})),
                    Catch::Contains("FreezableBatchNorm1d(4): unexpected input shape"));
}
