// Contrastive, pair BCE and cross-entropy: hand-computed cases, gradient checks, reductions,
// input validation.
#include <cmath>

#include "catch_torch.h"
#include "core/error.h"
#include "loss_test_support.h"
#include "losses/bce_pair.h"
#include "losses/contrastive.h"
#include "losses/cross_entropy.h"

using namespace wtp::losses;
using Catch::Matchers::Contains;
using wtp::losses::test::gradient_error;
using wtp::losses::test::randn;

namespace {
torch::Tensor dbl(std::vector<double> values, std::vector<int64_t> shape) {
  return torch::tensor(values, torch::kDouble).reshape(shape);
}
}  // namespace

// ---------------------------------------------------------------------------------------
// contrastive
// ---------------------------------------------------------------------------------------

TEST_CASE("contrastive: hand-computed case", "[losses][contrastive]") {
  // pair 0: a = (0,0), b = (3,4): d = 5, y = 0 (same)      -> d^2 = 25
  // pair 1: a = b = (1,1):        d = 0, y = 1 (different) -> max(2 - 0, 0)^2 = 4
  //   (with eps = 1e-9: d = sqrt(1e-9) = 3.16e-5, (2 - 3.16e-5)^2 = 3.99987)
  // pair 2: a = (0,0), b = (1,0): d = 1, y = 1             -> (2 - 1)^2 = 1
  // pair 3: a = (0,0), b = (0,3): d = 3, y = 1             -> max(2 - 3, 0)^2 = 0
  //   (eps also moves pair 2 by 1e-9: (2 - sqrt(1 + 1e-9))^2 = 1 - 1e-9; checked exactly below)
  // mean = (25 + 3.99987 + 1 + 0) / 4 = 7.4999684
  const auto a = dbl({0, 0, 1, 1, 0, 0, 0, 0}, {4, 2});
  const auto b = dbl({3, 4, 1, 1, 1, 0, 0, 3}, {4, 2});
  const auto y = torch::tensor({0, 1, 1, 1});
  const double push1 = std::pow(2 - std::sqrt(1e-9), 2);
  const double push2 = std::pow(2 - std::sqrt(1 + 1e-9), 2);
  ContrastiveOptions o;
  CHECK(contrastive(a, b, y, o).item<double>() == Approx((25 + push1 + push2) / 4).epsilon(1e-14));
  CHECK(contrastive(a, b, y, o).item<double>() == Approx(7.4999684).epsilon(1e-8));
  o.reduction = Reduction::kNone;
  const auto per = contrastive(a, b, y, o);
  REQUIRE(per.sizes() == at::IntArrayRef({4}));
  CHECK(per[0].item<double>() == Approx(25));
  CHECK(per[1].item<double>() == Approx(push1));
  CHECK(per[2].item<double>() == Approx(1));
  CHECK(per[3].item<double>() == 0);
  // The old runs' margin, 5: pair 2 -> (5 - 1)^2 = 16, pair 3 -> (5 - 3)^2 = 4.
  o.margin = 5;
  o.reduction = Reduction::kSum;
  const double push5 = std::pow(5 - std::sqrt(1e-9), 2);
  CHECK(contrastive(a, b, y, o).item<double>() == Approx(25 + push5 + 16 + 4));
  // Float input gives the same answer in float, and bool/float labels are accepted.
  o = ContrastiveOptions{};
  CHECK(
      contrastive(a.to(torch::kFloat), b.to(torch::kFloat), y.to(torch::kBool), o).item<float>() ==
      Approx((25 + push1 + 1) / 4).epsilon(1e-6));
  CHECK(contrastive(a, b, y.to(torch::kDouble).unsqueeze(1), o).item<double>() ==
        Approx((25 + push1 + 1) / 4));
}

TEST_CASE("contrastive: gradient check (double) and finite gradient at d = 0",
          "[losses][contrastive][gradient]") {
  const auto a = randn({6, 4}, 1);
  const auto b = randn({6, 4}, 2);
  const auto y = torch::tensor({0, 1, 0, 1, 1, 0});
  ContrastiveOptions o;
  o.margin = 3.5;  // distances of N(0, 2) differences in 4-d: some below, some above 3.5
  {
    torch::NoGradGuard g;
    const auto d = (a - b).pow(2).sum(1).sqrt();
    for (int i = 0; i < 6; ++i) REQUIRE(std::abs(d[i].item<double>() - o.margin) > 1e-3);
    // both sides of the hinge occur among the "different" pairs
    CHECK(d[1].item<double>() < o.margin);
    CHECK((d[3].item<double>() > o.margin || d[4].item<double>() > o.margin));
  }
  for (auto reduction : {Reduction::kMean, Reduction::kSum}) {
    o.reduction = reduction;
    CHECK(gradient_error([&](const auto& in) { return contrastive(in[0], in[1], y, o); }, {a, b}) <
          1e-7);
  }
  // Identical embeddings: the gradient is exactly 0 for both labels (no NaN).
  auto same = a.clone().requires_grad_(true);
  auto other = a.clone().requires_grad_(true);
  const auto loss =
      contrastive(same, other, torch::tensor({0, 1, 0, 1, 1, 0}), ContrastiveOptions{});
  loss.backward();
  CHECK(same.grad().isfinite().all().item<bool>());
  CHECK(same.grad().abs().max().item<double>() == 0);
  CHECK(loss.item<double>() == Approx(3 * std::pow(2 - std::sqrt(1e-9), 2) / 6));
}

TEST_CASE("contrastive: validation", "[losses][contrastive][validation]") {
  const auto a = randn({3, 4}, 1);
  const auto y = torch::tensor({0, 1, 0});
  CHECK_THROWS_WITH(contrastive(a, randn({3, 5}, 2), y), Contains("same shape"));
  CHECK_THROWS_WITH(contrastive(a, randn({3, 4}, 2), torch::tensor({0, 1})), Contains("shape [3]"));
  CHECK_THROWS_WITH(contrastive(a, randn({3, 4}, 2), torch::tensor({0, 2, 1})),
                    Contains("0 (same"));
  CHECK_THROWS_WITH(contrastive(a.reshape({12}), a.reshape({12}), y), Contains("2 dimension"));
  CHECK_THROWS_AS(contrastive(a, a.to(torch::kLong), y), wtp::UsageError);
  ContrastiveOptions bad;
  bad.margin = 0;
  CHECK_THROWS_WITH(Contrastive(bad), Contains("margin must be > 0"));
  bad = {};
  bad.eps = 0;
  CHECK_THROWS_AS(contrastive(a, a, y, bad), wtp::UsageError);
}

// ---------------------------------------------------------------------------------------
// bce_pair
// ---------------------------------------------------------------------------------------

TEST_CASE("bce_pair: hand-computed case, pos_weight, reductions", "[losses][bce_pair]") {
  // z = 0,  y = 1: -log(sigmoid(0)) = log 2 = 0.693147
  // z = ln 3, y = 0: -log(1 - 3/4) = log 4 = 1.386294
  // z = -ln 3, y = 1: -log(1/4) = log 4 = 1.386294
  // mean = (log 2 + 2 log 4) / 3 = 5 log 2 / 3 = 1.155245
  const auto z = torch::tensor({0.0, std::log(3.0), -std::log(3.0)}, torch::kDouble);
  const auto y = torch::tensor({1, 0, 1});
  CHECK(bce_pair(z, y).item<double>() == Approx(5 * std::log(2.0) / 3));
  CHECK(bce_pair(z.unsqueeze(1), y.unsqueeze(1)).item<double>() == Approx(5 * std::log(2.0) / 3));
  // pos_weight 2 doubles the y = 1 terms: (2 log 2 + log 4 + 2 log 4) / 3 = 8 log 2 / 3
  BcePairOptions o;
  o.pos_weight = 2.0;
  CHECK(bce_pair(z, y, o).item<double>() == Approx(8 * std::log(2.0) / 3));
  o.reduction = Reduction::kSum;
  CHECK(bce_pair(z, y, o).item<double>() == Approx(8 * std::log(2.0)));
  o.reduction = Reduction::kNone;
  const auto per = bce_pair(z, y, o);
  REQUIRE(per.sizes() == at::IntArrayRef({3}));
  CHECK(per[0].item<double>() == Approx(2 * std::log(2.0)));
  CHECK(per[1].item<double>() == Approx(std::log(4.0)));
  // Large logits stay finite (computed stably).
  CHECK(
      std::isfinite(bce_pair(torch::tensor({800.0, -800.0}), torch::tensor({0, 1})).item<float>()));
  CHECK(bce_pair(torch::tensor({800.0, -800.0}), torch::tensor({0, 1})).item<float>() ==
        Approx(800));
}

TEST_CASE("bce_pair: gradient check (double)", "[losses][bce_pair][gradient]") {
  const auto z = randn({7}, 3);
  const auto y = torch::tensor({1, 0, 0, 1, 1, 0, 1});
  BcePairOptions o;
  CHECK(gradient_error([&](const auto& in) { return bce_pair(in[0], y, o); }, {z}) < 1e-7);
  o.pos_weight = 3.0;
  o.reduction = Reduction::kSum;
  CHECK(gradient_error([&](const auto& in) { return bce_pair(in[0], y, o); }, {z}) < 1e-7);
}

TEST_CASE("bce_pair: validation", "[losses][bce_pair][validation]") {
  CHECK_THROWS_WITH(bce_pair(randn({3, 2}, 1), torch::tensor({0, 1, 1})), Contains("[B, 1]"));
  CHECK_THROWS_WITH(bce_pair(randn({3}, 1), torch::tensor({0, 1})), Contains("shape [3]"));
  CHECK_THROWS_WITH(bce_pair(randn({2}, 1), torch::tensor({0.5, 1.0})), Contains("0 (same"));
  BcePairOptions o;
  o.pos_weight = -1.0;
  CHECK_THROWS_WITH(BcePair(o), Contains("pos_weight must be > 0"));
}

// ---------------------------------------------------------------------------------------
// cross_entropy
// ---------------------------------------------------------------------------------------

TEST_CASE("cross_entropy: hand-computed case with label smoothing", "[losses][cross_entropy]") {
  // row 0: z = (0, ln 3) -> p = (1/4, 3/4), y = 1: -log(3/4) = 0.287682
  // row 1: z = (0, 0)    -> p = (1/2, 1/2), y = 0: log 2      = 0.693147
  // mean = 0.490415
  const auto z = torch::tensor({0.0, std::log(3.0), 0.0, 0.0}, torch::kDouble).reshape({2, 2});
  const auto y = torch::tensor({1, 0});
  const double l0 = -std::log(0.75), l1 = std::log(2.0);
  CHECK(cross_entropy(z, y).item<double>() == Approx((l0 + l1) / 2));
  // smoothing 0.1: row 0 = 0.9 * 0.287682 + 0.1 * (log 4 + 0.287682) / 2 = 0.342610
  //                row 1 = 0.9 * log 2 + 0.1 * log 2 = log 2
  CrossEntropyOptions o;
  o.label_smoothing = 0.1;
  o.reduction = Reduction::kNone;
  const auto per = cross_entropy(z, y, o);
  CHECK(per[0].item<double>() == Approx(0.9 * l0 + 0.1 * (std::log(4.0) + l0) / 2));
  CHECK(per[0].item<double>() == Approx(0.342610).epsilon(1e-5));
  CHECK(per[1].item<double>() == Approx(l1));
  o.reduction = Reduction::kSum;
  CHECK(cross_entropy(z, y, o).item<double>() == Approx(per.sum().item<double>()));
}

TEST_CASE("cross_entropy: equals LibTorch's cross_entropy on random input",
          "[losses][cross_entropy]") {
  const auto z = randn({9, 5}, 4);
  const auto y = torch::tensor({0, 4, 2, 2, 1, 3, 0, 4, 1});
  for (double eps : {0.0, 0.1, 0.5}) {
    CrossEntropyOptions o;
    o.label_smoothing = eps;
    namespace F = torch::nn::functional;
    const auto expected = F::cross_entropy(z, y, F::CrossEntropyFuncOptions().label_smoothing(eps));
    CHECK(cross_entropy(z, y, o).item<double>() == Approx(expected.item<double>()).epsilon(1e-12));
  }
}

TEST_CASE("cross_entropy: gradient check (double)", "[losses][cross_entropy][gradient]") {
  const auto z = randn({5, 4}, 5);
  const auto y = torch::tensor({3, 0, 1, 1, 2});
  CrossEntropyOptions o;
  o.label_smoothing = 0.2;
  CHECK(gradient_error([&](const auto& in) { return cross_entropy(in[0], y, o); }, {z}) < 1e-7);
  // reduction none: check a random weighted sum
  o.reduction = Reduction::kNone;
  const auto w = randn({5}, 6);
  CHECK(gradient_error([&](const auto& in) { return (cross_entropy(in[0], y, o) * w).sum(); },
                       {z}) < 1e-7);
}

TEST_CASE("cross_entropy: validation", "[losses][cross_entropy][validation]") {
  const auto z = randn({3, 4}, 1);
  CHECK_THROWS_WITH(cross_entropy(z, torch::tensor({0, 1, 4})), Contains("[0, 4)"));
  CHECK_THROWS_WITH(cross_entropy(z, torch::tensor({0, 1})), Contains("shape [3]"));
  CHECK_THROWS_WITH(cross_entropy(z, torch::tensor({0.0, 1.0, 1.0})), Contains("integer"));
  CHECK_THROWS_WITH(cross_entropy(z.reshape({12}), torch::tensor({0})), Contains("2 dimension"));
  CrossEntropyOptions o;
  o.label_smoothing = 1.0;
  CHECK_THROWS_WITH(CrossEntropy(o), Contains("label_smoothing"));
}

TEST_CASE(
    "contrastive: training free embeddings pulls classes together, pushes others past the margin",
    "[losses][contrastive][convergence]") {
  // 3 classes x 3 points in 4-d, every pair once, SGD.
  const std::vector<int64_t> labels = {0, 0, 0, 1, 1, 1, 2, 2, 2};
  std::vector<int64_t> first, second, different;
  for (int64_t i = 0; i < 9; ++i)
    for (int64_t j = i + 1; j < 9; ++j) {
      first.push_back(i);
      second.push_back(j);
      different.push_back(labels[i] != labels[j]);
    }
  const auto i1 = torch::tensor(first), i2 = torch::tensor(second), y = torch::tensor(different);
  auto points = (randn({9, 4}, 51) * 0.1).requires_grad_(true);
  torch::optim::SGD sgd({points}, torch::optim::SGDOptions(0.1));
  ContrastiveOptions o;  // margin 2
  for (int step = 0; step < 600; ++step) {
    sgd.zero_grad();
    contrastive(points.index_select(0, i1), points.index_select(0, i2), y, o).backward();
    sgd.step();
  }
  torch::NoGradGuard g;
  const auto d = (points.index_select(0, i1) - points.index_select(0, i2)).norm(2, 1);
  const auto same = d.masked_select(y.eq(0)), diff = d.masked_select(y.eq(1));
  CHECK(same.max().item<double>() < 0.05);
  CHECK(diff.min().item<double>() > 1.9);
}
