// The losses on a cosine head's logits (arcface, cosface, proxy_anchor): hand-computed
// cases, double-precision gradient checks, and the values and gradients that the upstream
// projects' own code computes (tests/losses/reference/upstream_losses.json).
#include <cmath>

#include "catch_torch.h"
#include "core/error.h"
#include "loss_test_support.h"
#include "losses/margin_softmax.h"
#include "losses/proxy_anchor.h"

using namespace wtp::losses;
using Catch::Matchers::Contains;
using wtp::losses::test::cosines;
using wtp::losses::test::gradient_error;
using wtp::losses::test::randn;
using wtp::losses::test::tensor_from_json;
using wtp::losses::test::upstream_cases;

namespace {

// Two samples of class 0 over three classes. Sample 0's target angle is acos(0.8); sample
// 1's target cosine -0.99 lies past cos(pi - 0.5) = -0.8776, where ArcFace falls back.
torch::Tensor hand_cosines() {
  return torch::tensor({0.8, 0.1, -0.3, -0.99, 0.2, 0.5}, torch::kDouble).reshape({2, 3});
}
torch::Tensor hand_labels() { return torch::tensor({0, 0}); }

/// Largest |a - b| / (1 + |b|).
double relative(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / (1 + b.abs())).max().item<double>();
}

/// Our loss on cosines(embeddings, w) against an upstream case: value and both gradients.
template <class Loss>
void check_upstream(const wtp::losses::test::UpstreamCase& c, Loss loss) {
  const auto e = c.embeddings.clone().requires_grad_(true);
  const auto w = c.w.clone().requires_grad_(true);
  const torch::Tensor value = loss(cosines(e, w), c.labels);
  value.backward();
  INFO(c.name << " " << c.options.dump());
  CHECK(value.item<double>() == Approx(c.loss).epsilon(1e-10));
  CHECK(relative(e.grad(), c.grad_embeddings) < 1e-9);
  CHECK(relative(w.grad(), c.grad_w) < 1e-9);
}

}  // namespace

TEST_CASE("arcface: hand-computed logits and loss, fall-back and easy margin",
          "[losses][arcface]") {
  ArcFaceOptions o;
  o.scale = 2;
  o.margin = 0.5;
  // Sample 0: cos(acos(0.8) + 0.5) = 0.8 cos 0.5 - 0.6 sin 0.5 = 0.41441072634977644.
  // Sample 1: past the fall-back point: -0.99 - 0.5 sin 0.5 = -1.2297127693021015.
  const auto logits = arcface_logits(hand_cosines(), hand_labels(), o);
  const auto expected =
      2 *
      torch::tensor({0.41441072634977644, 0.1, -0.3, -1.2297127693021015, 0.2, 0.5}, torch::kDouble)
          .reshape({2, 3});
  CHECK(relative(logits, expected) < 1e-14);
  // Cross-entropy of those logits (computed with python's math): 0.57257 and 3.91701.
  CHECK(arcface(hand_cosines(), hand_labels(), o).item<double>() ==
        Approx(2.244790499063943).epsilon(1e-12));
  o.reduction = Reduction::kNone;
  const auto per = arcface(hand_cosines(), hand_labels(), o);
  CHECK(per[0].item<double>() == Approx(0.5725664117358876).epsilon(1e-12));
  CHECK(per[1].item<double>() == Approx(3.9170145863919985).epsilon(1e-12));
  // Easy margin: sample 1 (cos < 0) keeps its plain cosine -0.99.
  o.reduction = Reduction::kMean;
  o.easy_margin = true;
  CHECK(arcface_logits(hand_cosines(), hand_labels(), o)[1][0].item<double>() == Approx(-1.98));
  CHECK(arcface(hand_cosines(), hand_labels(), o).item<double>() ==
        Approx(2.0111614020727218).epsilon(1e-12));
  // m = 0 is the plain scaled softmax.
  o = ArcFaceOptions{};
  o.margin = 0;
  CHECK(relative(arcface_logits(hand_cosines(), hand_labels(), o), 64 * hand_cosines()) < 1e-12);
}

TEST_CASE("cosface: hand-computed logits and loss", "[losses][cosface]") {
  CosFaceOptions o;
  o.scale = 2;
  o.margin = 0.35;
  const auto expected =
      2 * torch::tensor({0.45, 0.1, -0.3, -1.34, 0.2, 0.5}, torch::kDouble).reshape({2, 3});
  CHECK(relative(cosface_logits(hand_cosines(), hand_labels(), o), expected) < 1e-14);
  CHECK(cosface(hand_cosines(), hand_labels(), o).item<double>() ==
        Approx(2.3379004940533474).epsilon(1e-12));
}

TEST_CASE("proxy_anchor: hand-computed case", "[losses][proxy_anchor]") {
  // Two samples of class 0, two proxies; alpha = 1, margin = 0.1. Only class 0 is present:
  //   positive, proxy 0: log(1 + exp(-(0.5 - 0.1)) + exp(-(0.1 - 0.1))) = 0.98219833
  //   negative, proxy 0: no sample of another class -> log(1) = 0
  //   negative, proxy 1: log(1 + exp(-0.2 + 0.1) + exp(0.3 + 0.1))       = 1.22279322
  //   loss = 0.98219833 / 1 + (0 + 1.22279322) / 2                      = 1.59359494
  const auto cos = torch::tensor({0.5, -0.2, 0.1, 0.3}, torch::kDouble).reshape({2, 2});
  ProxyAnchorOptions o;
  o.alpha = 1;
  o.margin = 0.1;
  CHECK(proxy_anchor_loss(cos, hand_labels(), o).item<double>() ==
        Approx(1.5935949420205868).epsilon(1e-12));
}

TEST_CASE("margin losses: numerical gradients through the cosine head", "[losses][gradcheck]") {
  const auto e = randn({8, 5}, 1);
  const auto w = randn({4, 5}, 2);
  const auto y = torch::tensor({0, 1, 2, 3, 0, 1, 2, 2});
  for (bool easy : {false, true}) {
    ArcFaceOptions o;
    o.scale = 8;
    o.easy_margin = easy;
    CHECK(gradient_error([&](const auto& in) { return arcface(cosines(in[0], in[1]), y, o); },
                         {e, w}) < 1e-6);
  }
  CosFaceOptions c;
  c.scale = 8;
  CHECK(gradient_error([&](const auto& in) { return cosface(cosines(in[0], in[1]), y, c); },
                       {e, w}) < 1e-6);
  ProxyAnchorOptions p;
  p.alpha = 4;
  const auto w6 = randn({6, 5}, 3);  // two proxies without samples
  CHECK(
      gradient_error([&](const auto& in) { return proxy_anchor_loss(cosines(in[0], in[1]), y, p); },
                     {e, w6}) < 1e-6);
}

TEST_CASE("margin losses match pytorch-metric-learning's values and gradients",
          "[losses][upstream]") {
  for (const auto& c : upstream_cases("arcface")) {
    ArcFaceOptions o;
    o.scale = c.options.at("scale");
    o.margin = c.options.at("margin");
    check_upstream(c, [&](const auto& cos, const auto& y) { return arcface(cos, y, o); });
  }
  for (const auto& c : upstream_cases("cosface")) {
    CosFaceOptions o;
    o.scale = c.options.at("scale");
    o.margin = c.options.at("margin");
    check_upstream(c, [&](const auto& cos, const auto& y) { return cosface(cos, y, o); });
  }
  for (const auto& c : upstream_cases("proxy_anchor")) {
    ProxyAnchorOptions o;
    o.alpha = c.options.at("alpha");
    o.margin = c.options.at("margin");
    check_upstream(c, [&](const auto& cos, const auto& y) { return proxy_anchor_loss(cos, y, o); });
  }
}

TEST_CASE("margin logits match insightface's CombinedMarginLoss", "[losses][upstream]") {
  for (const auto& c : wtp::losses::test::upstream_reference().at("insightface_margin_logits")) {
    const auto cos = cosines(tensor_from_json(c.at("embeddings")), tensor_from_json(c.at("w")));
    const auto y = tensor_from_json(c.at("labels")).to(torch::kLong);
    const auto expected = tensor_from_json(c.at("logits"));
    const double m2 = c.at("m2"), m3 = c.at("m3"), scale = c.at("scale");
    if (m3 > 0) {
      CosFaceOptions o;
      o.scale = scale;
      o.margin = m3;
      CHECK(relative(cosface_logits(cos, y, o), expected) < 1e-12);
    } else {
      // insightface's current ArcFace has no fall-back branch: compare where it is not used.
      REQUIRE(cos.gather(1, y.unsqueeze(1)).min().item<double>() > std::cos(M_PI - m2));
      ArcFaceOptions o;
      o.scale = scale;
      o.margin = m2;
      CHECK(relative(arcface_logits(cos, y, o), expected) < 1e-12);
    }
  }
}

TEST_CASE("margin losses refuse logits that are not cosines, and bad options",
          "[losses][arcface]") {
  const auto raw = torch::tensor({3.0, -1.0, 0.5, 0.2}, torch::kDouble).reshape({2, 2});
  CHECK_THROWS_WITH(arcface(raw, hand_labels()), Contains("classifier: cosine"));
  CHECK_THROWS_WITH(cosface(raw, hand_labels()), Contains("not cosines"));
  CHECK_THROWS_WITH(proxy_anchor_loss(raw, hand_labels()), Contains("not cosines"));
  ArcFaceOptions o;
  o.margin = 2;
  CHECK_THROWS_WITH(arcface(hand_cosines(), hand_labels(), o), Contains("margin must be in"));
  CHECK_THROWS_WITH(arcface(hand_cosines(), torch::tensor({0, 3})), Contains("[0, 3)"));
}
