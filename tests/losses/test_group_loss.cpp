// Group Loss: hand-computed 4-sample cases, an independent loop implementation of the
// official code on random input, gradient checks, reductions, the anchor warning, validation.
#include <cmath>
#include <map>

#include "catch_torch.h"
#include "core/error.h"
#include "core/log.h"
#include "loss_test_support.h"
#include "losses/group_loss.h"

using namespace wtp::losses;
using Catch::Matchers::Contains;
using wtp::losses::test::gradient_error;
using wtp::losses::test::randn;

namespace {

// The 4-sample case. Embeddings, centred by their row means:
//   x0 = ( 1, 0, -1)  mean 0 -> ( 1,  0, -1)
//   x1 = ( 2, 1,  0)  mean 1 -> ( 1,  0, -1)
//   x2 = ( 0, 1, -1)  mean 0 -> ( 0,  1, -1)
//   x3 = ( 1,-1,  0)  mean 0 -> ( 1, -1,  0)
// every centred row has norm sqrt 2, so W_ij = (c_i . c_j) / 2:
//   c0.c1 = 2 -> 1;  c0.c2 = 1 -> 1/2;  c0.c3 = 1 -> 1/2;  c1.c2 = 1 -> 1/2;
//   c1.c3 = 1 -> 1/2;  c2.c3 = -1 -> -1/2 -> ReLU -> 0
//   W = [[1, 1, .5, .5], [1, 1, .5, .5], [.5, .5, 1, 0], [.5, .5, 0, 1]]
torch::Tensor case_embeddings() {
  return torch::tensor({1.0, 0.0, -1.0, 2.0, 1.0, 0.0, 0.0, 1.0, -1.0, 1.0, -1.0, 0.0},
                       torch::kDouble)
      .reshape({4, 3});
}
// Logits with temperature T = 2:
//   z0 = (ln 3, 0)    softmax(z0) = (3/4, 1/4)
//   z1 = (0, 2 ln 3)  softmax(z1) = (1/10, 9/10); prior softmax(z1 / 2) = (1/4, 3/4)
//   z2 = z3 = (0, 0)  softmax = prior = (1/2, 1/2)
torch::Tensor case_logits() {
  const double l3 = std::log(3.0);
  return torch::tensor({l3, 0.0, 0.0, 2 * l3, 0.0, 0.0, 0.0, 0.0}, torch::kDouble).reshape({4, 2});
}
GroupLossOptions case_options(int64_t k, int64_t iterations) {
  GroupLossOptions o;
  o.temperature = 2;
  o.labelled_per_class = k;
  o.iterations = iterations;
  return o;
}
const double kLn2 = std::log(2.0);

// Independent loop implementation of the official code (gtg.py, dynamics.py,
// data_utility.get_labeled_and_unlabeled_points, train.py), plain doubles.
double reference_group_loss(const std::vector<std::vector<double>>& x,
                            const std::vector<std::vector<double>>& z, const std::vector<int>& y,
                            int k, int iterations, double T, double scaling) {
  const size_t n = x.size(), d = x[0].size(), c = z[0].size();
  std::vector<std::vector<double>> cx(n, std::vector<double>(d));
  std::vector<double> norm(n);
  for (size_t i = 0; i < n; ++i) {
    double mean = 0;
    for (double v : x[i]) mean += v / d;
    for (size_t f = 0; f < d; ++f) cx[i][f] = x[i][f] - mean, norm[i] += cx[i][f] * cx[i][f];
    norm[i] = std::sqrt(norm[i]);
  }
  std::vector<std::vector<double>> W(n, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double dot = 0;
      for (size_t f = 0; f < d; ++f) dot += cx[i][f] * cx[j][f];
      W[i][j] = std::max(0.0, dot / (norm[i] * norm[j]));
    }
  std::map<int, int> seen;
  std::vector<std::vector<double>> X(n, std::vector<double>(c));
  for (size_t i = 0; i < n; ++i) {
    if (seen[y[i]] < k) {
      ++seen[y[i]];
      X[i][y[i]] = 1;
    } else {
      double mx = -1e300, s = 0;
      for (double v : z[i]) mx = std::max(mx, v / T);
      for (size_t j = 0; j < c; ++j) s += (X[i][j] = std::exp(z[i][j] / T - mx));
      for (size_t j = 0; j < c; ++j) X[i][j] /= s;
    }
  }
  for (int it = 0; it < iterations; ++it) {
    std::vector<std::vector<double>> next(n, std::vector<double>(c));
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t j = 0; j < c; ++j) {
        double wx = 0;
        for (size_t l = 0; l < n; ++l) wx += W[i][l] * X[l][j];
        s += (next[i][j] = X[i][j] * wx);
      }
      for (size_t j = 0; j < c; ++j) next[i][j] /= s;
    }
    X = next;
  }
  double nll = 0, ce = 0;
  for (size_t i = 0; i < n; ++i) {
    nll += -std::log(X[i][y[i]] + 1e-12) / n;
    double mx = -1e300, s = 0;
    for (double v : z[i]) mx = std::max(mx, v);
    for (double v : z[i]) s += std::exp(v - mx);
    ce += -(z[i][y[i]] - mx - std::log(s)) / n;
  }
  return scaling * nll + ce;
}

std::vector<std::vector<double>> rows(const torch::Tensor& t) {
  std::vector<std::vector<double>> out(t.size(0), std::vector<double>(t.size(1)));
  for (int64_t i = 0; i < t.size(0); ++i)
    for (int64_t j = 0; j < t.size(1); ++j) out[i][j] = t[i][j].item<double>();
  return out;
}

}  // namespace

TEST_CASE("group_loss: Pearson similarity of the 4-sample case", "[losses][group_loss]") {
  const auto W = pearson_similarity(case_embeddings());
  const auto expected = torch::tensor({1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0,
                                       0.5, 0.5, 0.0, 1.0},
                                      torch::kDouble)
                            .reshape({4, 4});
  CHECK(torch::allclose(W, expected, 0, 1e-12));
  // Pearson correlation ignores a per-row shift and a positive per-row scale.
  const auto shifted =
      case_embeddings() * torch::tensor({2.0, 0.5, 3.0, 7.0}, torch::kDouble).unsqueeze(1) + 5;
  CHECK(torch::allclose(pearson_similarity(shifted), expected, 0, 1e-12));
  // A constant row: correlation 0 with the others (documented), diagonal still 1, no NaN.
  auto flat = case_embeddings();
  flat[2] = 4.0;
  const auto Wf = pearson_similarity(flat);
  CHECK(Wf.isfinite().all().item<bool>());
  CHECK(Wf[2].sum().item<double>() == 1.0);
}

TEST_CASE("group_loss: anchors are the first k samples of each class in batch order",
          "[losses][group_loss]") {
  const auto labels = torch::tensor({3, 1, 3, 3, 1, 0, 1});
  auto mask = [&](int64_t k) {
    const auto m = labelled_anchor_mask(labels, k);
    std::vector<int> out;
    for (int64_t i = 0; i < m.size(0); ++i) out.push_back(m[i].item<bool>());
    return out;
  };
  CHECK(mask(0) == std::vector<int>{0, 0, 0, 0, 0, 0, 0});
  CHECK(mask(1) == std::vector<int>{1, 1, 0, 0, 0, 1, 0});
  CHECK(mask(2) == std::vector<int>{1, 1, 1, 0, 1, 1, 0});
  CHECK(mask(3) == std::vector<int>{1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("group_loss: hand-computed 4-sample case, k = 1, 1 and 5 iterations",
          "[losses][group_loss]") {
  // labels (0, 0, 1, 1), k = 1: anchors 0 (class 0) and 2 (class 1).
  //   X0 = [(1, 0), (1/4, 3/4), (0, 1), (1/2, 1/2)]
  // Iteration 1, WX rows:
  //   0: 1(1,0) + 1(1/4,3/4) + 1/2(0,1) + 1/2(1/2,1/2) = (3/2, 3/2)
  //   1: same as row 0                                 = (3/2, 3/2)
  //   2: 1/2(1,0) + 1/2(1/4,3/4) + (0,1)               = (5/8, 11/8)
  //   3: 1/2(1,0) + 1/2(1/4,3/4) + (1/2,1/2)           = (9/8, 7/8)
  //   X * WX, rows normalised: (1,0), (3/8, 9/8)/(3/2) = (1/4, 3/4), (0, 1),
  //   (9/16, 7/16) / 1 = (9/16, 7/16)
  // group = mean(-log(X[i, y_i] + 1e-12)) = (0 + log 4 + 0 - log(7/16)) / 4 = 0.5532432
  // ce    = mean(-log softmax(z)[y]) = (-log 3/4 - log 1/10 + log 2 + log 2) / 4 = 0.9941404
  const auto y = torch::tensor({0, 0, 1, 1});
  const double ce = (-std::log(0.75) - std::log(0.1) + 2 * kLn2) / 4;
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(1, 1));
    const auto X =
        torch::tensor({1.0, 0.0, 0.25, 0.75, 0.0, 1.0, 9.0 / 16, 7.0 / 16}, torch::kDouble)
            .reshape({4, 2});
    CHECK(torch::allclose(t.probabilities, X, 0, 1e-12));
    CHECK(t.group.item<double>() == Approx((std::log(4.0) - std::log(7.0 / 16)) / 4).margin(1e-11));
    CHECK(t.group.item<double>() == Approx(0.5532432).epsilon(1e-6));
    CHECK(t.ce.item<double>() == Approx(ce).epsilon(1e-12));
    CHECK(t.loss.item<double>() == Approx(1.5473836).epsilon(1e-6));
    CHECK_FALSE(t.all_anchors);
  }
  // 5 iterations. With X1 = (a, 1 - a) and X3 = (b, 1 - b) (rows 0 and 2 stay one-hot):
  //   WX row 1 = (1 + a + b/2, 1 - a + 1/2 + (1 - b)/2),  WX row 3 = (1/2 + a/2 + b, (1 - a)/2 + 1
  //   - b) (a, b): (1/4, 1/2) -> (1/4, 9/16) -> (0.2578947, 0.6526718) -> (0.2799895, 0.7702430)
  //          -> (0.3266293, 0.8890898) -> (0.4114712, 0.9652815)   [exact rationals, 5 steps]
  //   group = (0 - log 0.4114712 + 0 - log(1 - 0.9652815)) / 4 = 1.0621249
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(1, 5));
    CHECK(t.probabilities[1][0].item<double>() == Approx(0.4114712466655427).epsilon(1e-12));
    CHECK(t.probabilities[3][0].item<double>() == Approx(0.9652815274666887).epsilon(1e-12));
    CHECK(t.group.item<double>() == Approx(1.0621248799332317).epsilon(1e-10));
    CHECK(t.loss.item<double>() == Approx(2.056265261574661).epsilon(1e-10));
  }
  // 0 iterations: X = X0, group = (log 4 + log 2) / 4.
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(1, 0));
    CHECK(t.group.item<double>() == Approx((std::log(4.0) + kLn2) / 4).margin(1e-11));
  }
}

TEST_CASE("group_loss: hand-computed 4-sample case, k = 2, 1 and 5 iterations",
          "[losses][group_loss]") {
  // labels (0, 0, 0, 1), k = 2: anchors 0, 1 (class 0) and 3 (class 1); sample 2 is
  // unlabelled with prior (1/2, 1/2). Rows of anchors stay one-hot.
  //   WX row 2 = 1/2(1,0) + 1/2(1,0) + 1(p, 1 - p) + 0(0,1) = (1 + p, 1 - p)
  //   p' = p(1 + p) / (p(1 + p) + (1 - p)^2):  p = 1/2 -> 3/4 -> 21/22 -> 0.99889 -> ...
  // 1 iteration: group = -log(3/4) / 4 = 0.0719205
  // ce = (-log 3/4 - log 1/10 + log 2 + log 2) / 4 (labels 0, 0, 0, 1 pick the same entries)
  const auto y = torch::tensor({0, 0, 0, 1});
  const double ce = (-std::log(0.75) - std::log(0.1) + 2 * kLn2) / 4;
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(2, 1));
    CHECK(t.probabilities[2][0].item<double>() == Approx(0.75).epsilon(1e-12));
    CHECK(t.group.item<double>() == Approx(-std::log(0.75) / 4).margin(1e-11));
    CHECK(t.loss.item<double>() == Approx(-std::log(0.75) / 4 + ce).margin(1e-11));
    CHECK_FALSE(t.all_anchors);
  }
  // 5 iterations: p5 = 1 - 1/5325028475404 (exact), so the group term is ~ -log(p5)/4 ~ 0,
  // dominated by the 1e-12 offsets: (3 * -log(1 + 1e-12) - log(p5 + 1e-12)) / 4.
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(2, 5));
    const double p5 = 1 - 1 / 5325028475404.0;
    CHECK(t.probabilities[2][0].item<double>() == Approx(p5).epsilon(1e-14));
    CHECK(t.group.item<double>() ==
          Approx((-3 * std::log1p(1e-12) - std::log(p5 + 1e-12)) / 4).margin(1e-15));
    CHECK(t.loss.item<double>() == Approx(ce).margin(1e-11));
  }
  // Same labels with k = 1: anchors 0 and 3; samples 1 and 2 unlabelled. The exact
  // computation (python fractions) gives X[1][0] = 0.4114712, X[2][0] = 0.9652815 after 5
  // iterations (rows 1 and 2 follow the same recurrence as rows 1 and 3 above, W being
  // symmetric under swapping samples 2 and 3) and group = 0.2308379.
  {
    const auto t = group_loss_terms(case_embeddings(), case_logits(), y, case_options(1, 5));
    CHECK(t.group.item<double>() == Approx(0.2308379044074379).epsilon(1e-10));
  }
}

TEST_CASE("group_loss: every sample an anchor -> constant group term, warned once",
          "[losses][group_loss][warning]") {
  wtp::log::set_level(wtp::log::Level::kInfo);
  const auto y = torch::tensor({0, 0, 1, 1});  // m = 2 per class, k = 2
  GroupLoss module(case_options(2, 1));
  wtp::losses::test::StderrCapture capture;
  const auto t = module->terms(case_embeddings(), case_logits(), y);
  CHECK(t.all_anchors);
  CHECK(t.group.item<double>() == Approx(-std::log1p(1e-12)).margin(1e-15));
  // the group term does not depend on the logits or embeddings at all
  const auto t2 = module->terms(randn({4, 3}, 8), randn({4, 2}, 9), y);
  CHECK(t2.group.item<double>() == t.group.item<double>());
  module(case_embeddings(), case_logits(), y);
  const std::string err = capture.finish();
  CHECK(module->warned());
  CHECK_THAT(err, Contains("every sample of the batch is a labelled anchor"));
  // exactly once
  CHECK(err.find("labelled anchor") == err.rfind("labelled anchor"));
  // a batch with unlabelled samples does not warn
  GroupLoss quiet(case_options(1, 1));
  wtp::losses::test::StderrCapture capture2;
  quiet(case_embeddings(), case_logits(), y);
  CHECK(capture2.finish().empty());
  CHECK_FALSE(quiet->warned());
}

TEST_CASE("group_loss: equals a loop implementation of the official code on random input",
          "[losses][group_loss]") {
  // 4 classes x 5 images, shuffled order; 16-d embeddings, 6 logits (2 classes absent).
  const std::vector<int> labels = {2, 0, 3, 2, 1, 0, 0, 3, 1, 2, 3, 1, 0, 2, 1, 3, 0, 2, 3, 1};
  const auto y = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()));
  for (uint64_t seed = 10; seed < 14; ++seed) {
    const auto x = randn({20, 16}, seed);
    const auto z = randn({20, 6}, seed + 100) * 3;
    for (int k : {0, 1, 2})
      for (int iterations : {1, 5}) {
        GroupLossOptions o;
        o.labelled_per_class = k;
        o.iterations = iterations;
        o.temperature = 12;
        o.scaling = 0.7;
        const double expected =
            reference_group_loss(rows(x), rows(z), labels, k, iterations, 12, 0.7);
        CHECK(group_loss(x, z, y, o).item<double>() == Approx(expected).epsilon(1e-12));
        CHECK(group_loss(x.to(torch::kFloat), z.to(torch::kFloat), y, o).item<float>() ==
              Approx(expected).epsilon(1e-5));
      }
  }
}

TEST_CASE("group_loss: gradient check (double), 1 and 5 iterations",
          "[losses][group_loss][gradient]") {
  // 3 classes x 2 images in mixed order, k = 1: anchors and unlabelled samples both occur.
  const auto y = torch::tensor({2, 0, 1, 0, 2, 1});
  const auto x = randn({6, 5}, 21);
  const auto z = randn({6, 4}, 22);
  {
    // keep clear of ReLU's kink at correlation 0
    const auto centred = x - x.mean(1, true);
    const auto n = centred.norm(2, 1);
    const auto c = centred.mm(centred.t()) / n.unsqueeze(1) / n.unsqueeze(0);
    REQUIRE(c.abs().min().item<double>() > 1e-3);
    // and some correlations are positive off the diagonal, so W couples samples
    REQUIRE((c > 0).sum().item<int64_t>() > 6);
  }
  for (int64_t iterations : {1, 5}) {
    for (auto reduction : {Reduction::kMean, Reduction::kSum}) {
      GroupLossOptions o;
      o.labelled_per_class = 1;
      o.iterations = iterations;
      o.temperature = 2.5;
      o.reduction = reduction;
      const double error =
          gradient_error([&](const auto& in) { return group_loss(in[0], in[1], y, o); }, {x, z});
      INFO("iterations " << iterations << " reduction " << wtp::config::enum_name(reduction));
      CHECK(error < 1e-7);
    }
    // the group term alone, with reduction none through a weighted sum
    GroupLossOptions o;
    o.labelled_per_class = 1;
    o.iterations = iterations;
    o.reduction = Reduction::kNone;
    const auto w = randn({6}, 23);
    CHECK(
        gradient_error(
            [&](const auto& in) { return (group_loss_terms(in[0], in[1], y, o).group * w).sum(); },
            {x, z}) < 1e-7);
  }
  // The embedding gradient is not zero (the group term reaches the embeddings through W).
  auto xg = x.clone().requires_grad_(true);
  GroupLossOptions o;
  o.labelled_per_class = 1;
  group_loss(xg, z, y, o).backward();
  CHECK(xg.grad().abs().max().item<double>() > 1e-4);
}

TEST_CASE("group_loss: reductions", "[losses][group_loss]") {
  const auto y = torch::tensor({0, 1, 0, 1, 2, 2, 0, 1});
  const auto x = randn({8, 6}, 31);
  const auto z = randn({8, 3}, 32);
  GroupLossOptions o;
  o.labelled_per_class = 1;
  o.reduction = Reduction::kNone;
  const auto none = group_loss_terms(x, z, y, o);
  REQUIRE(none.loss.sizes() == at::IntArrayRef({8}));
  CHECK(torch::allclose(none.loss, o.scaling * none.group + none.ce));
  o.reduction = Reduction::kSum;
  CHECK(group_loss(x, z, y, o).item<double>() == Approx(none.loss.sum().item<double>()));
  o.reduction = Reduction::kMean;
  const auto mean = group_loss_terms(x, z, y, o);
  CHECK(mean.loss.dim() == 0);
  CHECK(mean.loss.item<double>() == Approx(none.loss.mean().item<double>()));
  CHECK(mean.group.item<double>() == Approx(none.group.mean().item<double>()));
  CHECK(mean.ce.item<double>() == Approx(none.ce.mean().item<double>()));
  // scaling weighs the group term only
  o.scaling = 0;
  CHECK(group_loss(x, z, y, o).item<double>() == Approx(mean.ce.item<double>()));
}

TEST_CASE("group_loss: validation", "[losses][group_loss][validation]") {
  const auto y = torch::tensor({0, 1, 0, 1});
  CHECK_THROWS_WITH(group_loss(randn({4, 3}, 1), randn({5, 2}, 2), y),
                    Contains("one row per sample"));
  CHECK_THROWS_WITH(group_loss(randn({4, 3}, 1), randn({4, 2}, 2), torch::tensor({0, 1, 2, 1})),
                    Contains("[0, 2)"));
  CHECK_THROWS_WITH(group_loss(randn({4, 3}, 1), randn({4, 2}, 2), torch::tensor({0, 1})),
                    Contains("shape [4]"));
  CHECK_THROWS_WITH(group_loss(randn({4, 1}, 1), randn({4, 2}, 2), y),
                    Contains("at least 2 features"));
  CHECK_THROWS_WITH(group_loss(randn({4, 3}, 1), randn({4, 2}, 2).to(torch::kFloat), y),
                    Contains("same dtype"));
  GroupLossOptions o;
  o.temperature = 0;
  CHECK_THROWS_WITH(GroupLoss(o), Contains("temperature must be > 0"));
  o = {};
  o.iterations = -1;
  CHECK_THROWS_AS(group_loss(randn({4, 3}, 1), randn({4, 2}, 2), y, o), wtp::UsageError);
}

TEST_CASE("group_loss: training free embeddings separates the classes (fixed seed)",
          "[losses][group_loss][convergence]") {
  // 3 classes x 4 samples, free 8-d embeddings and a linear classifier, Adam, 150 steps.
  torch::manual_seed(0);
  const auto y = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
  auto embeddings = randn({12, 8}, 41).to(torch::kFloat).requires_grad_(true);
  auto classifier = (randn({8, 3}, 42) * 0.1).to(torch::kFloat).requires_grad_(true);
  torch::optim::Adam adam({embeddings, classifier}, torch::optim::AdamOptions(0.05));
  GroupLossOptions o;
  o.labelled_per_class = 1;
  o.temperature = 2;
  auto recall_at_1 = [&] {
    torch::NoGradGuard g;
    auto W = pearson_similarity(embeddings) - 2 * torch::eye(12);  // exclude self
    const auto nearest = W.argmax(1);
    return y.index_select(0, nearest).eq(y).to(torch::kFloat).mean().item<float>();
  };
  double first = 0, last = 0, first_group = 0, last_group = 0;
  for (int step = 0; step < 150; ++step) {
    adam.zero_grad();
    const auto t = group_loss_terms(embeddings, embeddings.mm(classifier), y, o);
    t.loss.backward();
    adam.step();
    if (step == 0) first = t.loss.item<double>(), first_group = t.group.item<double>();
    last = t.loss.item<double>(), last_group = t.group.item<double>();
  }
  CHECK(last < 0.1 * first);
  CHECK(last_group < 0.1 * first_group);
  CHECK(recall_at_1() == 1.0f);
}
